"""1,000 apps in one deployment (issue 16), as a user synthesizes them:
`INTEGREAT_MANIFEST=<1,000 apps> integreat synth --stage prod` succeeds, cdk-nag clean, with every
template under CloudFormation's limits, no app in the custom resource's properties, and an answer
to CloudFormation whose size does not depend on the number of apps. The manifest is shaped like
the shipped integreat.toml (benchmarks/scale_synth.py, which reports the same figures)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import aws_cdk as cdk
import pytest

from benchmarks.scale_synth import (
    RESPONSE_LIMIT,
    TEMPLATE_LIMIT,
    failure_message_bytes,
    manifest_text,
    response_bytes,
    synth,
    template_sizes,
)

APPS = 1000
SHARDS = 20  # integreat/infra/hosting.py
#: CloudFormation's quotas per template (cloudformation-limits.html; dynamic-references.html).
MAX_RESOURCES, MAX_PARAMETERS, MAX_OUTPUTS, MAX_DYNAMIC_REFERENCES = 500, 200, 200, 60


class Synthesis(NamedTuple):
    done: subprocess.CompletedProcess[str]
    manifest: Path
    assembly: Path


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    if shutil.which("node") is None:
        pytest.skip("the CDK needs Node.js to synthesize")
    work = tmp_path_factory.mktemp("scale")
    manifest = work / "thousand.toml"
    manifest.write_text(manifest_text(APPS))
    return Synthesis(synth(manifest, work / "cdk.out"), manifest, work / "cdk.out" / "prod")


def _templates(assembly: Path) -> dict[str, dict[str, object]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(assembly.glob("*.template.json"))}


def test_a_thousand_apps_synthesize_from_integreat_manifest_cdk_nag_clean(thousand: Synthesis) -> None:
    done = thousand.done
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert f"(manifest {thousand.manifest})" in done.stdout  # not ./integreat.toml
    assert "cdk-nag" not in done.stderr
    reports = list(thousand.assembly.glob("AwsSolutions-*-NagReport.csv"))
    assert len(reports) == 1 + SHARDS
    rows = [row for report in reports for row in csv.DictReader(report.read_text().splitlines())]
    failing = [
        (row["Rule ID"], row["Resource ID"])
        for row in rows
        if row["Compliance"] == "Non-Compliant" and row["Rule Level"] == "Error"
    ]
    assert len(rows) > 100  # the reports were read: the check would not pass vacuously
    assert failing == []


def test_every_template_stays_within_cloudformations_limits(thousand: Synthesis) -> None:
    sizes = template_sizes(thousand.assembly)
    assert len(sizes) == 1 + SHARDS
    assert max(sizes.values()) < TEMPLATE_LIMIT, sizes
    amplify_apps = 0
    for name, template in _templates(thousand.assembly).items():
        resources = template.get("Resources", {})
        assert isinstance(resources, dict)
        assert len(resources) < MAX_RESOURCES, name
        assert len(template.get("Parameters", {})) < MAX_PARAMETERS, name  # type: ignore[arg-type]
        assert len(template.get("Outputs", {})) < MAX_OUTPUTS, name  # type: ignore[arg-type]
        references = json.dumps(template).count("{{resolve:")
        assert references <= MAX_DYNAMIC_REFERENCES, (name, references)
        amplify_apps += sum(r["Type"] == "AWS::Amplify::App" for r in resources.values())
    assert amplify_apps == APPS


def test_the_manifest_is_an_asset_named_by_its_hash_never_in_a_template(thousand: Synthesis) -> None:
    root = _templates(thousand.assembly)["prod.template.json"]
    resources = root["Resources"]
    assert isinstance(resources, dict)
    (apps,) = [r for r in resources.values() if r["Type"] == "Custom::IntegreatApps"]
    key = apps["Properties"]["ManifestKey"]
    assert key == cdk.FileSystem.fingerprint(str(thousand.manifest)) + ".toml"  # CDK's content hash
    assert (thousand.assembly / f"asset.{key}").read_bytes() == thousand.manifest.read_bytes()
    assert len(json.dumps(apps["Properties"])) < 1000
    outputs = root["Outputs"]
    assert isinstance(outputs, dict)
    assert not [name for name in outputs if "app0" in name.lower()]  # nothing per app


def test_the_answer_to_cloudformation_does_not_grow_with_the_apps() -> None:
    three, thousand = response_bytes(manifest_text(3)), response_bytes(manifest_text(APPS))
    assert thousand <= RESPONSE_LIMIT
    assert thousand - three == len("1000") - len("3")  # the app count's digits, nothing per app
    # A failure's reason is the provisioner's message plus a stack trace: the message is bounded.
    assert failure_message_bytes(APPS) <= 1000
