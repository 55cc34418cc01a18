"""Dashboards and alarms (issue 19): one dashboard `<platform>-<stage>` and a fixed set of alarms,
each notifying the stage's topic, and nothing per app: a 50-app manifest synthesizes the same
CloudWatch, SNS and KMS resources, and the same dashboard body, as a 3-app one."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks.scale_synth import manifest_text
from integreat.infra.stages import StageError, load_stage
from tests.infra.conftest import PROJECT

STAGES = ("dev", "prod")
ALARMS = ("dlq-events", "dlq-storage-events", "consumer-errors-events", "consumer-errors-storage-events",
          "queue-age-events", "queue-age-storage-events", "api-5xx", "db-connections")  # fmt: skip
#: The functions whose instances each hold a runtime database connection (logical ids).
DB_FUNCTIONS = {"APIHandler", "PreSignUp", "PostConfirmation", "PreTokenGeneration", "OnStorageEvent",
                "OnCrossAppEvent"}  # fmt: skip
MONITORING_TYPES = ("AWS::CloudWatch::", "AWS::SNS::", "AWS::KMS::")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _alarms(template: dict[str, Any]) -> dict[str, Any]:
    """{short name: properties} of every alarm, the name without `integreat-<stage>-`."""
    found = {}
    for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values():
        name = alarm["Properties"]["AlarmName"]
        found[name.split("-", 2)[2]] = alarm["Properties"]
    return found


def _token(value: dict[str, Any]) -> str:
    if "Ref" in value:
        return f"REF:{value['Ref']}"
    if "Fn::GetAtt" in value:
        return "ATT:" + ".".join(value["Fn::GetAtt"])
    return "TOKEN"


def _body_text(template: dict[str, Any]) -> str:
    """The dashboard body with each CloudFormation token written as `REF:<id>` or `ATT:<id>.<attr>`."""
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return "".join(p if isinstance(p, str) else _token(p) for p in parts)


def _body(template: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(_body_text(template)))


def _expressions(widget: dict[str, Any]) -> list[str]:
    rows = widget["properties"].get("metrics", [])
    return [row[-1]["expression"] for row in rows if isinstance(row[-1], dict) and "expression" in row[-1]]


def _widgets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["properties"]["title"]: w for w in _body(template)["widgets"] if "title" in w["properties"]}


# --- the dashboard ------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_one_dashboard_named_for_the_stage_with_the_platform_widgets(
    synthesized: dict[str, Any], stage: str
) -> None:
    template = synthesized[stage].template
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"integreat-{stage}"
    widgets = _widgets(template)
    for title in ("API requests", "API latency (ms)", "API 5xx rate (%)", "Requests by class, all apps",
                  "Refusals by per-app limit, all apps", "Lambda throttles", "Oldest message age (s)", "DLQ depth",
                  "Consumer error rate (%)", "Lambda errors", "Database connections", "Alarms"):  # fmt: skip
        assert title in widgets, title
    latency = {row[-1]["stat"] for row in widgets["API latency (ms)"]["properties"]["metrics"]}
    assert latency == {"p50", "p99"}
    dlqs = {row[3] for row in widgets["DLQ depth"]["properties"]["metrics"]}
    assert {d.removeprefix("ATT:").split(".")[0][:-8] for d in dlqs} == {
        "EventsDlq",
        "StorageEventsDlq",
    }  # ids end in a hash
    connections = widgets["Database connections"]["properties"]
    lines = {a["label"]: a["value"] for a in connections["annotations"]["horizontal"]}
    budget = load_stage(stage, PROJECT / "integreat.toml").db_connection_budget
    assert lines == {"db_connection_budget": budget, "alarm": math.ceil(budget * 0.8)}
    assert set(widgets["Alarms"]["properties"]["alarms"]) == {
        f"ATT:{k}.Arn" for k in _of_type(template, "AWS::CloudWatch::Alarm")
    }


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_widgets_name_the_api_as_api_gateway_reports_it(
    synthesized: dict[str, Any], stage: str
) -> None:
    """API Gateway's metrics carry the REST API's name (the OpenAPI title Chalice writes) and stage."""
    template = synthesized[stage].template
    api = template["Resources"]["RestAPI"]["Properties"]
    requests = _widgets(template)["API requests"]["properties"]["metrics"]
    assert {tuple(row[:6]) for row in requests} == {
        (
            "AWS/ApiGateway",
            metric,
            "ApiName",
            api["DefinitionBody"]["info"]["title"],
            "Stage",
            api["StageName"],
        )
        for metric in ("Count", "4XXError", "5XXError")
    }


@pytest.mark.parametrize("stage", STAGES)
def test_the_busiest_apps_are_ranked_over_every_app(synthesized: dict[str, Any], stage: str) -> None:
    widgets = _widgets(synthesized[stage].template)
    (five_xx,) = _expressions(widgets["Top 10 apps by 5xx"])
    assert five_xx == (
        f'SELECT SUM(Requests) FROM "Integreat" WHERE "stage" = \'{stage}\' AND "class" = \'5xx\''
        ' GROUP BY "app" ORDER BY SUM() DESC LIMIT 10'
    )
    for title, metric in (
        ("requests", "Requests"),
        ("refusals (limits)", "Throttles"),
        ("denials", "Denials"),
    ):
        (query,) = _expressions(widgets[f"Top 10 apps by {title}"])
        assert query.startswith(f'SELECT SUM({metric}) FROM "Integreat" WHERE "stage" = \'{stage}\'')
        assert query.endswith('GROUP BY "app" ORDER BY SUM() DESC LIMIT 10')


@pytest.mark.parametrize("stage", STAGES)
def test_one_app_is_picked_with_the_app_variable_and_drilled_into_by_search(
    synthesized: dict[str, Any], stage: str
) -> None:
    body = _body(synthesized[stage].template)
    (variable,) = body["variables"]
    assert variable == {
        "type": "pattern", "pattern": "INTEGREAT_APP", "inputType": "select", "id": "app", "label": "app",
        "defaultValue": "__FIRST", "populateFrom": "app",
        "search": f'{{Integreat,app,class,service,stage}} MetricName="Requests" stage="{stage}"',
    }  # fmt: skip
    widgets = _widgets(synthesized[stage].template)
    (requests,) = _expressions(widgets["App: requests by class"])
    assert requests == (
        f'SEARCH(\'{{Integreat,app,class,service,stage}} MetricName="Requests" stage="{stage}" app="INTEGREAT_APP"\','
        " 'Sum', 300)"
    )
    for title, schema in (("refusals by limit", "{Integreat,app,limit,service,stage}"),
                          ("denials by reason", "{Integreat,app,reason,service,stage}"),
                          ("faults, quarantines, deliveries", "{Integreat,app,service,stage}")):  # fmt: skip
        (search,) = _expressions(widgets[f"App: {title}"])
        assert search.startswith(f"SEARCH('{schema} ")
        assert f'stage="{stage}" app="INTEGREAT_APP"' in search
    # The placeholder stands for the app in these four expressions and nowhere else in the body.
    text = json.dumps(body["widgets"])
    assert text.count("INTEGREAT_APP") == 4


# --- the alarms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_every_alarm_notifies_the_stage_topic_on_alarm_and_on_ok(
    synthesized: dict[str, Any], stage: str
) -> None:
    template = synthesized[stage].template
    (topic_id, topic), *others = _of_type(template, "AWS::SNS::Topic").items()
    assert others == []
    assert topic["Properties"]["TopicName"] == f"integreat-{stage}-alarms"
    alarms = _alarms(template)
    assert sorted(alarms) == sorted(ALARMS)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["OKActions"] == [{"Ref": topic_id}], name
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert len(alarm["AlarmDescription"]) >= 60, name  # says why, in the notification


@pytest.mark.parametrize("stage", STAGES)
def test_the_topic_we_make_is_tls_only_encrypted_and_open_to_this_stages_alarms(
    synthesized: dict[str, Any], stage: str
) -> None:
    template = synthesized[stage].template
    ((topic_id, topic),) = _of_type(template, "AWS::SNS::Topic").items()
    ((key_id, key),) = _of_type(template, "AWS::KMS::Key").items()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    (policy,) = _of_type(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["AllowPublishThroughSSLOnly"]["Effect"] == "Deny"
    publish = statements["CloudWatchAlarms"]
    assert (publish["Principal"], publish["Action"]) == (
        {"Service": "cloudwatch.amazonaws.com"},
        "sns:Publish",
    )
    assert f":alarm:integreat-{stage}-*" in json.dumps(publish["Condition"]["ArnLike"])
    (decrypt,) = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchAlarms"
    ]
    assert set(decrypt["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


@pytest.mark.parametrize("stage", STAGES)
def test_each_dlq_alarms_at_its_first_message(synthesized: dict[str, Any], stage: str) -> None:
    alarms = _alarms(synthesized[stage].template)
    for name, queue in (("dlq-events", "EventsDlq"), ("dlq-storage-events", "StorageEventsDlq")):
        alarm = alarms[name]
        assert (alarm["MetricName"], alarm["Statistic"]) == ("ApproximateNumberOfMessagesVisible", "Maximum")
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        (dimension,) = alarm["Dimensions"]
        assert dimension["Value"]["Fn::GetAtt"][0].startswith(queue)
        assert not dimension["Value"]["Fn::GetAtt"][0].startswith(queue.replace("Dlq", "Queue"))


@pytest.mark.parametrize("stage", STAGES)
def test_queue_age_alarms_wait_longer_than_a_failing_message_takes_to_reach_the_dlq(
    synthesized: dict[str, Any], stage: str
) -> None:
    from integreat.infra.data import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT

    alarms = _alarms(synthesized[stage].template)
    for name, queue in (
        ("queue-age-events", "EventsQueue"),
        ("queue-age-storage-events", "StorageEventsQueue"),
    ):
        alarm = alarms[name]
        assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
        assert alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0].startswith(queue)
        assert alarm["Threshold"] > MAX_RECEIVE_COUNT * VISIBILITY_TIMEOUT.to_seconds()


def _math(alarm: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """(the alarm's expression, {id: metric stat} of the metrics it reads)."""
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    return expression, {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}


@pytest.mark.parametrize("stage", STAGES)
def test_consumer_error_rates_divide_each_consumers_errors_by_its_invocations(
    synthesized: dict[str, Any], stage: str
) -> None:
    alarms = _alarms(synthesized[stage].template)
    for name, function in (("consumer-errors-events", "OnCrossAppEvent"),
                           ("consumer-errors-storage-events", "OnStorageEvent")):  # fmt: skip
        expression, metrics = _math(alarms[name])
        read = {
            (m["Metric"]["MetricName"], m["Metric"]["Dimensions"][0]["Value"]["Ref"])
            for m in metrics.values()
        }
        assert read == {("Errors", function), ("Invocations", function)}
        errors = next(k for k, m in metrics.items() if m["Metric"]["MetricName"] == "Errors")
        invocations = next(k for k, m in metrics.items() if m["Metric"]["MetricName"] == "Invocations")
        assert f"100 * {errors} / {invocations}" in expression
        assert (alarms[name]["Threshold"], alarms[name]["ComparisonOperator"]) == (5, "GreaterThanThreshold")


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_5xx_rate_is_5xx_over_requests(synthesized: dict[str, Any], stage: str) -> None:
    expression, metrics = _math(_alarms(synthesized[stage].template)["api-5xx"])
    assert {k: m["Metric"]["MetricName"] for k, m in metrics.items()} == {
        "errors": "5XXError",
        "requests": "Count",
    }
    assert all(m["Metric"]["Namespace"] == "AWS/ApiGateway" and m["Stat"] == "Sum" for m in metrics.values())
    assert "100 * errors / requests" in expression


@pytest.mark.parametrize("stage", STAGES)
def test_the_connection_budget_alarm_sums_the_database_functions_concurrency(
    synthesized: dict[str, Any], stage: str
) -> None:
    alarm = _alarms(synthesized[stage].template)["db-connections"]
    expression, metrics = _math(alarm)
    assert {m["Metric"]["Dimensions"][0]["Value"]["Ref"] for m in metrics.values()} == DB_FUNCTIONS
    assert {(m["Metric"]["MetricName"], m["Stat"], m["Period"]) for m in metrics.values()} == {
        ("ConcurrentExecutions", "Maximum", 60)
    }
    assert all(f"FILL({key}, 0)" in expression for key in metrics)  # an idle function counts 0
    pool = json.loads((PROJECT / ".chalice" / "config.json").read_text())["environment_variables"]
    assert expression.startswith(f"{pool['INTEGREAT_DB_POOL_SIZE']} * (")
    budget = load_stage(stage, PROJECT / "integreat.toml").db_connection_budget
    assert alarm["Threshold"] == math.ceil(0.8 * budget)
    assert (alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == ("GreaterThanOrEqualToThreshold", 3)


# --- nothing per app ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_and_fifty(synthesized: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[int, Any]:
    """prod, synthesized from manifests of 3 and of 50 apps shaped like integreat.toml's."""
    from integreat.infra.app import synthesize

    out = tmp_path_factory.mktemp("monitoring-scale")
    done = {}
    for count in (3, 50):
        manifest = out / f"apps-{count}.toml"
        manifest.write_text(manifest_text(count))
        done[count] = synthesize("prod", out / str(count), manifest)
        shutil.rmtree(out / str(count), ignore_errors=True)
    return done


def _monitoring(template: dict[str, Any]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for resource in template["Resources"].values():
        if resource["Type"].startswith(MONITORING_TYPES):
            kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    return kinds


def test_fifty_apps_add_no_alarm_no_topic_and_no_byte_of_dashboard(three_and_fifty: dict[int, Any]) -> None:
    few, many = three_and_fifty[3].template, three_and_fifty[50].template
    assert _monitoring(few) == _monitoring(many) == {
        "AWS::CloudWatch::Dashboard": 1, "AWS::CloudWatch::Alarm": len(ALARMS), "AWS::SNS::Topic": 1,
        "AWS::SNS::TopicPolicy": 1, "AWS::KMS::Key": 1,
    }  # fmt: skip
    assert len(_body_text(few)) == len(_body_text(many))
    assert _body_text(few) == _body_text(many)
    assert "app0001" not in _body_text(many)
    assert [a["AlarmName"] for a in _alarms(few).values()] == [a["AlarmName"] for a in _alarms(many).values()]


# --- alarm_topic --------------------------------------------------------------------------------


def _stage_manifest(tmp_path: Path, line: str) -> Path:
    manifest = tmp_path / "integreat.toml"
    text = (PROJECT / "integreat.toml").read_text().replace("[stages.prod]\n", f"[stages.prod]\n{line}\n", 1)
    manifest.write_text(text)
    return manifest


def _with_topic(tmp_path: Path, line: str) -> dict[str, Any]:
    """The monitoring of prod alone, on a stack of its own (no Chalice package: fast)."""
    import aws_cdk as cdk

    from integreat.infra import data
    from integreat.infra.api import FUNCTIONS
    from integreat.infra.monitoring import monitoring

    if shutil.which("node") is None:
        pytest.skip("the CDK needs Node.js to synthesize")
    stage = load_stage("prod", _stage_manifest(tmp_path, line))
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "prod", env=cdk.Environment(region=stage.region))
    monitoring(stack, stage, {name: f"fn-{name}" for name in FUNCTIONS}, data.queues(stack, stage))
    return dict(app.synth().get_stack_by_name(stack.stack_name).template)


def test_an_alarm_topic_given_by_name_is_the_stacks_accounts_and_none_is_made(tmp_path: Path) -> None:
    template = _with_topic(tmp_path, 'alarm_topic = "ops-pager"')
    assert [
        r for r in template["Resources"].values() if r["Type"].startswith(("AWS::SNS::", "AWS::KMS::"))
    ] == []
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:eu-west-1:", {"Ref": "AWS::AccountId"},
                             ":ops-pager"]]}  # fmt: skip
    alarms = _alarms(template)
    assert sorted(alarms) == sorted(ALARMS)
    assert all(a["AlarmActions"] == [arn] and a["OKActions"] == [arn] for a in alarms.values())


