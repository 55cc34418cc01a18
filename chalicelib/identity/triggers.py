"""Cognito triggers as Chalice Lambda functions. Thin: a typed view of the event, one call.

Powertools' data classes and the enrollment logic are imported inside each handler, not at
module level: app.py registers this blueprint (so Chalice deploys the functions), and the API's
cold start (`import app`) must not pay for them; importing
`aws_lambda_powertools.utilities.data_classes` alone loads every event class (~20 ms).
Every decision runs `shielded`: Cognito shows a trigger's error text to the user, so nothing but
a refusal's own message may reach it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.observability import start_invocation
from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.identity.enrollment import TriggerContext

triggers = Blueprint(__name__)

Event = dict[str, Any]


def _context(event: Event) -> TriggerContext:
    from chalicelib.identity.enrollment import TriggerContext

    rt = runtime()
    pool = event.get("userPoolId")
    return TriggerContext(
        registry=rt.database.registry,
        groups=lambda: rt.directory_for(pool),
        record_signup=rt.record_signup,
        is_excluded=rt.exclusions.is_excluded,
        signup_client=rt.signup_client,
    )


@triggers.lambda_function(name="pre_sign_up")
def pre_sign_up(event: Event, context: Any) -> Event:
    from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import PreSignUpTriggerEvent

    from chalicelib.identity import enrollment

    view = PreSignUpTriggerEvent(event)
    start_invocation(view.user_name)
    enrollment.shielded(
        "pre_sign_up",
        lambda: enrollment.pre_sign_up(
            view.trigger_source, view.user_name, view.caller_context.client_id, _context(event)
        ),
    )
    return event


@triggers.lambda_function(name="post_confirmation")
def post_confirmation(event: Event, context: Any) -> Event:
    from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
        PostConfirmationTriggerEvent,
    )

    from chalicelib.identity import enrollment

    view = PostConfirmationTriggerEvent(event)
    start_invocation(view.user_name)
    enrollment.shielded(
        "post_confirmation",
        lambda: enrollment.post_confirmation(
            view.trigger_source, view.user_name, view.caller_context.client_id, _context(event)
        ),
    )
    return event  # unchanged, as Cognito expects


@triggers.lambda_function(name="pre_token_generation")
def pre_token_generation(event: Event, context: Any) -> Event:
    from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
        PreTokenGenerationTriggerEvent,
    )

    from chalicelib.identity import enrollment

    view = PreTokenGenerationTriggerEvent(event)  # the request fields read here are shared by V1 and V2
    start_invocation(view.user_name)
    groups = list(view.request.group_configuration.groups_to_override or [])
    scope = enrollment.shielded(
        "pre_token_generation",
        lambda: enrollment.scope_token(
            view.trigger_source, view.user_name, view.caller_context.client_id, groups, _context(event)
        ),
    )
    event["response"] = (
        enrollment.v1_response(scope) if str(view.version) == "1" else enrollment.v2_response(scope)
    )
    return event
