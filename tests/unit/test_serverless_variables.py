"""Serverless v3 variables and CloudFormation tags, resolved and kept as the Framework would
(serverless v3 lib/configuration/variables/), on configurations written here: no files, no cloud."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from integreat.blueprints.proposal import FLAGGED, UNMAPPED
from integreat.blueprints.sls_intrinsics import Intrinsic, describe, load_yaml
from integreat.blueprints.sls_sources import FromEnvironment, Options
from integreat.blueprints.sls_syntax import VariableSyntaxError, variables
from integreat.blueprints.sls_variables import Resolver, Unresolved


def resolve(text: str, **options: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(the resolved configuration, its notes by key) of YAML `text`."""
    resolver = Resolver(load_yaml(text), Options(**options))
    config = resolver.resolve()
    return config, {note.key: f"{note.kind}: {note.message}" for note in resolver.notes}


@pytest.mark.parametrize(
    ("options", "stage", "region"),
    [({}, "dev", "us-east-1"), ({"stage": "prod", "region": "eu-west-1"}, "prod", "eu-west-1")],
)
def test_stage_and_region_default_as_the_framework_does(
    options: dict[str, str], stage: str, region: str
) -> None:
    config, _ = resolve(
        "a: ${sls:stage}\nb: ${aws:region}\nc: ${opt:stage, 'dev'}-${opt:region, 'none'}\n", **options
    )
    assert (config["a"], config["b"]) == (stage, region)
    assert config["c"] == f"{stage}-{'none' if not options else region}"  # ${opt:...}: only what was given


def test_provider_stage_and_region_are_the_defaults_when_set() -> None:
    config, _ = resolve(
        "provider:\n  stage: ${opt:stage, 'qa'}\n  region: eu-north-1\nname: x-${sls:stage}-${aws:region}\n"
    )
    assert config["name"] == "x-qa-eu-north-1"
    config, _ = resolve("provider:\n  stage: qa\nname: x-${sls:stage}\n", stage="prod")
    assert config["name"] == "x-prod"  # --stage wins over provider.stage


def test_self_references_nest_and_keep_their_type() -> None:
    config, notes = resolve(
        "service: shop\ncustom:\n  dev: {size: 256, tags: [a, b]}\n  size: ${self:custom.${sls:stage}.size}\n"
        "  tags: ${self:custom.dev.tags}\n  label: ${self:service}-${self:custom.size}\n"
    )
    assert config["custom"]["size"] == 256  # one whole variable: the value as it is
    assert config["custom"]["tags"] == ["a", "b"]
    assert config["custom"]["label"] == "shop-256"  # text around it: a string
    assert notes == {}


def test_fallbacks_are_tried_in_order_and_literals_end_them() -> None:
    config, notes = resolve(
        "a: ${self:custom.none, opt:stage, 'plain'}\nb: ${self:custom.none, 3}\nc: ${opt:x, true}\n"
        "d: '${opt:x, \"double quoted\"}'\ne: ${self:custom.none, null, 'last'}\n"
    )
    assert (config["a"], config["b"], config["c"], config["d"]) == ("plain", 3, True, "double quoted")
    assert config["e"] == "last"  # null is "no value": the next source is tried
    assert notes == {}


def test_a_value_with_no_source_left_is_reported_with_its_key() -> None:
    config, notes = resolve("custom:\n  a: ${opt:stage}\n")
    assert isinstance(config["custom"]["a"], Unresolved)
    assert (
        notes["custom.a"]
        == f"{UNMAPPED}: ${{opt:stage}}: no value at the opt source and no fallback; left as written"
    )


def test_environment_values_are_marked_and_secrets_not_shown() -> None:
    environ = {"TABLE": "orders", "API_KEY": "s3cr3t"}
    config, notes = resolve(
        "a: ${env:TABLE}\nb: t-${env:TABLE}\nc: ${env:API_KEY}\nd: ${env:NONE, 'x'}\n", environ=environ
    )
    assert isinstance(config["a"], FromEnvironment)
    assert isinstance(config["b"], FromEnvironment)
    assert config["b"] == "t-orders"
    assert config["b"].names == ("TABLE",)
    assert notes["a"].startswith(
        f"{FLAGGED}: ${{env:TABLE}} = 'orders': this value came from the environment"
    )
    assert "s3cr3t" not in notes["c"]
    assert "withheld" in notes["c"]
    assert "not set where the import ran; its fallback is used" in notes["d"]
    assert config["d"] == "x"
    assert not isinstance(config["d"], FromEnvironment)


def test_a_cycle_is_reported_with_its_keys() -> None:
    config, notes = resolve("custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\n  c: ok\n")
    assert isinstance(config["custom"]["a"], Unresolved)
    assert isinstance(config["custom"]["b"], Unresolved)
    assert "circular reference: custom.a -> custom.b -> custom.a" in notes["custom.b"]
    assert "uses custom.b, which is not resolved" in notes["custom.a"]
    assert config["custom"]["c"] == "ok"


def test_a_value_that_refers_to_its_parent_is_a_cycle() -> None:
    config, notes = resolve("custom:\n  a: ${self:custom}\n")
    assert isinstance(config["custom"]["a"], Unresolved)
    assert "circular reference" in notes["custom.a"]


