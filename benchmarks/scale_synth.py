"""1,000 apps in one deployment (issue 16): `integreat synth --stage prod` as a user runs it, on a
manifest shaped like the shipped integreat.toml (roles, storage folders, events, a frontend).

- `scale.synth_1000_template_bytes`: the root template (goal < 1,000,000 bytes, CloudFormation's
  limit for a template in S3); `scale.synth_1000_largest_nested_template_bytes`: the largest
  hosting shard's (same limit); `scale.synth_1000_manifest_bytes`: the manifest (an S3 asset, in
  no template); `scale.synth_1000_seconds`: the command's wall time (informational).
- `scale.custom_resource_response_bytes`: what CDK's Provider framework sends CloudFormation when
  the provisioner completes the 1,000 apps (goal <= 4,096, CloudFormation's limit), built as the
  framework builds it; `scale.custom_resource_failure_message_bytes`: the provisioner's message
  when every app fails (it and the stack trace are the failure's reason; informational).

Run alone: `.venv/bin/python -m benchmarks scale_synth`. The synthesis needs Node.js.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APPS = 1000
CELL_CAPACITY = 200
TEMPLATE_LIMIT = 1_000_000
RESPONSE_LIMIT = 4096
GOALS = {
    "scale.synth_1000_template_bytes": ("<=", TEMPLATE_LIMIT - 1),
    "scale.synth_1000_largest_nested_template_bytes": ("<=", TEMPLATE_LIMIT - 1),
    "scale.custom_resource_response_bytes": ("<=", RESPONSE_LIMIT),
}
INFORMATIONAL = {"scale.synth_1000_seconds"}
HEADER = """[platform]
name = "integreat"
region = "eu-west-1"

[stages.prod]
retain = true
bucket_versioning = true
api_concurrency = 50
consumer_concurrency = 5
db_connection_budget = 100
"""
APP = """
[apps.{slug}]
name = "App {n}"
enrollment = "open"
roles = ["member", "volunteer", "admin"]
description = "Directory, rotas and announcements of community {n}."

[apps.{slug}.storage]
max_size = "25MB"
content_types = ["image/*", "application/pdf"]

[apps.{slug}.storage.folders."public/"]
write = "admin"
read = "members"
max_size = "10MB"

[apps.{slug}.storage.folders."uploads/"]
write = ["volunteer", "admin"]
read = "members"
content_types = ["image/*", "application/pdf", "text/plain"]

[apps.{slug}.storage.folders."private/{{user}}/"]
write = "owner"
read = "owner"
content_types = ["*/*"]

[apps.{slug}.events]
publishes = ["{slug}.service.scheduled", "{slug}.service.cancelled"]

[[apps.{slug}.events.subscribes]]
from = "{source}"
types = ["{source}.service.*"]

