"""Cognito names derived from an app's slug, and the claim names Integreat puts in tokens.

Groups: `<slug>` is the app's membership group; `<slug>-<role>` holds the users with that app
role. Slugs never contain `-`, so the first `-` always separates slug from role: no two apps'
groups can collide, and `integreat-admin` (`integreat` is a reserved slug) is never an app's.
"""

from __future__ import annotations

from chalicelib.tenancy.slugs import validate_slug

ADMIN_GROUP = "integreat-admin"
BASE_ROLE = "member"  # being in the membership group is the member role

#: Claims Integreat adds (pre token generation) and cross-checks (token verification).
APP_CLAIM = "integreat:app"
ROLES_CLAIM = "integreat:roles"


def membership_group(slug: str) -> str:
    return validate_slug(slug)


def role_group(slug: str, role: str) -> str:
    if role == BASE_ROLE:
        return membership_group(slug)
    return f"{validate_slug(slug)}-{role}"


def app_groups(slug: str, groups: list[str] | tuple[str, ...]) -> list[str]:
    """The subset of `groups` that belongs to the app (membership and role groups)."""
    prefix = f"{slug}-"
    return [g for g in groups if g == slug or g.startswith(prefix)]


def roles_in(slug: str, groups: list[str] | tuple[str, ...], known_roles: tuple[str, ...]) -> tuple[str, ...]:
    """The user's roles in the app: none unless a member; then member plus each role group held."""
    held = set(app_groups(slug, groups))
    if slug not in held:
        return ()
    return tuple(r for r in known_roles if r == BASE_ROLE or role_group(slug, r) in held)


def app_client_name(slug: str) -> str:
    return f"integreat-{validate_slug(slug)}"


def api_iam_role_name(platform: str, stage: str) -> str:
    """The API function's role (integreat/infra/api.py names it so): the one principal that may
    name an app-role session `<sub>@<slug>`, a session it vends to that user (storage credentials)."""
    return f"{platform}-{stage}-api"


def app_iam_role_name(platform: str, stage: str, slug: str) -> str:
    """IAM role names are unique per account (path or not) and limited to 64 characters."""
    name = f"{platform}-{stage}-app-{validate_slug(slug)}"
    if len(name) > 64:
        raise ValueError(f"IAM role name {name!r} exceeds 64 characters: shorten the platform name or slug")
    return name
