"""Typed settings, read once from the environment.

Resolution order for every value: explicit argument, then environment, then default
(as Starlette's Config and Powertools' resolve_env_var_choice do). Secrets are masked in repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

# Environment variable names, in one place.
STAGE = "INTEGREAT_STAGE"
DATABASE_URL = "INTEGREAT_DATABASE_URL"  # operator/provisioning URL (a role that may CREATE ROLE)
DATABASE_URL_FALLBACK = "DATABASE_URL"  # the conventional name, accepted when ours is unset
RUNTIME_DATABASE_URL = "INTEGREAT_RUNTIME_DATABASE_URL"  # Lambda: logs in as integreat_runtime
REGISTRY_TTL_SECONDS = "INTEGREAT_REGISTRY_TTL_SECONDS"
# How long past its TTL the registry's last good copy is served while the database is unreachable.
REGISTRY_MAX_STALE_SECONDS = "INTEGREAT_REGISTRY_MAX_STALE_SECONDS"
DB_POOL_SIZE = "INTEGREAT_DB_POOL_SIZE"
DB_CONNECT_TIMEOUT = "INTEGREAT_DB_CONNECT_TIMEOUT"
MIGRATION_WORKERS = "INTEGREAT_MIGRATION_WORKERS"
REGION = "AWS_REGION"
REGION_FALLBACK = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL = "INTEGREAT_AWS_ENDPOINT_URL"  # one endpoint for every AWS service (moto server)
USER_POOL_ID = "INTEGREAT_USER_POOL_ID"
PLATFORM_NAME = "INTEGREAT_PLATFORM_NAME"
BUCKET = "INTEGREAT_BUCKET"
EVENTS_QUEUE = "INTEGREAT_EVENTS_QUEUE"
STORAGE_QUEUE = "INTEGREAT_STORAGE_QUEUE"
API_ROLE_ID = (
    "INTEGREAT_API_ROLE_ID"  # the API function role's unique id (AROA...): uploads it signs, events it sends
)

STAGES = ("local", "dev", "prod", "test")


class SettingsError(Exception):
    """A setting is missing or malformed."""


class MissingSettingError(SettingsError):
    def __init__(self, name: str, hint: str) -> None:
        super().__init__(f"{name} is not set: {hint}")
        self.name = name


def mask_url(url: str | None) -> str | None:
    """`postgresql://u:secret@h/db?password=x` -> `postgresql://u:***@h/db?password=***` (logs, repr)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None and "password=" not in parts.query.lower():
        return url
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    query = "&".join(
        f"{k}=***" if k.lower() in ("password", "sslpassword") else (f"{k}={v}" if sep else k)
        for k, sep, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit(parts._replace(query=query))


class _Fields(NamedTuple):
    stage: str = "local"
    database_url: str | None = None
    runtime_database_url: str | None = None
    registry_ttl_seconds: float = 30.0
    registry_max_stale_seconds: float = 300.0  # 0: no fallback, a failed reload is a 503 at once
    db_pool_size: int = 1  # one Lambda handles one request at a time
    db_connect_timeout: int = 5
    migration_workers: int = 4
    region: str = "eu-west-1"
    aws_endpoint_url: str | None = None
    user_pool_id: str | None = None
    platform_name: str = "integreat"
    bucket: str | None = None
    events_queue: str = "integreat-events"
    storage_queue: str = "integreat-storage-events"
    api_role_id: str | None = None


class Settings(_Fields):
    """Immutable settings, validated on construction. A NamedTuple rather than a frozen
    dataclass: it is created at every cold start, and a dataclass costs ~1 ms to define."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Settings:
        self = super().__new__(cls, *args, **kwargs)
        if self.stage not in STAGES:
            raise SettingsError(f"{STAGE}={self.stage!r}: must be one of {', '.join(STAGES)}")
        if self.db_pool_size < 1 or self.migration_workers < 1:
            raise SettingsError(f"{DB_POOL_SIZE} and {MIGRATION_WORKERS} must be >= 1")
        if self.registry_max_stale_seconds < 0:
            raise SettingsError(f"{REGISTRY_MAX_STALE_SECONDS} must be >= 0")
        return self

    def __repr__(self) -> str:
        shown = self._asdict()
        shown["database_url"] = mask_url(self.database_url)
        shown["runtime_database_url"] = mask_url(self.runtime_database_url)
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    __str__ = __repr__

    def require_database_url(self) -> str:
        if not self.database_url:
            raise MissingSettingError(
                DATABASE_URL, "point it at the platform database (a role allowed to CREATE ROLE)"
            )
        return self.database_url

    def require_user_pool_id(self) -> str:
        if not self.user_pool_id:
            raise MissingSettingError(
                USER_POOL_ID, "the Cognito user pool id (a stack output; local: set by `make dev`)"
            )
        return self.user_pool_id

    def require_bucket(self) -> str:
        if not self.bucket:
            raise MissingSettingError(
                BUCKET, "the platform bucket's name (a stack output; local: set by `make dev`)"
            )
        return self.bucket

    @property
    def emulated(self) -> bool:
        """Local and test stages run against moto, which omits some event fields."""
        return self.stage in ("local", "test")

    def require_runtime_database_url(self) -> str:
        if not self.runtime_database_url:
            raise MissingSettingError(
                RUNTIME_DATABASE_URL,
                "the runtime logs in as integreat_runtime; see `integreat db url --runtime`",
            )
        return self.runtime_database_url


def _number(env: Mapping[str, str], name: str, default: float, kind: type[float] | type[int]) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: must be a {kind.__name__}") from None


def settings_from_env(env: Mapping[str, str] | None = None, **explicit: object) -> Settings:
    """Build Settings from explicit arguments, then `env` (default os.environ), then defaults."""
    env = os.environ if env is None else env
    values: dict[str, object] = {
        "stage": env.get(STAGE, "local"),
        "database_url": env.get(DATABASE_URL) or env.get(DATABASE_URL_FALLBACK) or None,
        "runtime_database_url": env.get(RUNTIME_DATABASE_URL) or None,
        "registry_ttl_seconds": _number(env, REGISTRY_TTL_SECONDS, 30.0, float),
        "registry_max_stale_seconds": _number(env, REGISTRY_MAX_STALE_SECONDS, 300.0, float),
        "db_pool_size": int(_number(env, DB_POOL_SIZE, 1, int)),
        "db_connect_timeout": int(_number(env, DB_CONNECT_TIMEOUT, 5, int)),
        "migration_workers": int(_number(env, MIGRATION_WORKERS, 4, int)),
        "region": env.get(REGION) or env.get(REGION_FALLBACK) or "eu-west-1",
        "aws_endpoint_url": env.get(AWS_ENDPOINT_URL) or None,
        "user_pool_id": env.get(USER_POOL_ID) or None,
        "platform_name": env.get(PLATFORM_NAME) or "integreat",
        "bucket": env.get(BUCKET) or None,
        "events_queue": env.get(EVENTS_QUEUE) or "integreat-events",
        "storage_queue": env.get(STORAGE_QUEUE) or "integreat-storage-events",
        "api_role_id": env.get(API_ROLE_ID) or None,
    }
    values.update({k: v for k, v in explicit.items() if v is not None})
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (Lambda: once per cold start)."""
    return settings_from_env()
