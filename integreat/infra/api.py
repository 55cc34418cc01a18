"""The Chalice app in the stack (the Chalice CDK construct runs `chalice package` and includes
its SAM template), with one least-privilege role per function and the wiring Chalice cannot
express: partial batch responses and maximum concurrency on the SQS event sources (DESIGN
decision 3), the queues' ARNs, and the Cognito triggers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.identity.names import api_iam_role_name
from integreat.infra.data import Queues, Secrets, cell_environment, reference
from integreat.infra.stages import Stage

PROJECT = Path(__file__).resolve().parents[2]  # app.py and .chalice/ live here
#: Chalice function name -> (logical id in the SAM template, SQS event source or None).
FUNCTIONS = {
    "api_handler": ("APIHandler", None),
    "pre_sign_up": ("PreSignUp", None),
    "post_confirmation": ("PostConfirmation", None),
    "pre_token_generation": ("PreTokenGeneration", None),
    "on_storage_event": ("OnStorageEvent", "OnStorageEventSqsEventSource"),
    "on_cross_app_event": ("OnCrossAppEvent", "OnCrossAppEventSqsEventSource"),
    # The stack's custom resource (provisioning.py), in two halves: onEvent and isComplete.
    "provision": ("Provision", None),
    "provision_complete": ("ProvisionComplete", None),
}
TRIGGERS = ("pre_sign_up", "post_confirmation", "pre_token_generation")
#: Functions that run as another's role: the two halves of the provisioner are one job.
SHARED_ROLES = {"provision_complete": "provision"}
#: Settings `.chalice/config.json` does not give (the plain `chalice deploy` path never runs the
#: provisioner): isComplete gets Lambda's maximum, of which it spends a budget well under.
TIMEOUTS = {"ProvisionComplete": 900}


class Api(NamedTuple):
    chalice: Chalice
    roles: dict[str, iam.Role]
    url: str


def api(
    scope: Construct, stage: Stage, pool: cognito.UserPool, bucket_name: str, queues: Queues, secrets: Secrets
) -> Api:
    roles = {name: _role(scope, name, stage) for name in FUNCTIONS if name not in SHARED_ROLES}
    roles |= {name: roles[owner] for name, owner in SHARED_ROLES.items()}
    runtime_url = reference(secrets.runtime_url)
    env = {
        "INTEGREAT_RUNTIME_DATABASE_URL": runtime_url,
        "INTEGREAT_BUCKET": bucket_name,
        # Literal names, not tokens: Chalice writes them into Fn::Sub expressions of the SQS event
        # sources, which CloudFormation include cannot resolve tokens in.
        "INTEGREAT_EVENTS_QUEUE": f"{stage.prefix}-events",
        "INTEGREAT_STORAGE_QUEUE": f"{stage.prefix}-storage-events",
        "INTEGREAT_PLATFORM_NAME": stage.platform,
        "INTEGREAT_API_ROLE_ID": roles["api_handler"].role_id,
        **cell_environment(secrets),
    }
    os.environ.setdefault("AWS_DEFAULT_REGION", stage.region)  # chalice package asks botocore for one
    # (synthesize() restores the environment afterwards)
    # Chalice's own per-function settings come from .chalice/config.json only; the role and
    # concurrency of each function are set on the included template below instead.
    chalice = Chalice(
        scope, "Chalice", source_dir=str(PROJECT),
        stage_config={"environment_variables": env, "manage_iam_role": False,
                      "iam_role_arn": roles["api_handler"].role_arn},
    )  # fmt: skip
    for name, (logical, _) in FUNCTIONS.items():
        function = chalice.get_resource(logical)
        function.add_property_override("Role", roles[name].role_arn)
        function.add_property_deletion_override("ReservedConcurrentExecutions")
    for logical, seconds in TIMEOUTS.items():
        chalice.get_resource(logical).add_property_override("Timeout", seconds)
    api_function = chalice.get_resource("APIHandler")
    api_function.add_property_override("ReservedConcurrentExecutions", stage.api_concurrency)
    # Only the API is told the pool: the triggers are the pool's, and naming it back would be a cycle.
    chalice.add_environment_variable("INTEGREAT_USER_POOL_ID", pool.user_pool_id, "APIHandler")
    _wire_queues(chalice, stage, queues)
    _wire_triggers(scope, chalice, pool)
    # API Gateway's own refusals (unknown path, unsigned or denied /service call, throttling) in
    # the API's one error shape; part of the API definition, so they deploy with it.
    chalice.get_resource("RestAPI").add_property_override(
        "DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses()
    )
    # Built from the API's Ref token, not a literal `${RestAPI}` in Fn::Sub: the hosting stacks
    # are nested, and only a token becomes a parameter of theirs (RestAPI is not their resource).
    rest_api = chalice.get_resource("RestAPI").ref
    url = cdk.Fn.join(
        "", ["https://", rest_api, ".execute-api.", cdk.Aws.REGION, ".", cdk.Aws.URL_SUFFIX, "/api/"]
    )
    return Api(chalice, roles, url)


#: Gateway response type -> (status, our error code). The templates are not run through VTL:
#: API Gateway substitutes $context variables only ($context.error.messageString is quoted).
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("403", "forbidden"),  # no such route, or an unsigned /service call
    "ACCESS_DENIED": ("403", "forbidden"),  # the signer's IAM policy does not allow the route
    "INVALID_SIGNATURE": ("403", "invalid_signature"),
    "EXPIRED_TOKEN": ("403", "invalid_signature"),
    "THROTTLED": ("429", "rate_limited"),
    "DEFAULT_4XX": (None, "bad_request"),
    "DEFAULT_5XX": (None, "gateway_error"),
}


#: On the gateway's own refusals the page may read the error (a 429's Retry-After above all): the
#: gateway cannot look an app's origins up, so it echoes the caller's. These answers carry the
#: error shape only, never data; every answer with data comes from the function, which admits
#: the app's origins alone (chalicelib/gateway/cors.py).
GATEWAY_CORS = {
    "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
    "gatewayresponse.header.Access-Control-Expose-Headers": "'Retry-After'",
    "gatewayresponse.header.Vary": "'Origin'",
}


def gateway_responses() -> dict[str, object]:
    template = '{"error": {"code": "%s", "message": $context.error.messageString, "request_id": "$context.requestId"}}'
    responses: dict[str, object] = {}
    for kind, (status, code) in GATEWAY_RESPONSES.items():
        response: dict[str, object] = {
            "responseTemplates": {"application/json": template % code},
            "responseParameters": dict(GATEWAY_CORS),
        }
        if status:
            response["statusCode"] = status
        responses[kind] = response
    return responses


def _role(scope: Construct, name: str, stage: Stage) -> iam.Role:
    title = "".join(p.title() for p in name.split("_"))
    # The API's role has a known name: the app roles' trust lets only it name a session
    # `<sub>@<slug>` (a user's vended storage credentials; chalicelib/provisioning/identity.py).
    role_name = api_iam_role_name(stage.platform, stage.name) if name == "api_handler" else None
    role = iam.Role(
        scope, f"{title}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Integreat function {name}: only what it calls", role_name=role_name,
    )  # fmt: skip
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[
                f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:/aws/lambda/*"
            ],
        )
    )
    return role


def _wire_queues(chalice: Chalice, stage: Stage, queues: Queues) -> None:
    for name, queue in (("on_storage_event", queues.storage), ("on_cross_app_event", queues.events)):
        logical, source = FUNCTIONS[name]
        function = chalice.get_resource(logical)
        path = f"Events.{source}.Properties"
        function.add_property_override(f"{path}.Queue", queue.queue_arn)
        function.add_property_override(f"{path}.FunctionResponseTypes", ["ReportBatchItemFailures"])
        function.add_property_override(
            f"{path}.ScalingConfig", {"MaximumConcurrency": stage.consumer_concurrency}
        )


def _wire_triggers(scope: Construct, chalice: Chalice, pool: cognito.UserPool) -> None:
    arns = {name: chalice.get_resource(FUNCTIONS[name][0]).get_att("Arn").to_string() for name in TRIGGERS}
    cfn_pool = pool.node.default_child
    assert isinstance(cfn_pool, cognito.CfnUserPool)
    cfn_pool.lambda_config = cognito.CfnUserPool.LambdaConfigProperty(
        pre_sign_up=arns["pre_sign_up"],
        post_confirmation=arns["post_confirmation"],
        pre_token_generation_config=cognito.CfnUserPool.PreTokenGenerationConfigProperty(
            lambda_arn=arns["pre_token_generation"], lambda_version="V2_0"
        ),
    )
    for name, arn in arns.items():
        lambda_.CfnPermission(
            scope, f"{FUNCTIONS[name][0]}FromCognito", action="lambda:InvokeFunction", function_name=arn,
            principal="cognito-idp.amazonaws.com", source_arn=pool.user_pool_arn,
        )  # fmt: skip
