"""Route policy: every route declares who may call it; a route without a declaration is denied.

    @route(bp, "/apps/{app}/members", methods=["GET"], allow=app_role("admin"))
    def list_members(app: str) -> ...

The authorization middleware (gateway/authz.py) looks the policy up by the route pattern and
method that API Gateway (or Chalice local) matched, verifies the token, and asks the policy.
The path's `{app}` must be the token's app: a token is scoped to one app (the admin excepted).

The route resolves the path's `{app}` once, after authorization and before the view: the view
receives the registry record as `tenant` (an unknown or removed app is a 404, a malformed slug a
400, before the view runs), so no view looks its app up itself. `tenant=OPTIONAL` hands None for
an unknown app instead (datasets answer outsiders 403 whether or not the owner exists);
`tenant=None` resolves nothing (the integration proxy, whose integration decides).

A route may also admit app backends (service principals, identity/services.py): `service=` a
service policy registers the same view under `/service<path>`, behind Chalice's IAMAuthorizer.
API Gateway allows one authorizer per route, so users (bearer tokens) and services (SigV4) never
share a path, and a policy admits only its own kind of caller.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from chalice.app import Blueprint, IAMAuthorizer

from chalicelib.gateway.errors import translate, unexpected
from chalicelib.identity.tokens import ACCESS, Caller
from chalicelib.runtime import runtime
from chalicelib.tenancy.errors import UnknownAppError
from chalicelib.tenancy.registry import AppRecord

F = TypeVar("F", bound=Callable[..., Any])


SERVICE_PREFIX = "/service"
#: How a route resolves the path's `{app}` for its view (the `tenant` argument).
REQUIRED = "required"
OPTIONAL = "optional"
_DEFAULT = "default"  # REQUIRED when the path has `{app}`, else nothing
_IAM = IAMAuthorizer()  # one for every /service route: it carries no per-route state


class Policy(NamedTuple):
    """`check(caller, path_app)` decides; `authenticate` False only for deliberately public routes;
    `service` True: the caller is an app backend signed with its IAM role, never a user."""

    description: str
    check: Callable[[Caller | None, str | None], bool]
    authenticate: bool = True
    token_use: str = ACCESS
    service: bool = False

    def allows(self, caller: Caller | None, path_app: str | None) -> bool:
        if caller is not None and caller.is_service != self.service:
            return False  # a user policy never admits a service, nor a service policy a user
        return self.check(caller, path_app)


def _same_app(caller: Caller, path_app: str | None) -> bool:
    return path_app is not None and caller.app == path_app


PUBLIC = Policy("anyone, without a token", lambda c, a: True, authenticate=False)
AUTHENTICATED = Policy("any verified token", lambda c, a: c is not None)
PLATFORM_ADMIN = Policy("platform admin", lambda c, a: c is not None and c.is_admin)
MEMBER = Policy(
    "member of the path's app (or platform admin)",
    lambda c, a: c is not None and (c.is_admin or (_same_app(c, a) and c.is_member)),
)

#: The path's app is the *owner*: the view decides per dataset (owner, reader apps, admin) and
#: answers a non-reader 403 whether or not the dataset exists. Here: members of some app only.
DATASET_READER = Policy(
    "member of the owner or of an app the dataset is shared with (or platform admin)",
    lambda c, a: c is not None and (c.is_admin or c.is_member),
)


SERVICE_OF_APP = Policy(
    "service principal of the path's app", lambda c, a: c is not None and _same_app(c, a), service=True
)
ANY_SERVICE = Policy("service principal of any app", lambda c, a: c is not None, service=True)
#: As DATASET_READER: the view decides per dataset (the owner and the apps it is shared with).
DATASET_SERVICE = Policy(
    "service principal of the owner or of an app the dataset is shared with",
    lambda c, a: c is not None,
    service=True,
)


def app_role(role: str) -> Policy:
    """Holders of `role` in the path's app (or the platform admin)."""
    return Policy(
        f"{role} of the path's app (or platform admin)",
        lambda c, a: c is not None and (c.is_admin or (_same_app(c, a) and role in c.roles)),
    )


