"""The synthesized stacks, property by property (aws_cdk.assertions), and cdk-nag on both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from integreat.infra.api import FUNCTIONS
from integreat.infra.data import CONSUMER_TIMEOUT_SECONDS, MAX_RECEIVE_COUNT

STAGES = ("dev", "prod")


def template(synthesized: dict[str, Any], stage: str) -> Template:
    return Template.from_json(synthesized[stage].template)


def resources(synthesized: dict[str, Any], stage: str, kind: str) -> dict[str, Any]:
    return {k: v for k, v in synthesized[stage].template["Resources"].items() if v["Type"] == kind}


def functions(synthesized: dict[str, Any], stage: str) -> dict[str, Any]:
    return resources(synthesized, stage, "AWS::Serverless::Function")


@pytest.mark.parametrize("stage", STAGES)
def test_cdk_nag_finds_no_unsuppressed_error(synthesized: dict[str, Any], stage: str) -> None:
    errors = Annotations.from_stack(synthesized[stage].stack).find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    )
    assert [f"{e.id}: {str(e.entry.data)[:120]}" for e in errors] == []


@pytest.mark.parametrize("stage", STAGES)
def test_every_suppression_gives_a_reason_of_its_own(synthesized: dict[str, Any], stage: str) -> None:
    reasons = [
        rule["reason"]
        for resource in synthesized[stage].template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert reasons, "no suppression found: the check would pass vacuously"
    assert all(len(reason) >= 60 for reason in reasons), reasons
    assert len(set(reasons)) >= 8  # not one blanket sentence


def test_the_user_pool(synthesized: dict[str, Any]) -> None:
    for stage, retained in (("dev", False), ("prod", True)):
        template(synthesized, stage).has_resource(
            "AWS::Cognito::UserPool",
            {
                "Properties": Match.object_like({
                    "UserPoolTier": "ESSENTIALS",  # the plan V2_0 pre token generation needs
                    "MfaConfiguration": "OPTIONAL",
                    "DeletionProtection": "ACTIVE" if retained else "INACTIVE",
                    "Policies": {"PasswordPolicy": Match.object_like({
                        "MinimumLength": 12, "RequireLowercase": True, "RequireUppercase": True,
                        "RequireNumbers": True, "RequireSymbols": True,
                    })},
                    "LambdaConfig": {
                        "PreSignUp": {"Fn::GetAtt": ["PreSignUp", "Arn"]},
                        "PostConfirmation": {"Fn::GetAtt": ["PostConfirmation", "Arn"]},
                        "PreTokenGenerationConfig": {
                            "LambdaArn": {"Fn::GetAtt": ["PreTokenGeneration", "Arn"]}, "LambdaVersion": "V2_0",
                        },
                    },
                }),
                "DeletionPolicy": "Retain" if retained else "Delete",
            },
        )  # fmt: skip


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_pool_may_invoke_the_triggers(synthesized: dict[str, Any], stage: str) -> None:
    permissions = resources(synthesized, stage, "AWS::Lambda::Permission")
    for logical in ("PreSignUp", "PostConfirmation", "PreTokenGeneration"):
        (found,) = [
            p["Properties"] for p in permissions.values()
            if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [logical, "Arn"]}
        ]  # fmt: skip
        assert found["Principal"] == "cognito-idp.amazonaws.com"
        assert "Users" in json.dumps(found["SourceArn"])


@pytest.mark.parametrize("stage", STAGES)
def test_there_is_no_identity_pool_and_the_api_vends_app_credentials_of_its_stage_only(
    synthesized: dict[str, Any], stage: str
) -> None:
    # An identity pool took 10 role mappings and 50 app clients (issue 16): direct storage access
    # is credentials the API vends (AssumeRole of the app's role, with a session policy).
    kinds = {r["Type"] for r in synthesized[stage].template["Resources"].values()}
    assert not {"AWS::Cognito::IdentityPool", "AWS::Cognito::IdentityPoolRoleAttachment"} & kinds
    assert not any("IdentityPool" in name for name in synthesized[stage].template["Outputs"])
    (vend,) = [
        s for s in _statements(synthesized, stage, "ApiHandlerRole") if s.get("Sid") == "VendAppCredentials"
    ]
    assert sorted(vend["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert f':role/integreat/integreat-{stage}-app-*"' in json.dumps(vend["Resource"])
    others = [s for role in ("PreSignUpRole", "OnStorageEventRole", "OnCrossAppEventRole", "ProvisionRole")
              for s in _statements(synthesized, stage, role)]  # fmt: skip
    assert not any(a.startswith("sts:") for a in _actions(others))
    assert not any(a.startswith("cognito-identity:") for a in _actions(_statements(synthesized, stage, "")))


@pytest.mark.parametrize("stage", STAGES)
def test_the_bucket_is_private_encrypted_tls_only_and_notifies_the_storage_queue(
    synthesized: dict[str, Any], stage: str
) -> None:
    t = template(synthesized, stage)
    files = next(k for k in resources(synthesized, stage, "AWS::S3::Bucket") if k.startswith("Files"))
    props = synthesized[stage].template["Resources"][files]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    t.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"Bucket": {"Ref": files}, "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })])}},
    )  # fmt: skip
    (notifications,) = resources(synthesized, stage, "Custom::S3BucketNotifications").values()
    queue_configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert {c["Events"][0] for c in queue_configs} == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert all("StorageEventsQueue" in json.dumps(c["QueueArn"]) for c in queue_configs)
    if stage == "prod":
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert "AccessLogs" in json.dumps(props["LoggingConfiguration"])
    else:
        assert "LoggingConfiguration" not in props


@pytest.mark.parametrize("stage", STAGES)
def test_queues_have_dlqs_tls_and_six_times_the_consumer_timeout(
    synthesized: dict[str, Any], stage: str
) -> None:
    queues = resources(synthesized, stage, "AWS::SQS::Queue")
    mains = {k: v["Properties"] for k, v in queues.items() if "RedrivePolicy" in v["Properties"]}
    assert len(mains) == 2
    for props in mains.values():
        assert props["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
        assert props["VisibilityTimeout"] >= 6 * CONSUMER_TIMEOUT_SECONDS
    consumers = {k: f for k, f in functions(synthesized, stage).items() if f["Properties"].get("Events")}
    assert {k: f["Properties"]["Timeout"] for k, f in consumers.items()} == {
        "OnStorageEvent": CONSUMER_TIMEOUT_SECONDS, "OnCrossAppEvent": CONSUMER_TIMEOUT_SECONDS,
    }  # fmt: skip
    policies = resources(synthesized, stage, "AWS::SQS::QueuePolicy").values()
    tls_denied = [
        p for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]  # fmt: skip
    assert len(tls_denied) == len(queues)


@pytest.mark.parametrize("stage", STAGES)
def test_event_sources_report_batch_item_failures_within_the_connection_budget(
    synthesized: dict[str, Any], stage: str
) -> None:
    from integreat.infra.stages import load_stage
    from tests.infra.conftest import PROJECT

    budget = load_stage(stage, PROJECT / "integreat.toml")
    sources = {
        name: event["Properties"]
        for name, f in functions(synthesized, stage).items()
        for event in (f["Properties"].get("Events") or {}).values()
    }
    assert set(sources) == {"OnStorageEvent", "OnCrossAppEvent"}
    for name, props in sources.items():
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert props["ScalingConfig"] == {"MaximumConcurrency": budget.consumer_concurrency}
        assert "Fn::GetAtt" in props["Queue"]  # the stack's own queue, not a name
    api = functions(synthesized, stage)["APIHandler"]["Properties"]
    assert api["ReservedConcurrentExecutions"] == budget.api_concurrency
    assert budget.api_concurrency + 2 * budget.consumer_concurrency <= budget.db_connection_budget


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_runs_as_its_own_role(synthesized: dict[str, Any], stage: str) -> None:
    found = {
        name: f["Properties"]["Role"]["Fn::GetAtt"][0] for name, f in functions(synthesized, stage).items()
    }
    assert set(found) == {logical for logical, _ in FUNCTIONS.values()}
    # No two share a role, but for the provisioner's two halves (onEvent, isComplete): one job.
    assert found["ProvisionComplete"] == found.pop("Provision")
    assert len(set(found.values())) == len(found)
    assert "DefaultRole" not in synthesized[stage].template["Resources"]  # Chalice's generated one


def _statements(synthesized: dict[str, Any], stage: str, role_prefix: str) -> list[dict[str, Any]]:
    """The statements of the policies attached to roles whose logical id starts with `role_prefix`."""
    policies = resources(synthesized, stage, "AWS::IAM::Policy").values()
    return [
        s for p in policies if any(r["Ref"].startswith(role_prefix) for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]  # fmt: skip


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


@pytest.mark.parametrize("stage", STAGES)
def test_function_policies_are_least_privilege(synthesized: dict[str, Any], stage: str) -> None:
    logs = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert _actions(_statements(synthesized, stage, "PreSignUpRole")) == logs
    for trigger in ("PostConfirmationRole", "PreTokenGenerationRole"):
        assert _actions(_statements(synthesized, stage, trigger)) == logs | {
            "cognito-idp:AdminAddUserToGroup"
        }
    consumer = _statements(synthesized, stage, "OnStorageEventRole")
    puts = [s for s in consumer if s["Action"] == "s3:PutObject"]
    assert len(puts) == 1
    assert "_quarantine/*" in json.dumps(puts[0]["Resource"])  # writes only into quarantine
    assert not any(a.startswith("sqs:Send") for a in _actions(consumer))
    cross = _actions(_statements(synthesized, stage, "OnCrossAppEventRole"))
    assert not any(a.startswith(("s3:", "cognito-idp:")) for a in cross)
    api = _actions(_statements(synthesized, stage, "ApiHandlerRole"))
    assert {"sqs:SendMessage", "s3:PutObject", "s3:GetObject", "cognito-idp:AdminAddUserToGroup"} <= api
    for role in ("ApiHandlerRole", "PreSignUpRole", "PostConfirmationRole", "PreTokenGenerationRole",
                 "OnStorageEventRole", "OnCrossAppEventRole"):  # fmt: skip
        assert not any(
            a == "*" or a.endswith(":*") for a in _actions(_statements(synthesized, stage, role))
        ), role
        assert all(
            s["Effect"] == "Allow" and s["Resource"] != "*" for s in _statements(synthesized, stage, role)
        )


@pytest.mark.parametrize("stage", STAGES)
def test_secrets_are_referenced_by_name_never_created_or_inlined(
    synthesized: dict[str, Any], stage: str
) -> None:
    assert (
        resources(synthesized, stage, "AWS::SecretsManager::Secret") == {}
    )  # the operator's, not the stack's
    env = functions(synthesized, stage)["APIHandler"]["Properties"]["Environment"]["Variables"]
    reference = f"{{{{resolve:secretsmanager:integreat-{stage}/database/runtime:SecretString:::}}}}"
    assert env["INTEGREAT_RUNTIME_DATABASE_URL"] == reference  # resolved at deploy
    api_policy = json.dumps(_statements(synthesized, stage, "ApiHandlerRole"))
    assert "integreat/integrations/weather" in api_policy  # the proxy reads its integration keys


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_cover_what_the_chalice_stage_needs(synthesized: dict[str, Any], stage: str) -> None:
    from integreat.infra.stage_config import OUTPUT_SETTINGS

    outputs = set(synthesized[stage].template["Outputs"])
    assert set(OUTPUT_SETTINGS) <= outputs


@pytest.mark.parametrize("stage", STAGES)
def test_the_synthesized_stack_passes_cfn_lint(synthesized: dict[str, Any], stage: str) -> None:
    from cfnlint.api import lint_file

    # The nested hosting stacks too: a root resource named in one of them (`${RestAPI}` in an
    # Fn::Sub, once) is an error only there.
    paths = sorted(synthesized[stage].directory.glob("*.template.json"))
    assert len(paths) > 1
    errors = [m for path in paths for m in lint_file(path) if m.rule.id.startswith("E")]
    assert [str(m) for m in errors] == []


@pytest.mark.parametrize("stage", STAGES)
def test_one_deploy_provisions_every_manifest_app_from_the_manifest_asset(
    synthesized: dict[str, Any], stage: str
) -> None:
    import aws_cdk as cdk

    from tests.infra.conftest import PROJECT

    (apps,) = resources(synthesized, stage, "Custom::IntegreatApps").values()
    props = apps["Properties"]
    text = (PROJECT / "integreat.toml").read_bytes()
    # The manifest is an asset named by its hash (a manifest change re-runs the provisioner);
    # the template never carries its text.
    assert props["ManifestKey"] == cdk.FileSystem.fingerprint(str(PROJECT / "integreat.toml")) + ".toml"
    assert (synthesized[stage].directory / f"asset.{props['ManifestKey']}").read_bytes() == text
    assert "cdk-hnb659fds-assets-" in json.dumps(props["ManifestBucket"])
    assert "[apps.church]" not in json.dumps(synthesized[stage].template)
    assert props["Stage"] == stage
    assert props["ServiceTimeout"] == "3600"  # CloudFormation's ceiling for a custom resource
    provision = functions(synthesized, stage)["Provision"]["Properties"]
    assert provision["Role"]["Fn::GetAtt"][0].startswith("ProvisionRole")
    halves = ("Provision", "ProvisionComplete")
    for name in halves:
        variables = functions(synthesized, stage)[name]["Properties"]["Environment"]["Variables"]
        assert "{{resolve:secretsmanager:" in json.dumps(variables["INTEGREAT_DATABASE_URL"])
    others = [f for name, f in functions(synthesized, stage).items() if name not in halves]
    assert not any("INTEGREAT_DATABASE_URL" in f["Properties"]["Environment"]["Variables"] for f in others)
    passes = [s for s in _statements(synthesized, stage, "ProvisionRole") if s["Action"] == "iam:PassRole"]
    assert [s["Condition"] for s in passes] == [
        {"StringEquals": {"iam:PassedToService": "cognito-idp.amazonaws.com"}}
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_the_provisioner_reads_its_asset_and_writes_only_its_parameters(
    synthesized: dict[str, Any], stage: str
) -> None:
    by_sid = {s.get("Sid"): s for s in _statements(synthesized, stage, "ProvisionRole")}
    (apps,) = resources(synthesized, stage, "Custom::IntegreatApps").values()
    manifest = by_sid["TheManifest"]
    assert manifest["Action"] == "s3:GetObject"
    assert f'/{apps["Properties"]["ManifestKey"]}"' in json.dumps(manifest["Resource"])
    assert by_sid["AppClientIds"]["Action"] == ["ssm:GetParameters", "ssm:PutParameter"]
    assert f':parameter/integreat/{stage}/apps/*"' in json.dumps(by_sid["AppClientIds"]["Resource"])
    assert f':parameter/integreat/{stage}/provisioner/progress"' in json.dumps(by_sid["Progress"]["Resource"])
    ssm = [s for s in by_sid.values() if "ssm:" in json.dumps(s["Action"])]
    assert [s["Sid"] for s in ssm] == ["AppClientIds", "Progress"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_provisioner_is_asynchronous_within_cloudformations_hour(
    synthesized: dict[str, Any], stage: str
) -> None:
    from integreat.infra.provisioning import QUERY_INTERVAL, TOTAL_TIMEOUT

    complete = functions(synthesized, stage)["ProvisionComplete"]["Properties"]
    assert complete["Timeout"] == 900  # Lambda's maximum; it spends a budget well under
    assert complete["Handler"] == "chalicelib.provisioning.deploy.provision_complete"
    (machine,) = resources(synthesized, stage, "AWS::StepFunctions::StateMachine").values()
    definition = json.dumps(machine["Properties"]["DefinitionString"])
    attempts = TOTAL_TIMEOUT.to_seconds() // QUERY_INTERVAL.to_seconds()
    assert f'\\"MaxAttempts\\":{attempts:.0f}' in definition
    assert TOTAL_TIMEOUT.to_seconds() == 3600
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    handlers = [
        f["Properties"]["Environment"]["Variables"]
        for f in resources(synthesized, stage, "AWS::Lambda::Function").values()
        if "USER_IS_COMPLETE_FUNCTION_ARN" in json.dumps(f["Properties"].get("Environment", {}))
    ]
    assert handlers
    assert all(
        v["USER_IS_COMPLETE_FUNCTION_ARN"] == {"Fn::GetAtt": ["ProvisionComplete", "Arn"]} for v in handlers
    )


@pytest.mark.parametrize("stage", STAGES)
def test_nothing_in_the_root_stack_grows_with_the_apps_but_the_bucket_cors(
    synthesized: dict[str, Any], stage: str
) -> None:
    template = synthesized[stage].template
    assert not [name for name in template["Outputs"] if name.startswith("AppClient")]
    text = json.dumps({k: v for k, v in template["Resources"].items() if not k.startswith("Files")})
    assert not any(f"Client.{slug}" in text for slug in ("church", "events", "students"))


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_refusals_use_the_api_error_shape(synthesized: dict[str, Any], stage: str) -> None:
    api = resources(synthesized, stage, "AWS::Serverless::Api")["RestAPI"]["Properties"]
    responses = api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    assert {
        "MISSING_AUTHENTICATION_TOKEN",
        "ACCESS_DENIED",
        "INVALID_SIGNATURE",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } <= set(responses)
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "403"  # unsigned /service calls: 403
    for response in responses.values():
        # As API Gateway fills it: the message arrives as a quoted JSON string.
        filled = (
            response["responseTemplates"]["application/json"]
            .replace("$context.error.messageString", '"Missing Authentication Token"')
            .replace("$context.requestId", "c6af9ac6")
        )
        assert set(json.loads(filled)["error"]) == {"code", "message", "request_id"}


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_refusals_are_readable_by_the_calling_page(
    synthesized: dict[str, Any], stage: str
) -> None:
    api = resources(synthesized, stage, "AWS::Serverless::Api")["RestAPI"]["Properties"]
    for response in api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"].values():
        parameters = response["responseParameters"]
        assert (
            parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "method.request.header.Origin"
        )
        assert parameters["gatewayresponse.header.Vary"] == "'Origin'"


@pytest.mark.parametrize("stage", STAGES)
def test_every_browser_path_sends_its_preflight_to_the_function(
    synthesized: dict[str, Any], stage: str
) -> None:
    paths = resources(synthesized, stage, "AWS::Serverless::Api")["RestAPI"]["Properties"]["DefinitionBody"][
        "paths"
    ]
    for path, methods in paths.items():
        if path.startswith("/service"):
            assert "options" not in methods, path  # app backends: no browser, no preflight
            continue
        options = methods["options"]
        assert options["x-amazon-apigateway-integration"]["type"] == "aws_proxy", path
        assert "security" not in options, path  # a preflight carries no credentials


@pytest.mark.parametrize("stage", STAGES)
def test_the_bucket_admits_no_loopback_origin_outside_local(synthesized: dict[str, Any], stage: str) -> None:
    # The demo apps declare only http://localhost origins, which make dev alone honours.
    (files,) = [
        b["Properties"]
        for b in resources(synthesized, stage, "AWS::S3::Bucket").values()
        if "files" in json.dumps(b["Properties"].get("BucketName"))
    ]
    assert "CorsConfiguration" not in files


def test_the_bucket_admits_every_apps_https_origins(synthesized: dict[str, Any], tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from chalicelib.frontends.model import FrontendSpec
    from integreat.infra import data
    from integreat.infra.stages import load_stage
    from tests.infra.conftest import PROJECT

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bucket", env=cdk.Environment(region="eu-west-1"))
    frontends = [FrontendSpec(("https://church.example.org", "http://localhost:5173")),
                 FrontendSpec(domain="events.example.org"), FrontendSpec()]  # fmt: skip
    data.bucket(stack, load_stage("prod", PROJECT / "integreat.toml"), sqs.Queue(stack, "Q"), frontends)
    (files,) = [
        b["Properties"]
        for b in Template.from_stack(stack).find_resources("AWS::S3::Bucket").values()
        if "CorsConfiguration" in b["Properties"]
    ]
    (rule,) = files["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == ["https://church.example.org", "https://events.example.org"]
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD", "PUT", "POST", "DELETE"}
    assert "ETag" in rule["ExposedHeaders"]
