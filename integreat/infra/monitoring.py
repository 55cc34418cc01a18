"""Dashboards and alarms (issue 19): one dashboard and a fixed set of alarms per stage, and
nothing per app. Views of one app or of the busiest apps are queries over the `app` dimension of
the metrics `chalicelib/observability.py` emits (namespace Integreat), so 1,000 apps add nothing
to the template: Metrics Insights (`SELECT ... GROUP BY app ORDER BY ... LIMIT`) ranks every app,
and `SEARCH` over one app, picked with the dashboard's `app` variable, drills into it.

Every alarm notifies (on ALARM and on OK) the stage's topic: `[stages.<stage>] alarm_topic` when
given (stages.py), else `<platform>-<stage>-alarms`, made here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib import observability as names
from integreat.infra.api import FUNCTIONS, PROJECT, Api
from integreat.infra.data import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT, Queues, removal
from integreat.infra.stages import Stage

NAMESPACE = names.METRICS_NAMESPACE
REQUESTS = names.REQUESTS_METRIC  # {stage, app, class}, class 2xx..5xx: every API request
THROTTLES = names.THROTTLES  # {stage, app, limit}, limit requests|storage|events: per-app limits
#: The app metrics of dimensions {stage, app} alone, as the drill-down shows them.
APP_COUNTS = (names.SERVER_ERRORS, names.QUARANTINES, names.DELIVERIES, names.DLQ_ARRIVALS,
              names.REGISTRY_STALE)  # fmt: skip
PERIOD = cdk.Duration.minutes(5)
MINUTE = cdk.Duration.minutes(1)
TOP = 10  # apps in each "top apps" widget
#: Stands for the app in the drill-down's SEARCH expressions; the dashboard's `app` variable (a
#: pattern variable) replaces it with the app picked. Must not occur anywhere else in the body.
APP_PLACEHOLDER = "INTEGREAT_APP"
#: Functions that hold a runtime database connection per instance: the API, the triggers (the
#: registry) and both consumers. The provisioner (operator URL, deploys only) is not counted.
DB_FUNCTIONS = ("api_handler", "pre_sign_up", "post_confirmation", "pre_token_generation",
                "on_storage_event", "on_cross_app_event")  # fmt: skip
CONSUMERS = {"events": "on_cross_app_event", "storage-events": "on_storage_event"}
CONSUMER_ERROR_PERCENT = 5  # failed invocations of a consumer over 5 minutes
API_5XX_PERCENT = 2  # 5xx answers of the API over 5 minutes ...
API_MIN_REQUESTS = 20  # ... once it has had this many requests in them (one 5xx of 3 is noise)
CONNECTION_BUDGET_PERCENT = 80
#: A message that fails every time stays MAX_RECEIVE_COUNT x the visibility timeout (15 minutes)
#: before SQS moves it to the DLQ (that is the DLQ alarm's); older than this, the queue is behind.
QUEUE_AGE_SECONDS = MAX_RECEIVE_COUNT * int(VISIBILITY_TIMEOUT.to_seconds()) + 300


class Monitoring(NamedTuple):
    dashboard: cw.Dashboard
    alarms: dict[str, cw.Alarm]  # by short name, e.g. "dlq-events"
    topic: sns.ITopic


def function_names(api: Api) -> dict[str, str]:
    """{Chalice function name: its Lambda function's name (a token)} for every function."""
    return {name: api.chalice.get_resource(logical).ref for name, (logical, _) in FUNCTIONS.items()}


def monitoring(scope: Construct, stage: Stage, functions: Mapping[str, str], queues: Queues) -> Monitoring:
    """The stage's dashboard `<platform>-<stage>`, its alarms, and the topic they notify.
    `functions`: every function of FUNCTIONS by name, as `function_names` gives them."""
    signals = Signals(stage, functions, queues)
    topic = alarm_topic(scope, stage)
    alarms = {name: _alarm(scope, stage, topic, name, rule) for name, rule in rules(stage, signals).items()}
    dashboard = cw.Dashboard(
        scope, "Dashboard", dashboard_name=stage.prefix, default_interval=cdk.Duration.hours(3),
        variables=[_app_variable(stage)], widgets=_platform_rows(stage, signals, alarms) + _app_rows(stage),
    )  # fmt: skip
    return Monitoring(dashboard, alarms, topic)


def alarm_topic(scope: Construct, stage: Stage) -> sns.ITopic:
    """`alarm_topic` of the stage (imported: a name is in the stack's account), else a new topic,
    TLS only, encrypted with a key of its own: SNS's AWS managed key does not let CloudWatch
    publish (sns-key-management.html, "compatibility with AWS services")."""
    if stage.alarm_topic:
        arn = stage.alarm_topic
        if not arn.startswith("arn:"):
            arn = cdk.Stack.of(scope).format_arn(service="sns", resource=stage.alarm_topic)
        return sns.Topic.from_topic_arn(scope, "AlarmTopic", arn)
    from_alarms = {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                   "ArnLike": {"aws:SourceArn": _alarm_arns(stage)}}  # fmt: skip
    key = kms.Key(
        scope, "AlarmTopicKey", enable_key_rotation=True, removal_policy=removal(stage),
        description=f"Integreat {stage.prefix}: the alarm topic's messages",
    )  # fmt: skip
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarms", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"], conditions=from_alarms,
        )
    )  # fmt: skip
    topic = sns.Topic(
        scope, "AlarmTopic", topic_name=f"{stage.prefix}-alarms", display_name=f"Integreat {stage.prefix} alarms",
        enforce_ssl=True, master_key=key,
    )  # fmt: skip
    # The topic policy replaces SNS's default one: CloudWatch's alarms of this stage may publish.
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarms", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"], resources=[topic.topic_arn], conditions=from_alarms,
        )
    )  # fmt: skip
    return topic


