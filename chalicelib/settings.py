"""Typed settings, read once from the environment, each declared once.

Every setting is one `Setting` on `Settings`: its environment variable, how its text is read, its
default, whether it is secret, and what it means. That one declaration drives parsing
(`settings_from_env`), repr masking, and the configuration table of the README (a test keeps the
two equal). Resolution order for every value: explicit argument, then environment, then default
(as Starlette's Config and Powertools' resolve_env_var_choice do).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit, urlunsplit

# Environment variable names, in one place.
STAGE = "INTEGREAT_STAGE"
DATABASE_URL = "INTEGREAT_DATABASE_URL"  # operator/provisioning URL (a role that may CREATE ROLE)
DATABASE_URL_FALLBACK = "DATABASE_URL"  # the conventional name, accepted when ours is unset
RUNTIME_DATABASE_URL = "INTEGREAT_RUNTIME_DATABASE_URL"  # Lambda: logs in as integreat_runtime
#: The runtime URL of a cell other than home (issue 16): INTEGREAT_CELL_EU2_RUNTIME_URL for `eu2`.
CELL_RUNTIME_URL_PREFIX, CELL_RUNTIME_URL_SUFFIX = "INTEGREAT_CELL_", "_RUNTIME_URL"
CONSOLE_ORIGINS = "INTEGREAT_CONSOLE_ORIGINS"  # the admin console's origins (CORS)
USAGE = "INTEGREAT_USAGE"  # usage metering and per-app limits: on (default) or off
REGISTRY_TTL_SECONDS = "INTEGREAT_REGISTRY_TTL_SECONDS"
REGISTRY_MAX_STALE_SECONDS = "INTEGREAT_REGISTRY_MAX_STALE_SECONDS"
DB_POOL_SIZE = "INTEGREAT_DB_POOL_SIZE"
DB_CONNECT_TIMEOUT = "INTEGREAT_DB_CONNECT_TIMEOUT"
MIGRATION_WORKERS = "INTEGREAT_MIGRATION_WORKERS"
REGION = "AWS_REGION"
REGION_FALLBACK = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL = "INTEGREAT_AWS_ENDPOINT_URL"
USER_POOL_ID = "INTEGREAT_USER_POOL_ID"
PLATFORM_NAME = "INTEGREAT_PLATFORM_NAME"
BUCKET = "INTEGREAT_BUCKET"
EVENTS_QUEUE = "INTEGREAT_EVENTS_QUEUE"
STORAGE_QUEUE = "INTEGREAT_STORAGE_QUEUE"
API_ROLE_ID = "INTEGREAT_API_ROLE_ID"

STAGES = ("local", "dev", "prod", "test")

T = TypeVar("T")


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


class Setting(Generic[T]):
    """One setting, declared once as an attribute of `Settings` (a descriptor: the attribute reads
    the instance's value). `parse` turns the variable's text into the value; an empty variable
    counts as unset unless `keep_empty` (a stage of "" is an error, not the default)."""

    __slots__ = ("default", "env", "fallback", "keep_empty", "meaning", "name", "parse", "secret", "shown")

    def __init__(
        self,
        env: str,
        default: T,
        parse: Callable[[str], T],
        meaning: str,
        *,
        secret: bool = False,
        fallback: str | None = None,
        shown: str | None = None,
        keep_empty: bool = False,
    ) -> None:
        self.env, self.default, self.parse, self.meaning = env, default, parse, meaning
        self.secret, self.fallback, self.keep_empty = secret, fallback, keep_empty
        self.shown = shown  # the default as the README says it, when None is not the whole story
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Setting[T]: ...
    @overload
    def __get__(self, obj: Settings, owner: type | None = None) -> T: ...
    def __get__(self, obj: Settings | None, owner: type | None = None) -> Setting[T] | T:
        if obj is None:
            return self
        value: T = obj._values[self.name]
        return value

    def read(self, env: Mapping[str, str]) -> T:
        """The value `env` gives this setting, or its default."""
        raw = self._raw(env)
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except ValueError:
            raise SettingsError(f"{self.env}={raw!r}: must be a {self.parse.__name__}") from None

    def _raw(self, env: Mapping[str, str]) -> str | None:
        for name in (self.env, self.fallback):
            raw = env.get(name) if name else None
            if raw is not None and (raw or self.keep_empty):
                return raw
        return None

    def shown_default(self) -> str:
        """The default, for the README's configuration table."""
        if self.shown is not None:
            return self.shown
        return "—" if self.default is None else f"`{self.default}`"


def _text(raw: str) -> str:
    return raw


CellUrls = tuple[tuple[str, str], ...]  # (cell name, runtime URL), sorted: hashable like every value


class CellUrlsSetting(Setting[CellUrls]):
    """One variable per cell, `INTEGREAT_CELL_<NAME>_RUNTIME_URL`: the cell's name (lowercase)
    and the URL the runtime logs in with there. A family of variables rather than one list, so a
    stage adds a cell by adding one secret-backed variable (`.chalice/config.json`, the stack)."""

    __slots__ = ()

    def read(self, env: Mapping[str, str]) -> CellUrls:
        found = []
        for name, raw in env.items():
            if name.startswith(CELL_RUNTIME_URL_PREFIX) and name.endswith(CELL_RUNTIME_URL_SUFFIX) and raw:
                cell = name[len(CELL_RUNTIME_URL_PREFIX) : -len(CELL_RUNTIME_URL_SUFFIX)].lower()
                if cell:
                    found.append((cell, raw))
        return tuple(sorted(found))


_text.__name__ = "string"


def _origin_list(raw: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in raw.split(",") if origin.strip())


_origin_list.__name__ = "comma-separated list of origins"


def _on_off(raw: str) -> bool:
    if raw.lower() not in ("on", "off"):
        raise ValueError(raw)
    return raw.lower() == "on"


_on_off.__name__ = '"on" or "off"'


class Settings:
    """Immutable settings, validated on construction: `Settings(stage="prod")`. A slotted class of
    descriptors rather than a dataclass: it is created at every cold start, and a dataclass costs
    ~1 ms to define."""

    __slots__ = ("_values",)

    stage: Setting[str] = Setting(
        STAGE, "local", _text, f"one of {', '.join(STAGES)} (set per stage in `.chalice/config.json`)",
        keep_empty=True,
    )  # fmt: skip
    database_url: Setting[str | None] = Setting(
        DATABASE_URL, None, _text,
        "operator URL: a role that may `CREATE ROLE` (Neon: the database owner). Used by the CLI, "
        "provisioning and, when set, by `make test` (point it at a disposable cluster: tests create "
        f"and drop roles); `{DATABASE_URL_FALLBACK}` is read when it is unset",
        secret=True, fallback=DATABASE_URL_FALLBACK, shown="local embedded Postgres",
    )  # fmt: skip
    runtime_database_url: Setting[str | None] = Setting(
        RUNTIME_DATABASE_URL, None, _text,
        "what Lambda uses: logs in as `integreat_runtime` (`integreat db url --runtime`)",
        secret=True, shown="required at run time",
    )  # fmt: skip
    cell_runtime_urls: Setting[CellUrls] = CellUrlsSetting(
        f"{CELL_RUNTIME_URL_PREFIX}<NAME>{CELL_RUNTIME_URL_SUFFIX}", (), lambda raw: (),
        "the runtime URL of each cell but home (`[cells.<name>]` in the manifest; the home cell's is "
        f"`{RUNTIME_DATABASE_URL}`), one variable per cell",
        secret=True, shown="none: one cell",
    )  # fmt: skip
    console_origins: Setting[tuple[str, ...]] = Setting(
        CONSOLE_ORIGINS, (), _origin_list,
        "the admin console's browser origins, comma-separated (`[console] origins` in the manifest;"
        " the stack and `make dev` set it): they may call every route but `/service`",
        shown="none",
    )  # fmt: skip
    usage: Setting[bool] = Setting(
        USAGE, True, _on_off,
        "usage metering and per-app limits (`off`: neither, an escape hatch; usage then shows nothing)",
        shown="`on`",
    )  # fmt: skip
    registry_ttl_seconds: Setting[float] = Setting(
        REGISTRY_TTL_SECONDS, 30.0, float, "how long the runtime trusts its cached app registry"
    )
    registry_max_stale_seconds: Setting[float] = Setting(
        REGISTRY_MAX_STALE_SECONDS, 300.0, float,
        "how long past its TTL the runtime serves its last good app registry while the database is "
        "unreachable (0: never)",
    )  # fmt: skip
    db_pool_size: Setting[int] = Setting(
        DB_POOL_SIZE, 1, int, "runtime connection pool size (one Lambda handles one request at a time)"
    )
    db_connect_timeout: Setting[int] = Setting(DB_CONNECT_TIMEOUT, 5, int, "database connect timeout (s)")
    migration_workers: Setting[int] = Setting(
        MIGRATION_WORKERS, 4, int, "parallel connections for migrations"
    )
    region: Setting[str] = Setting(
        REGION, "eu-west-1", _text,
        f"region of the pool and every AWS resource; `{REGION_FALLBACK}` is read when it is unset",
        fallback=REGION_FALLBACK,
    )  # fmt: skip
    aws_endpoint_url: Setting[str | None] = Setting(
        AWS_ENDPOINT_URL, None, _text,
        "one endpoint for every AWS service (moto server locally); also where the JWKS is fetched",
        shown="AWS",
    )  # fmt: skip
    user_pool_id: Setting[str | None] = Setting(
        USER_POOL_ID, None, _text,
        "the one Cognito user pool (a CDK stack output); enables the Cognito/IAM step of `apps sync` "
        "and token verification",
        shown="required by the API",
    )  # fmt: skip
    platform_name: Setting[str] = Setting(
        PLATFORM_NAME,
        "integreat",
        _text,
        "prefix of AWS resource names (IAM role `<platform>-<stage>-app-<slug>`)",
    )
    bucket: Setting[str | None] = Setting(
        BUCKET, None, _text, "the one bucket (apps' folders `<slug>/`, the platform's `_quarantine/`)",
        shown="required by the files API and the storage consumer",
    )  # fmt: skip
    events_queue: Setting[str] = Setting(
        EVENTS_QUEUE, "integreat-events", _text, "the cross-app queue (its DLQ is `<name>-dlq`)"
    )
    storage_queue: Setting[str] = Setting(
        STORAGE_QUEUE, "integreat-storage-events", _text,
        "the storage-events queue the consumer is subscribed to (set at deploy)",
    )  # fmt: skip
    api_role_id: Setting[str | None] = Setting(
        API_ROLE_ID, None, _text,
        "the unique id (AROA...) of the API function's role: uploads it signed carry metadata the "
        "consumer trusts, events it sends are trusted as stamped",
    )  # fmt: skip

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(SETTINGS)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        self._values = {name: values.get(name, s.default) for name, s in SETTINGS.items()}
        self._validate()

    def _validate(self) -> None:
        if self.stage not in STAGES:
            raise SettingsError(f"{STAGE}={self.stage!r}: must be one of {', '.join(STAGES)}")
        if self.db_pool_size < 1 or self.migration_workers < 1:
            raise SettingsError(f"{DB_POOL_SIZE} and {MIGRATION_WORKERS} must be >= 1")
        if self.registry_max_stale_seconds < 0:
            raise SettingsError(f"{REGISTRY_MAX_STALE_SECONDS} must be >= 0")

    def _asdict(self) -> dict[str, Any]:
        return dict(self._values)

    def _replace(self, **changes: Any) -> Settings:
        return Settings(**(self._values | changes))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.values()))

    def __setattr__(self, name: str, value: object) -> None:
        if name != "_values" or hasattr(self, "_values"):
            raise AttributeError("Settings are immutable: use _replace()")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        shown = {
            name: _masked(value) if SETTINGS[name].secret else value for name, value in self._values.items()
        }
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

    def cell_runtime_url(self, cell: str) -> str:
        """The runtime URL of cell `cell` (not home), from `INTEGREAT_CELL_<NAME>_RUNTIME_URL`."""
        for name, url in self.cell_runtime_urls:
            if name == cell:
                return url
        variable = f"{CELL_RUNTIME_URL_PREFIX}{cell.upper()}{CELL_RUNTIME_URL_SUFFIX}"
        raise MissingSettingError(
            variable, f"the registry places apps in cell {cell!r}: give its runtime URL"
        )

    def require_runtime_database_url(self) -> str:
        if not self.runtime_database_url:
            raise MissingSettingError(
                RUNTIME_DATABASE_URL,
                "the runtime logs in as integreat_runtime; see `integreat db url --runtime`",
            )
        return self.runtime_database_url


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, tuple):
        return tuple((name, mask_url(url)) for name, url in value)
    return value


def _declared() -> Iterator[tuple[str, Setting[Any]]]:
    for name, value in vars(Settings).items():
        if isinstance(value, Setting):
            yield name, value


#: Every setting by field name, in declaration order: the table parsing, repr and the README use.
SETTINGS: Mapping[str, Setting[Any]] = dict(_declared())


def settings_from_env(env: Mapping[str, str] | None = None, **explicit: object) -> Settings:
    """Build Settings from explicit arguments, then `env` (default os.environ), then defaults."""
    env = os.environ if env is None else env
    values: dict[str, object] = {name: setting.read(env) for name, setting in SETTINGS.items()}
    values.update({k: v for k, v in explicit.items() if v is not None})
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (Lambda: once per cold start)."""
    return settings_from_env()
