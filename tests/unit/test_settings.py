"""Unit tests for chalicelib.settings: precedence, parsing, masking and named errors."""

from __future__ import annotations

import pytest

from chalicelib.settings import (
    DATABASE_URL,
    DATABASE_URL_FALLBACK,
    DB_CONNECT_TIMEOUT,
    DB_POOL_SIZE,
    MIGRATION_WORKERS,
    REGISTRY_TTL_SECONDS,
    RUNTIME_DATABASE_URL,
    STAGE,
    MissingSettingError,
    Settings,
    SettingsError,
    mask_url,
    settings_from_env,
)

PASSWORD = "s3cr3t-Pa55word"
OPERATOR_URL = f"postgresql://operator:{PASSWORD}@db.internal:5432/integreat"
RUNTIME_URL = f"postgresql://integreat_runtime:{PASSWORD}-rt@db.internal:6432/integreat"


# --- precedence ---------------------------------------------------------------------------------


def test_defaults_when_nothing_is_set() -> None:
    settings = settings_from_env(env={})

    assert settings == Settings()
    assert settings.stage == "local"
    assert settings.database_url is None
    assert settings.runtime_database_url is None
    assert settings.registry_ttl_seconds == 30.0
    assert settings.db_pool_size == 1
    assert settings.db_connect_timeout == 5
    assert settings.migration_workers == 4


def test_environment_overrides_defaults() -> None:
    env = {
        STAGE: "prod",
        DATABASE_URL: OPERATOR_URL,
        RUNTIME_DATABASE_URL: RUNTIME_URL,
        REGISTRY_TTL_SECONDS: "60.5",
        DB_POOL_SIZE: "3",
        DB_CONNECT_TIMEOUT: "9",
        MIGRATION_WORKERS: "8",
    }

    settings = settings_from_env(env=env)

    assert settings == Settings(
        stage="prod",
        database_url=OPERATOR_URL,
        runtime_database_url=RUNTIME_URL,
        registry_ttl_seconds=60.5,
        db_pool_size=3,
        db_connect_timeout=9,
        migration_workers=8,
    )
    assert isinstance(settings.db_pool_size, int)


def test_explicit_arguments_override_the_environment() -> None:
    env = {STAGE: "dev", DB_POOL_SIZE: "3", REGISTRY_TTL_SECONDS: "10", DATABASE_URL: OPERATOR_URL}

    settings = settings_from_env(env=env, stage="prod", db_pool_size=7, database_url="postgresql://x@y/z")

    assert settings.stage == "prod"
    assert settings.db_pool_size == 7
    assert settings.database_url == "postgresql://x@y/z"
    assert settings.registry_ttl_seconds == 10.0  # not given explicitly: the environment still wins


def test_an_explicit_none_means_not_given() -> None:
    settings = settings_from_env(env={STAGE: "dev"}, stage=None)

    assert settings.stage == "dev"


def test_empty_numeric_variables_fall_back_to_the_default() -> None:
    settings = settings_from_env(env={DB_POOL_SIZE: "", REGISTRY_TTL_SECONDS: ""})

    assert settings.db_pool_size == 1
    assert settings.registry_ttl_seconds == 30.0


def test_os_environ_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STAGE, "dev")
    monkeypatch.setenv(DB_POOL_SIZE, "2")

    settings = settings_from_env()

    assert settings.stage == "dev"
    assert settings.db_pool_size == 2


# --- DATABASE_URL fallback ----------------------------------------------------------------------


def test_database_url_falls_back_to_the_conventional_name() -> None:
    settings = settings_from_env(env={DATABASE_URL_FALLBACK: OPERATOR_URL})

    assert settings.database_url == OPERATOR_URL


def test_our_database_url_wins_over_the_fallback() -> None:
    env = {DATABASE_URL: OPERATOR_URL, DATABASE_URL_FALLBACK: "postgresql://other@elsewhere/db"}

    assert settings_from_env(env=env).database_url == OPERATOR_URL


def test_an_empty_database_url_counts_as_unset() -> None:
    env = {DATABASE_URL: "", DATABASE_URL_FALLBACK: OPERATOR_URL, RUNTIME_DATABASE_URL: ""}

    settings = settings_from_env(env=env)

    assert settings.database_url == OPERATOR_URL
    assert settings.runtime_database_url is None