def _alarm_arns(stage: Stage) -> str:
    return f"arn:{cdk.Aws.PARTITION}:cloudwatch:{stage.region}:{cdk.Aws.ACCOUNT_ID}:alarm:{stage.prefix}-*"


class Signals:
    """The metrics and expressions both the alarms and the dashboard use."""

    def __init__(self, stage: Stage, functions: Mapping[str, str], queues: Queues) -> None:
        self.stage = stage
        self.functions = functions
        self.queues = {"events": queues.events, "storage-events": queues.storage}
        self.dlqs = {"events": queues.events_dlq, "storage-events": queues.storage_dlq}
        self.api_dimensions = api_dimensions(stage)

    def api(self, metric: str, statistic: str = "Sum") -> cw.Metric:
        return cw.Metric(namespace="AWS/ApiGateway", metric_name=metric, statistic=statistic,
                         dimensions_map=self.api_dimensions, period=PERIOD, label=f"{metric} {statistic}")  # fmt: skip

    def function(
        self, name: str, metric: str, statistic: str = "Sum", period: cdk.Duration = PERIOD
    ) -> cw.Metric:
        return cw.Metric(namespace="AWS/Lambda", metric_name=metric, statistic=statistic, period=period,
                         dimensions_map={"FunctionName": self.functions[name]}, label=name)  # fmt: skip

    def api_5xx_percent(self) -> cw.MathExpression:
        return cw.MathExpression(
            expression=f"IF(requests >= {API_MIN_REQUESTS}, 100 * errors / requests, 0)",
            using_metrics={"errors": self.api("5XXError"), "requests": self.api("Count")},
            label="API 5xx, % of requests", period=PERIOD,
        )  # fmt: skip

    def consumer_error_percent(self, name: str) -> cw.MathExpression:
        errors, invocations = f"errors_{name}", f"invocations_{name}"  # ids unique in one graph
        return cw.MathExpression(
            expression=f"IF({invocations} > 0, 100 * {errors} / {invocations}, 0)",
            using_metrics={errors: self.function(name, "Errors"), invocations: self.function(name, "Invocations")},
            label=f"{name} errors, % of invocations", period=PERIOD,
        )  # fmt: skip

    def connections(self) -> cw.MathExpression:
        """Connections the functions hold: the sum of each one's peak concurrency per minute (an
        upper bound: the peaks need not coincide) x the pool size of each instance."""
        using = {f"c{i}": self.function(name, "ConcurrentExecutions", "Maximum", MINUTE)
                 for i, name in enumerate(DB_FUNCTIONS)}  # fmt: skip
        total = " + ".join(f"FILL({key}, 0)" for key in using)
        return cw.MathExpression(
            expression=f"{pool_size()} * ({total})", using_metrics=using, period=MINUTE,
            label=f"database connections (budget {self.stage.db_connection_budget})",
        )  # fmt: skip


