"""Unit tests for chalicelib.identity.names (Cognito names from slugs) and chalicelib.gateway.policy
(who may call a route)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.app import Blueprint

from chalicelib.gateway.policy import (
    AUTHENTICATED,
    MEMBER,
    PLATFORM_ADMIN,
    POLICIES,
    PUBLIC,
    Policy,
    app_role,
    policy_for,
    route,
)
from chalicelib.identity.names import (
    ADMIN_GROUP,
    app_client_name,
    app_groups,
    app_iam_role_name,
    membership_group,
    role_group,
    roles_in,
)
from chalicelib.identity.tokens import ACCESS, Caller
from chalicelib.tenancy.errors import InvalidSlugError

# --- names --------------------------------------------------------------------------------------


def test_the_membership_group_is_the_slug() -> None:
    assert membership_group("church") == "church"


def test_a_role_group_is_slug_dash_role() -> None:
    assert role_group("church", "admin") == "church-admin"
    assert role_group("church_hall", "editor") == "church_hall-editor"


def test_the_member_role_group_is_the_membership_group() -> None:
    assert role_group("church", "member") == "church"


@pytest.mark.parametrize("slug", ["integreat", "Church", "church-admin", "", "a__b", "pg_x"])
def test_group_names_need_a_valid_slug(slug: str) -> None:
    with pytest.raises(InvalidSlugError):
        membership_group(slug)
    with pytest.raises(InvalidSlugError):
        role_group(slug, "admin")


def test_no_app_can_own_the_admin_group() -> None:
    # `integreat` is a reserved slug, so `integreat-admin` is never an app's role group
    assert ADMIN_GROUP == "integreat-admin"
    with pytest.raises(InvalidSlugError):
        role_group("integreat", "admin")


ALL_GROUPS = [
    "church",
    "church-admin",
    "church-editor",
    "churchevil",
    "churchevil-admin",
    "church_evil",
    "church_evil-admin",
    "chur",
    "chur-admin",
    "events",
    "events-admin",
    ADMIN_GROUP,
]


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("church", ["church", "church-admin", "church-editor"]),
        ("churchevil", ["churchevil", "churchevil-admin"]),
        ("church_evil", ["church_evil", "church_evil-admin"]),
        ("chur", ["chur", "chur-admin"]),
        ("events", ["events", "events-admin"]),
        ("notes", []),
    ],
)
def test_app_groups_never_returns_another_apps_groups(slug: str, expected: list[str]) -> None:
    assert app_groups(slug, ALL_GROUPS) == expected
    assert app_groups(slug, tuple(reversed(ALL_GROUPS))) == list(reversed(expected))


def test_app_groups_of_no_groups_is_empty() -> None:
    assert app_groups("church", []) == []


KNOWN = ("member", "admin", "editor")


@pytest.mark.parametrize(
    "groups",
    [
        [],
        ["church-admin", "church-editor"],  # role groups without membership
        ["churchevil", "churchevil-admin"],
        ["chur", "chur-admin"],
        [ADMIN_GROUP],
        ["Church", "church ", " church"],
    ],
)
def test_roles_in_is_empty_for_non_members(groups: list[str]) -> None:
    assert roles_in("church", groups, KNOWN) == ()


@pytest.mark.parametrize(
    ("groups", "roles"),
    [
        (["church"], ("member",)),
        (["church", "church-admin"], ("member", "admin")),
        (["church-editor", "church", "church-admin"], ("member", "admin", "editor")),
        (["church", "church-root", "church-member", "church-"], ("member",)),  # only known roles
        (["church", "churchevil-admin", "events-admin", ADMIN_GROUP], ("member",)),
    ],
)
def test_roles_in_lists_member_and_the_known_roles_held(groups: list[str], roles: tuple[str, ...]) -> None:
    assert roles_in("church", groups, KNOWN) == roles


def test_app_client_name() -> None:
    assert app_client_name("church") == "integreat-church"
    with pytest.raises(InvalidSlugError):
        app_client_name("Church")


def test_app_iam_role_name() -> None:
    assert app_iam_role_name("integreat", "prod", "church") == "integreat-prod-app-church"


def test_app_iam_role_name_may_be_exactly_64_characters() -> None:
    # len("-prod-app-church") == 16, so a 48-character platform makes 64
    name = app_iam_role_name("p" * 48, "prod", "church")

    assert len(name) == 64


@pytest.mark.parametrize(
    ("platform", "slug"), [("p" * 49, "church"), ("integreat-platform-x", "c" * 40), ("p" * 64, "c")]
)
def test_app_iam_role_name_raises_past_64_characters(platform: str, slug: str) -> None:
    with pytest.raises(ValueError, match="exceeds 64 characters"):
        app_iam_role_name(platform, "prod", slug)


def test_app_iam_role_name_needs_a_valid_slug() -> None:
    with pytest.raises(InvalidSlugError):
        app_iam_role_name("integreat", "prod", "Church")


# --- policy: the truth table --------------------------------------------------------------------

A, B = "alpha", "beta"


def caller(app: str, roles: tuple[str, ...], *, is_admin: bool = False) -> Caller:
    return Caller("sub-1", "ann", app, roles, is_admin, f"{app}-client", ACCESS)


CALLERS: dict[str, Caller | None] = {
    "anonymous": None,
    "member-of-A": caller(A, ("member",)),
    "admin-role-of-A": caller(A, ("member", "admin")),
    "non-member-token-of-A": caller(A, ()),
    "member-of-B": caller(B, ("member",)),
    "platform-admin": caller(A, (), is_admin=True),
}
PATH_APPS = (A, B, None)
EVERYONE = {(c, p) for c in CALLERS for p in PATH_APPS}

#: policy name -> the (caller, path app) pairs it allows; every other pair is denied.
ALLOWED: dict[str, set[tuple[str, str | None]]] = {
    "PUBLIC": EVERYONE,
    "AUTHENTICATED": {(c, p) for c, p in EVERYONE if c != "anonymous"},
    "PLATFORM_ADMIN": {("platform-admin", p) for p in PATH_APPS},
    "MEMBER": {("platform-admin", p) for p in PATH_APPS}
    | {("member-of-A", A), ("admin-role-of-A", A), ("member-of-B", B)},
    "app_role('admin')": {("platform-admin", p) for p in PATH_APPS} | {("admin-role-of-A", A)},
    "app_role('member')": {("platform-admin", p) for p in PATH_APPS}
    | {("member-of-A", A), ("admin-role-of-A", A), ("member-of-B", B)},
}
POLICY_UNDER_TEST: dict[str, Policy] = {
    "PUBLIC": PUBLIC,
    "AUTHENTICATED": AUTHENTICATED,
    "PLATFORM_ADMIN": PLATFORM_ADMIN,
    "MEMBER": MEMBER,
    "app_role('admin')": app_role("admin"),
    "app_role('member')": app_role("member"),
}


@pytest.mark.parametrize("path_app", PATH_APPS, ids=lambda p: f"path={p}")
@pytest.mark.parametrize("who", list(CALLERS))
@pytest.mark.parametrize("policy", list(POLICY_UNDER_TEST))
def test_policy_truth_table(policy: str, who: str, path_app: str | None) -> None:
    allowed = (who, path_app) in ALLOWED[policy]

    assert POLICY_UNDER_TEST[policy].allows(CALLERS[who], path_app) is allowed


def test_only_public_skips_authentication() -> None:
    assert PUBLIC.authenticate is False
    assert all(p.authenticate for p in (AUTHENTICATED, PLATFORM_ADMIN, MEMBER, app_role("admin")))


def test_policies_require_access_tokens() -> None:
    assert {p.token_use for p in POLICY_UNDER_TEST.values()} == {ACCESS}


def test_an_app_role_policy_describes_its_role() -> None:
    assert "editor" in app_role("editor").description


# --- route() ------------------------------------------------------------------------------------


@pytest.fixture
def declared() -> Iterator[list[tuple[str, str]]]:
    """The (path, method) keys a test declares; removed from the module-level POLICIES afterwards."""
    keys: list[tuple[str, str]] = []
    try:
        yield keys
    finally:
        for key in keys:
            POLICIES.pop(key, None)


def _view() -> dict[str, str]:
    return {}


def test_route_declares_the_policy_per_method(declared: list[tuple[str, str]]) -> None:
    bp = Blueprint(__name__)
    path = "/unit-test/policy/declared"
    declared.extend([(path, "GET"), (path, "PUT")])

    route(bp, path, methods=["GET", "PUT"], allow=MEMBER)(_view)

    assert policy_for(path, "GET") is MEMBER
    assert policy_for(path, "PUT") is MEMBER
    assert policy_for(path, "DELETE") is None


def test_an_undeclared_route_has_no_policy() -> None:
    assert policy_for("/unit-test/policy/never-declared", "GET") is None
    assert policy_for(None, "GET") is None


def test_route_returns_the_view_unchanged(declared: list[tuple[str, str]]) -> None:
    bp = Blueprint(__name__)
    path = "/unit-test/policy/unchanged"
    declared.append((path, "GET"))

    assert route(bp, path, methods=["GET"], allow=PUBLIC)(_view) is _view


def test_declaring_the_same_path_and_method_twice_is_refused(declared: list[tuple[str, str]]) -> None:
    # Given GET /unit-test/policy/twice declared as public
    bp = Blueprint(__name__)
    path = "/unit-test/policy/twice"
    declared.append((path, "GET"))
    route(bp, path, methods=["GET"], allow=PUBLIC)(_view)

    # When another module declares it again, even on another blueprint and with a stricter policy
    with pytest.raises(ValueError, match="declared twice"):
        route(Blueprint(__name__), path, methods=["GET"], allow=PLATFORM_ADMIN)(_view)

    # Then the first declaration stands
    assert policy_for(path, "GET") is PUBLIC


def test_another_method_on_the_same_path_is_a_separate_declaration(declared: list[tuple[str, str]]) -> None:
    bp = Blueprint(__name__)
    path = "/unit-test/policy/methods"
    declared.extend([(path, "GET"), (path, "POST")])
    route(bp, path, methods=["GET"], allow=AUTHENTICATED)(_view)

    route(bp, path, methods=["POST"], allow=app_role("admin"))(_view)

    assert policy_for(path, "GET") is AUTHENTICATED
    assert policy_for(path, "POST") is not AUTHENTICATED
