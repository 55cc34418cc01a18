"""The only place the local Cognito layer reads or changes moto's in-process state.

moto keeps passwords in clear and has no API that reveals them, nor one that revokes a single
refresh token (RevokeToken). SRP needs the password to check a proof, so when moto runs in this
process (`make dev`, the test suite) the layer reads it from moto's backend here; when moto is
another process (INTEGREAT_AWS_ENDPOINT_URL), `InProcessMoto.password` raises
`NotInProcessError` and the layer refuses SRP instead of accepting any password. A user is only
taken as found when its `sub` equals the one the HTTP API reports: a backend of some other moto
in this process is never mistaken for the one the layer talks to.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.identity.rs256 import b64url_decode


class NotInProcessError(Exception):
    """The moto behind the layer is not the one in this process."""


class InProcessMoto:
    """Reads and revocations on the moto backend in this process (see the module docstring)."""

    def password(self, pool_id: str, username: str, sub: str) -> str:
        """The password of the user `username` (moto's internal name) whose sub is `sub`."""
        user = self._user(pool_id, username)
        if user is None or user.id != sub or not isinstance(user.password, str):
            raise NotInProcessError(
                "USER_SRP_AUTH needs moto in the local platform's process (it reads the password "
                "to check the proof); with INTEGREAT_AWS_ENDPOINT_URL set, sign in with USER_PASSWORD_AUTH"
            )
        return user.password

    def revoke(self, pool_id: str, refresh_token: str, client_id: str) -> bool:
        """Revoke one refresh token and the access tokens issued from it, as RevokeToken does;
        False when `client_id` did not receive it. An unknown token is no error (RFC 7009 2.2)."""
        pool = self._pool(pool_id)
        if pool is None:
            raise NotInProcessError("RevokeToken needs moto in the local platform's process")
        issued = pool.refresh_tokens.get(refresh_token)
        if issued is None:
            return True
        owner, _, origin_jti = issued
        if owner != client_id:
            return False
        pool.refresh_tokens[refresh_token] = None
        for token in [t for t in pool.access_tokens if _origin_jti(t) == origin_jti]:
            pool.access_tokens.pop(token, None)
        return True

    def _pool(self, pool_id: str) -> Any:
        try:
            from moto.cognitoidp.models import cognitoidp_backends
        except ImportError:  # moto is a dev dependency
            return None
        region = pool_id.split("_", 1)[0]
        # dict's own methods: moto's __getitem__ would create empty backends as it looks.
        for account in dict.values(cognitoidp_backends):
            backend = dict.get(account, region)
            if backend is not None and pool_id in backend.user_pools:
                return backend.user_pools[pool_id]
        return None

    def _user(self, pool_id: str, username: str) -> Any:
        pool = self._pool(pool_id)
        return None if pool is None else pool.users.get(username)


def _origin_jti(token: str) -> str | None:
    claims = json.loads(b64url_decode(token.split(".")[1]))
    return claims.get("origin_jti") if isinstance(claims, dict) else None