def api_dimensions(stage: Stage) -> dict[str, str]:
    """API Gateway names a REST API's metrics by its name, which Chalice takes from `app_name`
    (the OpenAPI title), and the stage Chalice deploys (`api_gateway_stage`)."""
    config = _chalice_config()
    return {"ApiName": config["app_name"], "Stage": config["stages"][stage.name]["api_gateway_stage"]}


def pool_size() -> int:
    """INTEGREAT_DB_POOL_SIZE as .chalice/config.json sets it for every function (default 1)."""
    return int(_chalice_config()["environment_variables"].get("INTEGREAT_DB_POOL_SIZE", 1))


def _chalice_config() -> dict[str, Any]:
    return dict(json.loads((PROJECT / ".chalice" / "config.json").read_text()))


class Rule(NamedTuple):
    """One alarm: its metric, when it fires, and why (the alarm's description)."""

    metric: cw.IMetric
    threshold: float
    why: str
    at_least: bool = False  # fires at the threshold itself (>=), not only above it
    periods: int = 1  # consecutive periods that must breach


def rules(stage: Stage, signals: Signals) -> dict[str, Rule]:
    """The stage's alarms by short name (the alarm is `<platform>-<stage>-<name>`)."""
    found: dict[str, Rule] = {}
    for queue, dlq in signals.dlqs.items():
        why = f"A message reached the {queue} DLQ: it failed {MAX_RECEIVE_COUNT} times. Read it, fix the cause, redrive it."
        found[f"dlq-{queue}"] = Rule(_depth(dlq), 1, why, at_least=True)
    for queue, function in CONSUMERS.items():
        why = (f"{function} failed over {CONSUMER_ERROR_PERCENT}% of its invocations in 5 minutes (crashes, timeouts;"
               " failed records of a batch are retried, then reach the DLQ).")  # fmt: skip
        found[f"consumer-errors-{queue}"] = Rule(
            signals.consumer_error_percent(function), CONSUMER_ERROR_PERCENT, why
        )
        why = (f"The oldest message of the {queue} queue waits longer ({QUEUE_AGE_SECONDS} s) than a failing one takes"
               " to reach the DLQ: the consumer is stalled or behind.")  # fmt: skip
        found[f"queue-age-{queue}"] = Rule(_age(signals.queues[queue]), QUEUE_AGE_SECONDS, why)
    why = f"Over {API_5XX_PERCENT}% of the API's answers in 5 minutes were 5xx (once it had {API_MIN_REQUESTS} requests)."
    found["api-5xx"] = Rule(signals.api_5xx_percent(), API_5XX_PERCENT, why)
    why = (f"The functions held {CONNECTION_BUDGET_PERCENT}% or more of db_connection_budget"
           f" ({stage.db_connection_budget}) for 3 minutes: new instances will soon be refused a connection.")  # fmt: skip
    found["db-connections"] = Rule(
        signals.connections(), connection_alert(stage), why, at_least=True, periods=3
    )
    return found


def connection_alert(stage: Stage) -> int:
    return math.ceil(stage.db_connection_budget * CONNECTION_BUDGET_PERCENT / 100)