def test_the_fallback_never_feeds_the_runtime_url() -> None:
    # The runtime must log in as integreat_runtime, never with the operator's URL.
    settings = settings_from_env(env={DATABASE_URL_FALLBACK: OPERATOR_URL})

    assert settings.runtime_database_url is None


# --- malformed values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        (DB_POOL_SIZE, "many"),
        (DB_POOL_SIZE, "1.5"),
        (DB_CONNECT_TIMEOUT, "5s"),
        (MIGRATION_WORKERS, "four"),
        (REGISTRY_TTL_SECONDS, "thirty"),
    ],
)
def test_a_bad_number_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_env(env={name: raw})

    assert name in str(caught.value)
    assert repr(raw) in str(caught.value)


@pytest.mark.parametrize("stage", ["production", "PROD", "", "staging"])
def test_an_unknown_stage_is_rejected(stage: str) -> None:
    with pytest.raises(SettingsError, match=STAGE):
        settings_from_env(env={STAGE: stage})


def test_an_unknown_explicit_stage_is_rejected() -> None:
    with pytest.raises(SettingsError, match="must be one of"):
        settings_from_env(env={}, stage="qa")


@pytest.mark.parametrize(("name", "raw"), [(DB_POOL_SIZE, "0"), (MIGRATION_WORKERS, "-1")])
def test_pool_size_and_workers_must_be_positive(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        settings_from_env(env={name: raw})


# --- secrets in repr ----------------------------------------------------------------------------


def test_repr_and_str_mask_both_passwords() -> None:
    settings = settings_from_env(env={DATABASE_URL: OPERATOR_URL, RUNTIME_DATABASE_URL: RUNTIME_URL})

    for shown in (repr(settings), str(settings), f"{settings}", f"{[settings]}"):
        assert PASSWORD not in shown
        assert "operator:***@db.internal" in shown
        assert "integreat_runtime:***@db.internal" in shown


def test_repr_still_shows_the_other_fields() -> None:
    shown = repr(settings_from_env(env={STAGE: "dev", DB_POOL_SIZE: "2"}))

    assert "stage='dev'" in shown
    assert "db_pool_size=2" in shown
    assert "database_url=None" in shown


def test_a_password_in_the_query_string_is_masked_too() -> None:
    url = f"postgresql://operator@db.internal/integreat?password={PASSWORD}"

    assert PASSWORD not in repr(settings_from_env(env={DATABASE_URL: url}))


# --- mask_url -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (OPERATOR_URL, "postgresql://operator:***@db.internal:5432/integreat"),
        ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"),
        ("postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
        ("postgresql://u:u@u/u", "postgresql://u:***@u/u"),  # password equal to the other parts
    ],
)
def test_mask_url_hides_the_password_and_keeps_the_rest(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgresql://h:5432/db", "postgresql:///db"])
def test_mask_url_leaves_urls_without_a_password_alone(url: str) -> None:
    assert mask_url(url) == url


@pytest.mark.parametrize("empty", [None, ""])
def test_mask_url_passes_empty_values_through(empty: str | None) -> None:
    assert mask_url(empty) == empty


# --- require_* ----------------------------------------------------------------------------------


def test_require_database_url_names_the_variable() -> None:
    with pytest.raises(MissingSettingError) as caught:
        Settings().require_database_url()

    assert caught.value.name == DATABASE_URL
    assert str(caught.value).startswith(f"{DATABASE_URL} is not set")
    assert isinstance(caught.value, SettingsError)


def test_require_runtime_database_url_names_the_variable() -> None:
    with pytest.raises(MissingSettingError) as caught:
        Settings(database_url=OPERATOR_URL).require_runtime_database_url()

    assert caught.value.name == RUNTIME_DATABASE_URL
    assert RUNTIME_DATABASE_URL in str(caught.value)


def test_require_returns_the_value_when_set() -> None:
    settings = Settings(database_url=OPERATOR_URL, runtime_database_url=RUNTIME_URL)

    assert settings.require_database_url() == OPERATOR_URL
    assert settings.require_runtime_database_url() == RUNTIME_URL
