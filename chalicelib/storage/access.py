"""Who holds a folder right, and why a caller does not: the principals half of the rules.

Split from `chalicelib.storage.rules` (which locates keys and checks content) when a right became
a list of principals (issue 18): a caller is admitted if any listed principal admits them.

- "members": any member of the folder's app (an actor acting for it with at least one role);
- "owner": in a `{user}` folder, the user whose Cognito sub is that segment;
- a role name: members of the app who hold that role;
- the platform admin holds every right; the caller's app must be the folder's app otherwise.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from chalicelib.storage.spec import MEMBERS, OWNER, Access, principals

_PLAIN = re.compile(r"[A-Za-z0-9_.@:+/-]{1,60}")


class Actor(NamedTuple):
    """Who uploads or reads, as the token (API) or the uploading principal (event) says."""

    app: str | None  # the app the actor acts for (the token's app, or the app's IAM role)
    user_id: str | None  # Cognito sub; None for an app's backend or its identity-pool role
    roles: tuple[str, ...]  # roles in `app`; (): not a member
    is_admin: bool = False


class Place(NamedTuple):
    """A folder as a key found it: its app, its path and, for a `{user}` folder, whose it is."""

    app: str
    path: str
    owner: str | None


def admitted(actor: Actor, access: Access, place: Place) -> bool:
    """Does any principal of `access` admit `actor` (a member of `place.app`)? The platform admin
    is the caller's business: this is the rule alone."""
    if actor.app != place.app:
        return False
    return any(_admits(actor, principal, place) for principal in principals(access))


def refusal(verb: str, access: Access, actor: Actor | None, place: Place) -> str | None:
    """Why `actor` may not `verb` (write/read) in `place` under `access`, or None if they may.

    >>> refusal("write", ("pastors", "volunteers"), Actor("church", "u-1", ("member",)),
    ...         Place("church", "rotas/", None))
    "user u-1 of church (member) may not write church/rotas/: only church roles 'pastors' or 'volunteers' may"
    """
    if actor is not None and (actor.is_admin or admitted(actor, access, place)):
        return None  # the common case, decided without building any message
    where = f"{place.app}/{place.path}"
    if actor is None:
        return f"{'uploader' if verb == 'write' else 'reader'} unknown: nobody may {verb} {where} anonymously"
    if actor.app != place.app:
        acts = f"acts for {quote(actor.app)}" if actor.app else "acts for no app"
        return f"{who(actor)} {acts}: only {place.app} may {verb} {where}"
    return f"{who(actor)} may not {verb} {where}: only {who_may(access, place)} may"


def who_may(access: Access, place: Place) -> str:
    """The holders of a right, for a refusal: "members of church", "its owner u-1 or church role
    'teacher'", "church roles 'pastors' or 'volunteers'"."""
    names = principals(access)
    roles = [name for name in names if name not in (MEMBERS, OWNER)]
    parts = [f"members of {place.app}"] if MEMBERS in names else []
    parts += [f"its owner {quote(place.owner or '')}"] if OWNER in names else []
    if roles:
        listed = " or ".join(repr(role) for role in roles)
        parts.append(f"{place.app} {'role' if len(roles) == 1 else 'roles'} {listed}")
    return " or ".join(parts) or "nobody"


def who(actor: Actor | None) -> str:
    """The actor, for a reason: "user u-1 of church (member, admin)", "the backend of church"."""
    if actor is None:
        return "nobody"
    if actor.is_admin:
        return "the platform admin"
    if actor.user_id is None:
        return f"the backend of {quote(actor.app)}" if actor.app else "an unknown principal"
    roles = ", ".join(quote(role) for role in actor.roles) or "not a member"
    return f"user {quote(actor.user_id)} of {quote(actor.app) if actor.app else 'no app'} ({roles})"


def quote(text: str, limit: int = 60) -> str:
    """Plain names as they are; anything else through repr() (which escapes control characters)
    and cut, so that a reason stays on one readable line whatever an uploader sent."""
    if _PLAIN.fullmatch(text):
        return text
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


def _admits(actor: Actor, principal: str, place: Place) -> bool:
    if principal == MEMBERS:
        return bool(actor.roles)
    if principal == OWNER:
        return actor.user_id is not None and actor.user_id == place.owner
    return principal in actor.roles