def _alarm(scope: Construct, stage: Stage, topic: sns.ITopic, name: str, rule: Rule) -> cw.Alarm:
    comparison = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
    if rule.at_least:
        comparison = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    alarm = cw.Alarm(
        scope, "".join(part.title() for part in name.split("-")) + "Alarm", alarm_name=f"{stage.prefix}-{name}",
        metric=rule.metric, threshold=rule.threshold, comparison_operator=comparison, alarm_description=rule.why,
        evaluation_periods=rule.periods, datapoints_to_alarm=rule.periods,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # no traffic, no alarm
    )  # fmt: skip
    alarm.add_alarm_action(actions.SnsAction(topic))
    alarm.add_ok_action(actions.SnsAction(topic))
    return alarm


def _age(queue: sqs.IQueue, label: str | None = None) -> cw.Metric:
    return queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=PERIOD, label=label)


def _depth(queue: sqs.IQueue, label: str | None = None) -> cw.Metric:
    return queue.metric_approximate_number_of_messages_visible(
        statistic="Maximum", period=PERIOD, label=label
    )


def _graph(title: str, metrics: Sequence[cw.IMetric], width: int = 8, **options: Any) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=list(metrics), width=width, height=6, **options)


def _lines(*lines: tuple[float, str]) -> list[cw.HorizontalAnnotation]:
    return [cw.HorizontalAnnotation(value=value, label=label, color=cw.Color.RED) for value, label in lines]


def _text(markdown: str) -> list[cw.IWidget]:
    return [cw.TextWidget(markdown=markdown, width=24, height=2)]


def _platform_rows(stage: Stage, s: Signals, alarms: Mapping[str, cw.Alarm]) -> list[list[cw.IWidget]]:
    faults = [_insights(stage, m) for m in (*APP_COUNTS, names.DENIALS) if m != names.DELIVERIES]
    budget = (stage.db_connection_budget, "db_connection_budget"), (connection_alert(stage), "alarm")
    api: list[cw.IWidget] = [
        _graph("API requests", [s.api("Count"), s.api("4XXError"), s.api("5XXError")]),
        _graph("API latency (ms)", [s.api("Latency", "p50"), s.api("Latency", "p99")]),
        _graph(
            "API 5xx rate (%)", [s.api_5xx_percent()], left_annotations=_lines((API_5XX_PERCENT, "alarm"))
        ),
    ]
    limits: list[cw.IWidget] = [
        _graph("Requests by class, all apps", [_insights(stage, REQUESTS, group="class")]),
        _graph("Refusals by per-app limit, all apps", [_insights(stage, THROTTLES, group="limit")]),
        _graph("Lambda throttles", [s.function(name, "Throttles") for name in FUNCTIONS]),
    ]
    queues: list[cw.IWidget] = [
        _graph("Oldest message age (s)", [_age(q, n) for n, q in s.queues.items()],
               left_annotations=_lines((QUEUE_AGE_SECONDS, "alarm"))),
        _graph("DLQ depth", [_depth(q, f"{n}-dlq") for n, q in s.dlqs.items()]),
        _graph("Consumer error rate (%)", [s.consumer_error_percent(f) for f in CONSUMERS.values()],
               left_annotations=_lines((CONSUMER_ERROR_PERCENT, "alarm"))),
    ]  # fmt: skip
    faults_and_capacity: list[cw.IWidget] = [
        _graph("Lambda errors", [s.function(name, "Errors") for name in FUNCTIONS]),
        _graph("Faults, refusals (left), deliveries (right), all apps", faults,
               right=[_insights(stage, names.DELIVERIES)]),
        _graph("Database connections", [s.connections()], left_annotations=_lines(*budget)),
    ]  # fmt: skip
    status: list[cw.IWidget] = [
        cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms.values()), width=24, height=3)
    ]
    title = f"# Integreat {stage.prefix}\nThe platform, then the apps (pick one with **app** above)."
    return [_text(title), api, limits, queues, faults_and_capacity, status]