def test_values_giving_variables_stop_at_the_framework_s_depth() -> None:
    config, notes = resolve(
        "a: ${env:LOOP}\nb: ${env:ONCE}\n", environ={"LOOP": "${env:LOOP}", "ONCE": "${sls:stage}"}
    )
    assert isinstance(config["a"], Unresolved)
    assert "more than 10 levels" in notes["a"]
    assert config["b"] == "dev"  # one level of variables in a value is resolved


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${ssm:/app/key}", "needs AWS Systems Manager parameters"),
        ("${cf:stack.Output}", "needs a deployed CloudFormation stack's outputs"),
        ("${s3:bucket/key}", "needs an object in S3"),
        ("${aws:accountId}", "needs AWS credentials"),
        ("${param:domain}", "needs Serverless Dashboard parameters"),
        ("${git:sha1}", "'git' is a plugin's variable source"),
        ("${sls:instanceId}", "made by each run of the Framework"),
        (
            "${ssm:/app/key, 'fallback'}",
            "needs AWS Systems Manager parameters",
        ),  # as an unknown source: no fallback
        ("${opt:stage, dev}", "quote a string"),  # v3 refuses unquoted string fallbacks
        ("x-${self:custom.map}", "gives a dict inside a string"),
        ("x-${self:custom.ref}", "is !Ref Queue (line 2) inside a string"),
    ],
)
def test_what_needs_the_cloud_a_plugin_or_a_fix_stays_as_written(text: str, reason: str) -> None:
    config, notes = resolve(
        f"custom:\n  ref: !Ref Queue\n  map: {{a: 1}}\n  value: {json.dumps(text)}\n  other: ${{sls:stage}}\n"
    )
    assert config["custom"]["value"] == Unresolved(text, "custom.value", config["custom"]["value"].reason)
    assert reason in notes["custom.value"]
    assert config["custom"]["other"] == "dev"  # one value lost, never the file


def test_cloudformation_placeholders_and_escapes_are_not_variables() -> None:
    config, notes = resolve(
        "a: !Sub 'arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:${Queue.Arn}-${sls:stage}'\nb: '\\${self:x}'\n"
    )
    assert config["a"].argument == "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:${Queue.Arn}-dev"
    assert config["b"] == "${self:x}"
    assert notes == {}


def test_the_parser_reads_sources_params_and_addresses() -> None:
    text = "x-${file(./config/${sls:stage}.yml):a.b, 'd'}-y"
    (found,) = variables(text)
    assert text[found.start : found.end] == found.text == text[2:-2]
    first, fallback = found.sources
    assert (first.type, first.params, first.address) == ("file", ("./config/${sls:stage}.yml",), "a.b")
    assert (fallback.type, fallback.literal) == (None, "d")
    with pytest.raises(VariableSyntaxError, match="missing closing bracket"):
        variables("${self:custom")


YAML_REFERENCES = """\
resources:
  Resources:
    Queue: {Type: AWS::SQS::Queue}
    Topic: {Type: AWS::SNS::Topic}
forms:
  - !Ref Queue
  - !GetAtt Queue.Arn
  - !GetAtt [Topic, TopicName]
  - !Sub 'arn:${AWS::Partition}:sqs:${Queue.QueueName}'
  - !Sub ['${Name}-x', {Name: !Ref Topic}]
  - !Join ['', [!Ref Queue, '-dlq']]
  - !ImportValue shared-arn
  - !Select [0, !GetAZs '']
  - !If [IsProd, !Ref Queue, !Ref 'AWS::NoValue']
  - Ref: Topic
  - Fn::GetAtt: [Queue, Arn]
  - Fn::Sub: 'x-${Topic}'
  - !Equals [a, b]
"""


def test_every_intrinsic_form_becomes_a_reference_with_its_line() -> None:
    data = load_yaml(YAML_REFERENCES)
    forms = data["forms"]
    assert all(isinstance(f, Intrinsic) for f in forms)
    assert [f.line for f in forms] == list(range(6, 19))
    assert [f.function for f in forms] == [
        "Ref", "Fn::GetAtt", "Fn::GetAtt", "Fn::Sub", "Fn::Sub", "Fn::Join", "Fn::ImportValue", "Fn::Select",
        "Fn::If", "Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Equals",
    ]  # fmt: skip
    assert forms[1].argument == ["Queue", "Arn"]  # `A.B` split as the Framework splits it
    assert [f.resources() for f in forms] == [
        ["Queue"], ["Queue"], ["Topic"], ["Queue"], ["Topic"], ["Queue"], [], [], ["Queue"], ["Topic"], ["Queue"],
        ["Topic"], [],
    ]  # fmt: skip
    assert str(forms[5]) == "!Join ['', [!Ref Queue, '-dlq']]"
    assert data["resources"] == {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Topic": {"Type": "AWS::SNS::Topic"}}
    }


def test_a_reference_is_named_by_what_it_points_to() -> None:
    own = {"Queue": "AWS::SQS::Queue"}
    assert describe(Intrinsic("Fn::GetAtt", ["Queue", "Arn"], 7), own) == (
        "the service's own queue Queue (!GetAtt Queue.Arn, line 7)"
    )
    assert describe(Intrinsic("Ref", "Other", 3), own) == (
        "a CloudFormation reference !Ref Other (line 3; Other is not a resource of this service)"
    )


def test_an_unknown_tag_is_a_yaml_error_as_in_the_framework() -> None:
    with pytest.raises(yaml.YAMLError, match="!Custom"):
        load_yaml("a: !Custom x\n")
