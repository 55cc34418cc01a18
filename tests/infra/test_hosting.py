"""Amplify Hosting per app (integreat/infra/hosting.py), on the synthesized stages and on a
1,000-app synthesis: apps and branches in nested stacks, every stack within CloudFormation's
limits, cdk-nag clean, and each app's client id read from the SSM parameter the provisioner
writes, once the provisioner has run."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from chalicelib.tenancy.manifest import parse_manifest
from integreat.infra.hosting import SHARDS, Hosting, shard
from integreat.infra.stages import load_stage
from integreat.outputs import StageValues
from tests.infra.conftest import PROJECT

STAGES = ("dev", "prod")
DEMO = ("church", "events", "students")
MAX_RESOURCES = 500  # CloudFormation's quotas per stack
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200


def _nested(stack: cdk.Stack) -> list[cdk.NestedStack]:
    """The app shards (the console's own nested stack apart: `test_the_console_is_one_amplify_app`)."""
    return [c for c in stack.node.find_all() if isinstance(c, cdk.NestedStack) and c.node.id != "Console"]


def _nag_errors(stack: cdk.Stack) -> list[str]:
    """cdk-nag's errors in `stack` and its nested stacks: a nested stack is no artifact of its
    own, its findings are the root's (see the last test)."""
    found = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    return [f"{e.id}: {str(e.entry.data)[:120]}" for e in found]


@pytest.mark.parametrize("stage", STAGES)
def test_each_demo_app_has_an_amplify_app_and_branch_in_a_nested_stack(
    synthesized: dict[str, Any], stage: str
) -> None:
    root = synthesized[stage]
    assert not Template.from_stack(root.stack).find_resources("AWS::Amplify::App")
    nested = _nested(root.stack)
    assert nested
    assert Template.from_stack(root.stack).find_resources("AWS::CloudFormation::Stack")
    apps: dict[str, Any] = {}
    branches: list[Any] = []
    for child in nested:
        template = Template.from_stack(child)
        apps.update(
            {a["Properties"]["Name"]: a for a in template.find_resources("AWS::Amplify::App").values()}
        )
        branches += template.find_resources("AWS::Amplify::Branch").values()
    assert sorted(apps) == [f"integreat-{stage}-{slug}" for slug in DEMO]
    assert len(branches) == len(DEMO)
    expected = "PRODUCTION" if stage == "prod" else "DEVELOPMENT"
    assert all(b["Properties"]["Stage"] == expected for b in branches)
    # Manual deployments by default: no repository, nothing built on push.
    assert all("Repository" not in a["Properties"] for a in apps.values())
    assert all(b["Properties"]["EnableAutoBuild"] is False for b in branches)
    names = {v["Name"] for a in apps.values() for v in a["Properties"]["EnvironmentVariables"]}
    assert {"AMPLIFY_OUTPUTS", "INTEGREAT_APP", "INTEGREAT_STAGE"} <= names


@pytest.mark.parametrize("stage", STAGES)
def test_the_build_environment_carries_the_apps_own_client(synthesized: dict[str, Any], stage: str) -> None:
    for child in _nested(synthesized[stage].stack):
        template = Template.from_stack(child).to_json()
        for app in template["Resources"].values():
            if app["Type"] != "AWS::Amplify::App":
                continue
            slug = app["Properties"]["Name"].rsplit("-", 1)[1]
            outputs = next(
                v["Value"]
                for v in app["Properties"]["EnvironmentVariables"]
                if v["Name"] == "AMPLIFY_OUTPUTS"
            )
            # The client id is a parameter of the shard that CloudFormation resolves from the
            # app's SSM parameter when the shard deploys; no other app's client is referenced.
            (client,) = [
                name for name, p in template["Parameters"].items()
                if p["Type"] == "AWS::SSM::Parameter::Value<String>"
                and p["Default"] == f"/integreat/{stage}/apps/{slug}/client-id"
            ]  # fmt: skip
            assert {"Ref": client} in outputs["Fn::Join"][1]
            others = [n for n, p in template["Parameters"].items() if "client-id" in str(p.get("Default"))]
            assert not [n for n in others if n != client and n in json.dumps(outputs)]
            # The API's URL arrives as a parameter too: RestAPI is the root stack's resource.
            assert "${RestAPI}" not in json.dumps(outputs)


@pytest.mark.parametrize("stage", STAGES)
def test_no_output_per_app_and_every_shard_waits_for_the_provisioner(
    synthesized: dict[str, Any], stage: str
) -> None:
    root = synthesized[stage]
    assert not [name for name in root.template["Outputs"] if name.startswith("AppClient")]
    shards = [
        r for name, r in root.template["Resources"].items()
        if r["Type"] == "AWS::CloudFormation::Stack" and "Console" not in name  # it reads no client id
    ]  # fmt: skip
    assert shards
    assert all("Apps" in r["DependsOn"] for r in shards)  # the client-id parameters exist by then
    assert [e for e in _nag_errors(root.stack) if "/Frontends/" in e] == []


def _manifest_text(count: int) -> str:
    lines = ['[platform]\nname = "integreat"\nregion = "eu-west-1"\n']
    for i in range(count):
        lines.append(
            f'[apps.app{i:04d}]\nname = "App {i}"\nroles = ["member", "admin"]\n'
            f'[apps.app{i:04d}.storage.folders."uploads/"]\nwrite = "members"\nread = "members"\n'
            f'content_types = ["image/*"]\nmax_size = "1MB"\n'
            f'[apps.app{i:04d}.storage.folders."private/{{user}}/"]\nwrite = "owner"\nread = "admin"\n'
            f'content_types = ["*/*"]\nmax_size = "1MB"\n'
            f'[apps.app{i:04d}.frontend]\norigins = ["https://app{i:04d}.example.org"]\n'
            f'repository = "https://github.com/example/app{i:04d}"\n'
            f'token_secret = "integreat-prod/frontends/app{i:04d}"\ndomain = "app{i:04d}.example.org"\n'
        )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> cdk.Stack:
    """1,000 apps, each at its worst (repository, token secret and a custom domain: 3 resources)."""
    manifest = parse_manifest(_manifest_text(1000))
    out = tmp_path_factory.mktemp("cdk-1000")
    app = cdk.App(outdir=str(out))
    stack = cdk.Stack(app, "Thousand", env=cdk.Environment(region="eu-west-1"))
    provisioned = cdk.CfnResource(
        stack, "Apps", type="Custom::IntegreatApps", properties={"ServiceToken": "arn:x"}
    )
    values = StageValues(
        "prod", stack.region, "eu-west-1_Pool", "integreat-prod-files", "https://api.example/api/", {}
    )
    stage = load_stage("prod", PROJECT / "integreat.toml")
    Hosting(stack, "Hosting", stage, manifest.apps, values, provisioned)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
    return stack


def test_a_thousand_apps_keep_every_stack_within_cloudformation_limits(thousand: cdk.Stack) -> None:
    nested = _nested(thousand)
    assert len(nested) == SHARDS
    counted = 0
    for child in (thousand, *nested):
        template = Template.from_stack(child).to_json()
        resources = template.get("Resources", {})
        assert len(resources) < MAX_RESOURCES, (child.node.id, len(resources))
        assert len(template.get("Parameters", {})) < MAX_PARAMETERS, child.node.id
        assert len(template.get("Outputs", {})) < MAX_OUTPUTS, child.node.id
        counted += sum(r["Type"] == "AWS::Amplify::App" for r in resources.values())
    assert counted == 1000


def test_a_thousand_apps_are_cdk_nag_clean_and_their_tokens_never_inlined(thousand: cdk.Stack) -> None:
    assert _nag_errors(thousand) == []
    first = Template.from_stack(_nested(thousand)[0]).to_json()
    app = next(r for r in first["Resources"].values() if r["Type"] == "AWS::Amplify::App")
    assert app["Properties"]["AccessToken"].startswith("{{resolve:secretsmanager:integreat-prod/frontends/")


def test_an_apps_shard_depends_on_its_slug_only() -> None:
    assert shard("church") == shard("church")
    spread = {shard(f"app{i:04d}") for i in range(1000)}
    assert spread == set(range(SHARDS))


def test_cdk_nag_findings_in_a_nested_stack_reach_the_root(tmp_path: Any) -> None:
    # What the checks above rely on: a non-compliant resource in a nested stack is an error of the
    # root stack (here an SQS queue without DLQ or TLS policy; AwsSolutions has no Amplify rule).
    from aws_cdk import aws_sqs as sqs

    app = cdk.App(outdir=str(tmp_path))
    root = cdk.Stack(app, "Root")
    sqs.Queue(cdk.NestedStack(root, "Shard0"), "Plain")
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
    assert any("/Root/Shard0/Plain/" in e for e in _nag_errors(root))


@pytest.mark.parametrize("stage", STAGES)
def test_the_console_is_one_amplify_app_of_its_own_with_manual_deployments(
    synthesized: dict[str, Any], stage: str
) -> None:
    stack = synthesized[stage].stack
    (console,) = [
        c for c in stack.node.find_all() if isinstance(c, cdk.NestedStack) and c.node.id == "Console"
    ]
    template = Template.from_stack(console)
    (app,) = template.find_resources("AWS::Amplify::App").values()
    (branch,) = template.find_resources("AWS::Amplify::Branch").values()
    assert app["Properties"]["Name"] == f"integreat-{stage}-console"
    assert "Repository" not in app["Properties"]
    assert (
        "EnvironmentVariables" not in app["Properties"]
    )  # its outputs name every app: a file, not a variable
    assert branch["Properties"]["EnableAutoBuild"] is False