[apps.{slug}.frontend]
origins = ["https://{slug}.example.org"]
"""


def slug(n: int) -> str:
    return f"app{n:04d}"


def cell_names(count: int = APPS) -> list[str]:
    """The cells that hold `count` apps at the default capacity: `home`, then c1, c2, ..."""
    return ["home"] + [f"c{n}" for n in range(1, -(-count // CELL_CAPACITY))]


def manifest_text(count: int = APPS) -> str:
    """`count` apps over the cells that hold them (200 each, the default: Neon's 500 roles per
    branch never reached), each app subscribing to the one before it (the first to the last)."""
    cells = "".join(
        f"\n[cells.{name}]\ncapacity = {CELL_CAPACITY}\n" + ("home = true\n" if name == "home" else "")
        for name in cell_names(count)
    )
    apps = (APP.format(slug=slug(n), n=n, source=slug((n - 1) % count)) for n in range(count))
    return HEADER + cells + "".join(apps)


def synth(manifest: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`INTEGREAT_MANIFEST=<manifest> integreat synth --stage prod --out <out>`."""
    env = {**os.environ, "INTEGREAT_MANIFEST": str(manifest), "COLUMNS": "250"}
    command = [sys.executable, "-m", "integreat", "synth", "--stage", "prod", "--out", str(out)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def template_sizes(directory: Path) -> dict[str, int]:
    """{file name: bytes} of every template of the assembly (the root and its nested stacks)."""
    return {p.name: p.stat().st_size for p in sorted(directory.glob("*.template.json"))}


def event(manifest_key: str) -> dict[str, Any]:
    """A CloudFormation Create request for the provisioner, sized as a real one."""
    stack = "arn:aws:cloudformation:eu-west-1:123456789012:stack/integreat-prod/5b3c2f10-ad4e-11ef-8f5e-0a1b2c3d4e5f"
    return {
        "RequestType": "Create", "RequestId": "7c1e2d3f-0a1b-4c5d-8e9f-0123456789ab", "StackId": stack,
        "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x",
        "ResourceType": "Custom::IntegreatApps", "LogicalResourceId": "Apps",
        "ResourceProperties": {
            "ManifestBucket": "cdk-hnb659fds-assets-123456789012-eu-west-1", "ManifestKey": manifest_key,
            "Platform": "integreat", "Stage": "prod", "AccountId": "123456789012",
            "UserPoolId": "eu-west-1_AbCdEf123", "Bucket": "integreat-prod-files-123456789012",
        },
    }  # fmt: skip


def framework_response(
    request: Mapping[str, Any], on_event: Mapping[str, Any], complete: Mapping[str, Any]
) -> bytes:
    """The body CDK's Provider framework PUTs to CloudFormation once isComplete says so
    (aws-cdk-lib custom-resources/lib/provider-framework/runtime: framework.js `isComplete`
    merges the answers, cfn-response.js `submitResponse` writes them; NoEcho unset is omitted)."""
    merged = {**request, **on_event, **complete}
    data = {**on_event.get("Data", {}), **complete.get("Data", {})}
    body = {
        "Status": "SUCCESS", "Reason": "SUCCESS", "StackId": merged["StackId"], "RequestId": merged["RequestId"],
        "PhysicalResourceId": merged["PhysicalResourceId"], "LogicalResourceId": merged["LogicalResourceId"],
        "Data": data,
    }  # fmt: skip
    return json.dumps(body, separators=(",", ":")).encode()


class Applied:
    """`chalicelib.provisioning.deploy.Steps` of a deploy where every step succeeds at once."""

    def __init__(self, text: str) -> None:
        from chalicelib.apps.manifest import parse_manifest

        self._manifest = parse_manifest(text, "the benchmark's manifest")

    def manifest(self) -> Any:
        return self._manifest

    def done(self, request: str) -> int:
        return 0

    def record(self, request: str, done: int) -> None:
        return None

    def sync(self, apps: Sequence[Any]) -> Any:
        from chalicelib.provisioning.database import SyncReport

        return SyncReport(active=[app.slug for app in apps])

    def publish(self, slugs: Sequence[str]) -> None:
        return None

    def finish(self, manifest: Any) -> None:
        return None


def response_bytes(text: str, manifest_key: str = "0" * 64 + ".toml") -> int:
    """The success response's size for the apps of `text`, as the provisioner answers them."""
    from chalicelib.provisioning.deploy import advance, physical_id

    request = event(manifest_key)
    on_event = {"PhysicalResourceId": physical_id(request["ResourceProperties"])}
    complete = advance(Applied(text), request["RequestId"], deadline=float("inf"))
    assert complete.get("IsComplete") is True, complete
    return len(framework_response(request, on_event, dict(complete)))


def failure_message_bytes(count: int = APPS) -> int:
    from chalicelib.provisioning.deploy import failure_message

    why = "identity: app client: An error occurred (LimitExceededException) when calling CreateUserPoolClient"
    return len(failure_message({slug(n): why for n in range(count)}, count).encode())


def run() -> dict[str, float | int]:
    if shutil.which("node") is None:
        raise RuntimeError("the CDK needs Node.js (`node` on PATH) to synthesize")
    work = Path(tempfile.mkdtemp(prefix="integreat-bench-scale-"))
    try:
        manifest = work / "integreat.toml"
        manifest.write_text(manifest_text())
        began = time.monotonic()
        done = synth(manifest, work / "cdk.out")
        seconds = time.monotonic() - began
        if done.returncode != 0:
            raise RuntimeError(f"integreat synth failed:\n{done.stdout}\n{done.stderr}")
        sizes = template_sizes(work / "cdk.out" / "prod")
        nested = [size for name, size in sizes.items() if name.endswith(".nested.template.json")]
        return {
            "scale.synth_1000_template_bytes": sizes["prod.template.json"],
            "scale.synth_1000_largest_nested_template_bytes": max(nested),
            "scale.synth_1000_manifest_bytes": manifest.stat().st_size,
            "scale.synth_1000_seconds": round(seconds, 1),
            "scale.custom_resource_response_bytes": response_bytes(manifest.read_text()),
            "scale.custom_resource_failure_message_bytes": failure_message_bytes(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