def test_an_alarm_topic_given_by_arn_is_used_as_it_is(tmp_path: Path) -> None:
    arn = "arn:aws:sns:eu-west-1:210987654321:central-alarms"
    template = _with_topic(tmp_path, f'alarm_topic = "{arn}"')
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Topic"]
    assert all(a["AlarmActions"] == [arn] for a in _alarms(template).values())


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('"ops pager"', "must be the name of an existing standard SNS topic"),
        ('"alarms.fifo"', "must be the name of an existing standard SNS topic"),
        ('""', "must be the name of an existing standard SNS topic"),
        ("42", "must be the name of an existing standard SNS topic"),
        ('"arn:aws:sns:eu-west-1:1234:x"', "or its ARN, arn:aws:sns:<region>:<account id>:<name>"),
        ('"arn:aws:sqs:eu-west-1:123456789012:x"', "or its ARN"),
        ('"arn:aws:sns:us-east-1:123456789012:x"', "the topic is in us-east-1 and the stack in eu-west-1"),
    ],
)
def test_a_bad_alarm_topic_is_refused_naming_the_key(tmp_path: Path, value: str, says: str) -> None:
    with pytest.raises(StageError, match=r"^stages\.prod\.alarm_topic: ") as refused:
        load_stage("prod", _stage_manifest(tmp_path, f"alarm_topic = {value}"))
    assert says in str(refused.value)


def test_alarm_topic_is_optional_and_read_per_stage(tmp_path: Path) -> None:
    manifest = _stage_manifest(tmp_path, 'alarm_topic = "ops-pager"')
    assert load_stage("prod", manifest).alarm_topic == "ops-pager"
    assert load_stage("dev", manifest).alarm_topic is None
