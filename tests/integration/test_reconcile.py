"""`integreat users reconcile`: repairs users the post-confirmation trigger missed, from the
platform's own sign-up record, as an operator runs it (a subprocess)."""

from __future__ import annotations

import secrets
import subprocess

import pytest

from chalicelib.identity import triggers
from chalicelib.runtime import Runtime
from tests.cli import run_integreat
from tests.conftest import IdentityPlatform
from tests.identity import PASSWORD, Users, cognito_event


@pytest.fixture
def users(identity: IdentityPlatform, installed_runtime: Runtime) -> Users:
    return Users(identity)


def reconcile(identity: IdentityPlatform, *args: str) -> subprocess.CompletedProcess[str]:
    return run_integreat(
        "users",
        "reconcile",
        *args,
        INTEGREAT_DATABASE_URL=identity.platform.operator_url,
        INTEGREAT_USER_POOL_ID=identity.user_pool_id,
        INTEGREAT_AWS_ENDPOINT_URL=identity.endpoint,
    )


def signed_up_but_trigger_failed(users: Users, identity: IdentityPlatform, slug: str) -> str:
    """Pre sign-up ran (the record exists), Cognito confirmed, post confirmation never ran."""
    name = f"orphan-{secrets.token_hex(3)}@example.org"
    triggers.pre_sign_up(
        cognito_event("cognito_pre_signup_signup", username=name, client_id=users.client(slug)), None
    )
    cognito = identity.cognito()
    cognito.sign_up(ClientId=users.client(slug), Username=name, Password=PASSWORD)
    cognito.admin_confirm_sign_up(UserPoolId=identity.user_pool_id, Username=name)
    return name


def test_dry_run_changes_nothing_then_apply_enrols(users: Users, identity: IdentityPlatform) -> None:
    orphan = signed_up_but_trigger_failed(users, identity, "events")
    dry = reconcile(identity)
    assert dry.returncode == 0, dry.stderr
    assert orphan in dry.stdout
    assert "dry run" in dry.stdout
    assert users.groups(orphan) == []
    applied = reconcile(identity, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert users.groups(orphan) == ["events"]


def test_user_without_a_record_is_left_for_an_admin(users: Users, identity: IdentityPlatform) -> None:
    # An attribute the user wrote names an app: reconcile must not read it.
    name = f"no-record-{secrets.token_hex(3)}@example.org"
    identity.cognito().admin_create_user(
        UserPoolId=identity.user_pool_id,
        Username=name,
        UserAttributes=[{"Name": "custom:app", "Value": "church"}],
        MessageAction="SUPPRESS",
    )
    identity.cognito().admin_set_user_password(
        UserPoolId=identity.user_pool_id, Username=name, Password=PASSWORD, Permanent=True
    )
    result = reconcile(identity, "--apply")
    assert result.returncode == 0, result.stderr
    line = next(row for row in result.stdout.splitlines() if name in row)
    assert "skip" in line
    assert "no sign-up record" in line
    assert users.groups(name) == []