#: (route pattern, method) -> policy; filled by @route at import time.
POLICIES: dict[tuple[str, str], Policy] = {}
#: (route pattern, method) -> the view's docstring (the OpenAPI document's summary and description).
DOCS: dict[tuple[str, str], str] = {}
#: Route pattern -> its declared methods, in declaration order (what a CORS preflight may allow).
METHODS: dict[str, list[str]] = {}


def route(
    bp: Blueprint,
    path: str,
    *,
    methods: list[str],
    allow: Policy,
    service: Policy | None = None,
    tenant: str | None = _DEFAULT,
    **options: Any,
) -> Callable[[F], F]:
    """`bp.route` plus a policy declaration; declaring one (path, method) twice is an error.
    `service`: also serve the view to app backends at `/service<path>` under that policy.
    `tenant`: how the path's `{app}` reaches the view (REQUIRED, OPTIONAL, or None: not at all).
    """
    if tenant in (REQUIRED, OPTIONAL) and "{app}" not in path:
        raise ValueError(f"{path}: `tenant` resolves the path's {{app}}, and this path has none")
    if allow.service or (service is not None and not service.service):
        raise ValueError(f"{path}: `allow` takes a user policy and `service` a service policy")
    entries = [(path, allow, options)]
    if service is not None:
        entries.append((SERVICE_PREFIX + path, service, options | {"authorizer": _IAM}))

    def decorate(view: F) -> F:
        for pattern, policy, _ in entries:
            _declare(pattern, methods, policy, view)
        resolve = _resolver(REQUIRED if tenant == _DEFAULT and "{app}" in path else tenant)
        translated = _translated(bp, view, resolve)
        for pattern, _, route_options in entries:
            bp.route(pattern, methods=methods, **route_options)(translated)
        if path not in _PREFLIGHTS:  # one OPTIONS per path; /service paths get none (no browser)
            _PREFLIGHTS.add(path)
            bp.route(path, methods=["OPTIONS"])(_preflight(bp))
        return view

    return decorate


def _declare(pattern: str, methods: list[str], policy: Policy, view: Callable[..., Any]) -> None:
    for method in methods:
        if (pattern, method) in POLICIES:
            raise ValueError(f"policy for {method} {pattern} declared twice")
        POLICIES[(pattern, method)] = policy
        DOCS[(pattern, method)] = (view.__doc__ or "").strip()
        METHODS.setdefault(pattern, []).append(method)


_PREFLIGHTS: set[str] = set()


def _preflight(bp: Blueprint) -> Callable[..., Any]:
    """A path's OPTIONS route: it makes API Gateway (and Chalice local) hand browsers' preflights
    to the function. The authorization middleware answers them before any view (cors.preflight);
    should one get here, the answer is the same."""

    def preflight(**_: str) -> Any:
        from chalicelib.gateway.cors import preflight

        return preflight(bp.current_request)

    return preflight


def methods_of(pattern: str | None) -> list[str]:
    return METHODS.get(pattern or "", [])


Resolve = Callable[[str], AppRecord | None]


def _resolver(mode: str | None) -> Resolve | None:
    if mode is None or mode == _DEFAULT:
        return None
    if mode == REQUIRED:
        return lambda slug: runtime().database.registry.get_active(slug)
    if mode == OPTIONAL:
        return _active_or_none
    raise ValueError(f"tenant must be REQUIRED, OPTIONAL or None; got {mode!r}")


def _active_or_none(slug: str) -> AppRecord | None:
    try:
        return runtime().database.registry.get_active(slug)
    except UnknownAppError:  # unknown, removed or not ready; a malformed slug still raises (400)
        return None


def _translated(bp: Blueprint, view: F, resolve: Resolve | None) -> Callable[..., Any]:
    """The view, with the path's app resolved (`resolve`) and domain errors turned into the API's
    error shape here, the one place for every view: Chalice catches a view's exceptions itself
    (answering 500) before any middleware could translate them."""

    @functools.wraps(view)
    def translated(*args: Any, **kwargs: Any) -> Any:
        try:
            if resolve is not None:
                kwargs["tenant"] = resolve(kwargs["app"])
            return view(*args, **kwargs)
        except Exception as exc:
            response = translate(bp.current_request, exc)
            return response if response is not None else unexpected(bp.current_request, exc)

    return translated


def policy_for(path: str | None, method: str) -> Policy | None:
    return POLICIES.get((path or "", method))