def _app_rows(stage: Stage) -> list[list[cw.IWidget]]:
    top: list[cw.IWidget] = [
        _graph(f"Top {TOP} apps by requests", [_top(stage, REQUESTS)], width=6),
        _graph(f"Top {TOP} apps by 5xx", [_top(stage, REQUESTS, "\"class\" = '5xx'")], width=6),
        _graph(f"Top {TOP} apps by refusals (limits)", [_top(stage, THROTTLES)], width=6),
        _graph(f"Top {TOP} apps by denials", [_top(stage, names.DENIALS)], width=6),
    ]
    counts = " OR ".join(f'MetricName="{metric}"' for metric in APP_COUNTS)
    picked: list[cw.IWidget] = [
        _graph("App: requests by class", [_search(stage, f'MetricName="{REQUESTS}"', "class")]),
        _graph("App: refusals by limit", [_search(stage, f'MetricName="{THROTTLES}"', "limit")]),
        _graph("App: denials by reason", [_search(stage, f'MetricName="{names.DENIALS}"', "reason")]),
    ]
    faults: list[cw.IWidget] = [
        _graph("App: faults, quarantines, deliveries", [_search(stage, f"({counts})")], width=24)
    ]
    header = _text("## Apps\nThe busiest apps of the stage, then the app picked with **app** above.")
    return [header, top, picked, faults]


def _insights(stage: Stage, metric: str, group: str | None = None) -> cw.MathExpression:
    """`metric` summed over every app (Metrics Insights reads up to 10,000 series; a SEARCH stops
    at 500, and 1,000 apps x 4 classes of requests are 4,000)."""
    by = f' GROUP BY "{group}"' if group else ""
    return cw.MathExpression(
        expression=f'SELECT SUM({metric}) FROM "{NAMESPACE}" WHERE "stage" = \'{stage.name}\'{by}',
        label="" if group else metric, period=PERIOD,
    )  # fmt: skip


def _top(stage: Stage, metric: str, where: str = "") -> cw.MathExpression:
    """The TOP apps by `metric`, ranked over every app (ORDER BY sorts all the series it reads)."""
    condition = f" AND {where}" if where else ""
    return cw.MathExpression(
        expression=f'SELECT SUM({metric}) FROM "{NAMESPACE}" WHERE "stage" = \'{stage.name}\'{condition}'
        f' GROUP BY "app" ORDER BY SUM() DESC LIMIT {TOP}',
        label="", period=PERIOD,
    )  # fmt: skip


def schema_of(*dimensions: str) -> str:
    """The SEARCH schema of an app metric with `dimensions` besides the ones every count has
    (`chalicelib.observability.count`: stage, app, service); tests check it against real EMF."""
    return "{" + ",".join((NAMESPACE, "app", *dimensions, "service", "stage")) + "}"


def _search(stage: Stage, terms: str, *dimensions: str) -> cw.SearchExpression:
    """One app's series (the placeholder becomes the app picked), one per value of `dimensions`:
    the schema names a metric's whole dimension set, so only metrics of exactly that set match."""
    schema = schema_of(*dimensions)
    expression = f"SEARCH('{schema} {terms} stage=\"{stage.name}\" app=\"{APP_PLACEHOLDER}\"', 'Sum', 300)"
    return cw.SearchExpression(expression=expression, label="", period=PERIOD)


def _app_variable(stage: Stage) -> cw.DashboardVariable:
    """The app picker: the apps that answered requests in this stage, the first one at first."""
    search = f'{schema_of("class")} MetricName="{REQUESTS}" stage="{stage.name}"'
    return cw.DashboardVariable(
        id="app", label="app", type=cw.VariableType.PATTERN, input_type=cw.VariableInputType.SELECT,
        value=APP_PLACEHOLDER, values=cw.Values.from_search(search, "app"), default_value=cw.DefaultValue.FIRST,
    )  # fmt: skip
