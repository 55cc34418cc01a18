"""Identity end to end on moto's Cognito: provisioning, sign-up, triggers, tokens, the API."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib.provisioning.identity import WRITE_ATTRIBUTES
from chalicelib.runtime import Runtime
from tests.conftest import IdentityPlatform
from tests.identity import Users


@pytest.fixture
def users(identity: IdentityPlatform, installed_runtime: Runtime) -> Users:
    return Users(identity)


@pytest.fixture
def api(installed_runtime: Runtime) -> Iterator[Client]:
    with Client(chalice_app.app) as client:
        yield client


def email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(3)}@example.org"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_provisioning_is_idempotent_and_complete(identity: IdentityPlatform) -> None:
    cognito = identity.cognito()
    groups = {g["GroupName"]: g for g in cognito.list_groups(UserPoolId=identity.user_pool_id)["Groups"]}
    for expected in (
        "integreat-admin",
        "church",
        "church-volunteer",
        "church-admin",
        "events",
        "events-organizer",
    ):
        assert expected in groups
    assert groups["church"]["RoleArn"].endswith(":role/integreat/integreat-test-app-church")
    for slug, client_id in identity.clients.items():
        client = cognito.describe_user_pool_client(UserPoolId=identity.user_pool_id, ClientId=client_id)
        settings = client["UserPoolClient"]
        assert settings["ClientName"] == f"integreat-{slug}"
        assert "ClientSecret" not in settings  # public client
        assert sorted(settings["WriteAttributes"]) == sorted(WRITE_ATTRIBUTES)
        assert not [a for a in settings["WriteAttributes"] if a.startswith("custom:")]
    assert (
        len(
            cognito.list_user_pool_clients(UserPoolId=identity.user_pool_id, MaxResults=60)["UserPoolClients"]
        )
        == 3
    )


def test_sign_up_in_an_open_app_lands_in_its_group(users: Users) -> None:
    alice = users.sign_up("church", email("alice"))
    assert users.groups(alice) == ["church"]


def test_self_sign_up_to_an_invite_only_app_is_refused(users: Users) -> None:
    from chalicelib.identity.enrollment import TriggerRefusal

    with pytest.raises(TriggerRefusal, match="invite-only"):
        users.sign_up("students", email("sam"))


def test_a_user_of_two_apps_gets_differently_scoped_tokens(users: Users, api: Client) -> None:
    bob = users.sign_up("church", email("bob"))
    users.add_to_group(bob, "events")
    church = users.pre_token("church", bob)["response"]["claimsAndScopeOverrideDetails"]
    events = users.pre_token("events", bob)["response"]["claimsAndScopeOverrideDetails"]
    assert church["idTokenGeneration"]["claimsToAddOrOverride"]["integreat:app"] == "church"
    assert church["groupOverrideDetails"]["groupsToOverride"] == ["church"]
    assert events["groupOverrideDetails"]["groupsToOverride"] == ["events"]
    assert church["groupOverrideDetails"]["preferredRole"] != events["groupOverrideDetails"]["preferredRole"]
    # and through the API, with real (moto-signed) tokens from each app's client
    me_church = api.http.get("/me", headers=bearer(users.login("church", bob)["access"])).json_body
    me_events = api.http.get("/me", headers=bearer(users.login("events", bob)["access"])).json_body
    assert (me_church["app"], me_church["roles"]) == ("church", ["member"])
    assert (me_events["app"], me_events["roles"]) == ("events", ["member"])


def test_open_app_enrols_on_sign_in(users: Users) -> None:
    carol = users.sign_up("church", email("carol"))
    scope = users.pre_token("events", carol)["response"]["claimsAndScopeOverrideDetails"]
    assert scope["idTokenGeneration"]["claimsToAddOrOverride"]["integreat:roles"] == "member"
    assert "events" in users.groups(carol)


def test_invite_only_app_refuses_sign_in_of_a_non_member(users: Users) -> None:
    from chalicelib.identity.enrollment import TriggerRefusal

    dave = users.sign_up("church", email("dave"))
    with pytest.raises(TriggerRefusal, match="invite-only"):
        users.pre_token("students", dave)
    assert "students" not in users.groups(dave)


def test_app_admin_manages_roles_only_within_the_app(users: Users, api: Client) -> None:
    admin, member = users.sign_up("church", email("admin")), users.sign_up("church", email("member"))
    users.add_to_group(admin, "church-admin")
    token = bearer(users.login("church", admin)["access"])
    listed = api.http.get("/apps/church/members", headers=token)
    assert listed.status_code == 200
    assert member in {m["username"] for m in listed.json_body["members"]}
    granted = api.http.put(f"/apps/church/members/{member}/roles/volunteer", headers=token)
    assert granted.status_code == 200
    assert "church-volunteer" in users.groups(member)
    # another app's role, and the base role, are refused with the reason
    refused = api.http.put(f"/apps/church/members/{member}/roles/organizer", headers=token)
    assert refused.status_code == 400
    assert refused.json_body["error"]["code"] == "unknown_role"
    assert api.http.delete(f"/apps/church/members/{member}/roles/volunteer", headers=token).status_code == 204
    assert "church-volunteer" not in users.groups(member)


def test_removed_member_is_not_re_enrolled_and_refresh_drops_the_app(users: Users, api: Client) -> None:
    admin, erin = users.sign_up("church", email("admin2")), users.sign_up("church", email("erin"))
    users.add_to_group(admin, "church-admin")
    tokens = users.login("church", erin)
    assert (
        api.http.delete(
            f"/apps/church/members/{erin}", headers=bearer(users.login("church", admin)["access"])
        ).status_code
        == 204
    )
    assert users.groups(erin) == []
    # refresh: the pre-token trigger sees no group and issues no app claim
    refreshed = users.pre_token("church", erin, "cognito_pre_token_v2_refresh")["response"]
    assert refreshed["claimsAndScopeOverrideDetails"]["idTokenGeneration"]["claimsToAddOrOverride"] == {}
    # a fresh sign-in to the open app does not undo the removal
    users.pre_token("church", erin)
    assert users.groups(erin) == []
    # and a refreshed token is no longer a member's token
    me = api.http.get("/me", headers=bearer(users.refresh("church", tokens["refresh"])["access"])).json_body
    assert me["member"] is False


def test_admin_routes_list_the_registry(users: Users, api: Client) -> None:
    root = users.sign_up("church", email("root"))
    users.add_to_group(root, "integreat-admin")
    response = api.http.get("/admin/apps", headers=bearer(users.login("church", root)["access"]))
    assert response.status_code == 200
    listed = {a["app"]: a for a in response.json_body["apps"]}
    assert {"church", "events", "students"} <= set(listed)  # other tests add apps of their own
    assert listed["church"]["clients"] == [users.client("church")]
    assert listed["students"]["enrollment"] == "invite"
