"""Unit tests for chalicelib.tenancy.manifest: the shipped manifest, every rule, loading."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chalicelib.tenancy.errors import InvalidSlugError, TenancyError, UnknownAppError
from chalicelib.tenancy.manifest import (
    FILE_KEY,
    MANIFEST_ENV,
    MANIFEST_FILENAME,
    SYNTAX_KEY,
    AppSpec,
    Manifest,
    ManifestError,
    ManifestIssue,
    PlatformSpec,
    load_manifest,
    parse_manifest,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'


def app_toml(slug: str = "church", body: str = 'name = "Grace Church"\n') -> str:
    """A valid platform plus one `[apps.<slug>]` table with `body`."""
    return f"{PLATFORM}\n[apps.{slug}]\n{body}"


def issues_of(text: str) -> tuple[ManifestIssue, ...]:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "bad.toml")
    return caught.value.issues


# --- the shipped manifest -----------------------------------------------------------------------


def test_shipped_manifest_declares_the_three_demo_apps() -> None:
    manifest = load_manifest(REPO_ROOT / MANIFEST_FILENAME)

    assert manifest.platform == PlatformSpec(name="integreat", region="eu-west-1")
    assert manifest.slugs == ("church", "events", "students")
    for app in manifest.apps:
        assert app.name.strip()
        assert app.roles[0] == "member"
        assert len(set(app.roles)) == len(app.roles)
    assert manifest.app("students").enrollment == "invite"


# --- valid manifests ----------------------------------------------------------------------------


def test_defaults_deny_by_default() -> None:
    app = parse_manifest(app_toml()).app("church")

    assert app == AppSpec(slug="church", name="Grace Church", enrollment="invite", roles=("member",))
    assert app.description == ""


def test_full_app_keeps_every_field_and_file_order() -> None:
    body = 'name = "Grace"\nenrollment = "open"\nroles = ["member", "admin"]\ndescription = "Hi\\nthere"\n'
    text = app_toml("zeta", body) + '\n[apps.alpha]\nname = "Alpha"\n'

    manifest = parse_manifest(text)

    assert manifest.slugs == ("zeta", "alpha")
    assert manifest.app("zeta") == AppSpec("zeta", "Grace", "open", ("member", "admin"), "Hi\nthere")
    assert manifest.source == "<string>"


@pytest.mark.parametrize("apps", ["", "[apps]\n"], ids=["no-apps-table", "empty-apps-table"])
def test_platform_without_apps_is_valid(apps: str) -> None:
    assert parse_manifest(PLATFORM + apps).apps == ()


def test_unknown_app_raises_unknown_app_error() -> None:
    manifest = parse_manifest(app_toml())

    with pytest.raises(UnknownAppError, match="'events' is not declared in <string>"):
        manifest.app("events")


def test_specs_are_frozen() -> None:
    manifest = parse_manifest(app_toml())

    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.app("church").name = "Other"  # type: ignore[misc]


def test_app_spec_refuses_a_bad_slug_even_when_built_by_hand() -> None:
    with pytest.raises(InvalidSlugError):
        AppSpec(slug='x"; drop role postgres; --', name="x", enrollment="invite", roles=("member",))


def test_manifest_refuses_duplicate_slugs_when_built_by_hand() -> None:
    app = AppSpec("church", "Grace", "invite", ("member",))

    with pytest.raises(ValueError, match="unique"):
        Manifest(PlatformSpec("integreat", "eu-west-1"), (app, app), "<test>")


# --- invalid manifests: one case per rule -------------------------------------------------------

SQL_SLUG = 'x"; drop role postgres; --'
SQL_SLUG_2 = 'church"; DROP SCHEMA public; --'


def church(extra: str) -> str:
    """A valid `[apps.church]` with a name, plus the `extra` lines under test."""
    return app_toml(body=f'name = "G"\n{extra}')


def case(case_id: str, text: str, key: str, fragment: str) -> object:
    return pytest.param(text, key, fragment, id=case_id)


INVALID = [
    # TOML itself
    case("syntax", "[platform\n", SYNTAX_KEY, "line 1"),
    case("duplicate-app", app_toml() + "[apps.church]\n", "apps.church", "duplicate app 'church'"),
    case("duplicate-app-line", app_toml() + '\n[apps.church]\nname = "x"\n', "apps.church", "at line 8"),
    case("duplicate-key", church('name = "b"\n'), SYNTAX_KEY, "duplicate key"),
    case("duplicate-platform", PLATFORM + PLATFORM, SYNTAX_KEY, "line 4"),
    # top level
    case("unknown-top-key", "colour = 1\n" + PLATFORM, "colour", "allowed: 'platform', 'apps'"),
    case("no-platform", "[apps]\n", "platform", "is required"),
    case("platform-not-table", 'platform = "integreat"\n', "platform", "must be a [platform] table"),
    case("apps-not-table", 'apps = ["church"]\n' + PLATFORM, "apps", "got array"),
    # platform
    case("platform-name-missing", '[platform]\nregion = "eu-west-1"\n', "platform.name", "is required"),
    case("platform-name-type", PLATFORM.replace('"integreat"', "7"), "platform.name", "got integer 7"),
    case("platform-name-case", PLATFORM.replace("integreat", "Integreat"), "platform.name", "'Integreat'"),
    case("platform-region-missing", '[platform]\nname = "integreat"\n', "platform.region", "is required"),
    case("platform-region-bad", PLATFORM.replace("eu-west-1", "europe"), "platform.region", "'eu-west-1'"),
    case("platform-unknown-key", PLATFORM + 'stage = "dev"\n', "platform.stage", "allowed: 'name', 'region'"),
    # slugs
    case("slug-uppercase", app_toml("Church"), "apps.Church", "must start with a lowercase letter"),
    case("slug-hyphen", app_toml("my-app"), "apps.my-app", "only a-z, 0-9 and _"),
    case("slug-reserved", app_toml("admin"), "apps.admin", "is reserved"),
    case("slug-reserved-prefix", app_toml("pg_catalog"), "apps.pg_catalog", "is reserved"),
    case("slug-too-long", app_toml("a" * 41), "apps." + "a" * 41, "the limit is 40"),
    case("slug-double-underscore", app_toml("a__login"), "apps.a__login", "'__'"),
    case("slug-empty", app_toml('""'), 'apps.""', "non-empty"),
    case("slug-sql", app_toml(f"'{SQL_SLUG}'"), 'apps."x\\"; drop role postgres; --"', "lowercase letter"),
    case("slug-sql-2", app_toml(f"'{SQL_SLUG_2}'"), 'apps."church\\"; DROP SCHEMA public; --"', "a-z, 0-9"),
    case("slug-newline", app_toml('"a\\nb"'), 'apps."a\\nb"', "lowercase letter"),
    case("app-not-table", PLATFORM + '[apps]\nchurch = "Grace"\n', "apps.church", "must be a table"),
    case("app-unknown-key", church('enrolment = "open"\n'), "apps.church.enrolment", "did you mean"),
    # display name
    case("name-missing", app_toml(body='enrollment = "open"\n'), "apps.church.name", "is required"),
    case("name-type", app_toml(body="name = 3\n"), "apps.church.name", "must be a string"),
    case("name-empty", app_toml(body='name = ""\n'), "apps.church.name", "is blank"),
    case("name-blank", app_toml(body='name = "   "\n'), "apps.church.name", "1 to 80 characters"),
    case("name-too-long", app_toml(body=f'name = "{"x" * 81}"\n'), "apps.church.name", "is 81 characters"),
    case("name-control", app_toml(body='name = "Grace\\u0007"\n'), "apps.church.name", "U+0007"),
    case("name-newline", app_toml(body='name = "Grace\\nChurch"\n'), "apps.church.name", "U+000A"),
    case("name-bidi", app_toml(body='name = "Grace\\u202e"\n'), "apps.church.name", "U+202E"),
    # enrollment
    case(
        "enrollment-bad",
        church('enrollment = "public"\n'),
        "apps.church.enrollment",
        "must be one of 'open', 'invite'; got 'public'",
    ),
    case("enrollment-type", church("enrollment = true\n"), "apps.church.enrollment", "got boolean true"),
    # roles
    case("roles-not-array", church('roles = "member"\n'), "apps.church.roles", "must be an array"),
    case("roles-empty", church("roles = []\n"), "apps.church.roles", "must include 'member'"),
    case("roles-no-member", church('roles = ["admin"]\n'), "apps.church.roles", "'member'"),
    case("role-uppercase", church('roles = ["member", "Admin"]\n'), "apps.church.roles[1]", "a role name"),
    case("role-type", church('roles = ["member", 3]\n'), "apps.church.roles[1]", "got integer 3"),
    case("role-too-long", church(f'roles = ["member", "{"a" * 32}"]\n'), "apps.church.roles[1]", "up to 30"),
    case("role-sql", church('roles = ["member", "x\'; --"]\n'), "apps.church.roles[1]", "a role name"),
    case(
        "role-duplicate",
        church('roles = ["member", "admin", "admin"]\n'),
        "apps.church.roles[2]",
        "duplicate role 'admin', first at roles[1]",
    ),
    # description
    case("description-type", church("description = 1\n"), "apps.church.description", "must be a string"),
    case(
        "description-too-long",
        church(f'description = "{"x" * 1001}"\n'),
        "apps.church.description",
        "is 1001 characters",
    ),
    case("description-control", church('description = "a\\u001bb"\n'), "apps.church.description", "U+001B"),
]


@pytest.mark.parametrize(("text", "key", "fragment"), INVALID)
def test_invalid_manifest_is_reported_with_key_and_reason(text: str, key: str, fragment: str) -> None:
    issues = issues_of(text)

    matching = [issue for issue in issues if issue.key == key]
    assert matching, f"no issue for {key!r}; got {issues}"
    assert any(fragment in issue.message for issue in matching), matching


def test_error_names_file_key_and_reason_one_line_per_issue() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(app_toml(body='name = "G"\nenrollment = "public"\n'), "apps/integreat.toml")

    assert isinstance(caught.value, TenancyError)
    assert caught.value.source == "apps/integreat.toml"
    assert str(caught.value) == (
        "apps/integreat.toml: apps.church.enrollment: must be one of 'open', 'invite'; got 'public'"
    )


def test_every_issue_in_one_file_is_reported() -> None:
    text = (
        'colour = "blue"\n[platform]\nname = "Integreat"\nregion = "europe"\n'
        '[apps.church]\nnam = "Grace"\nenrollment = "public"\nroles = ["admin", "admin", "Bad"]\n'
        f"[apps.'{SQL_SLUG}']\nname = \"x\"\n"
        '[apps."a\\nb"]\nname = "ok"\n'
    )

    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "many.toml")

    keys = [issue.key for issue in caught.value.issues]
    assert keys == [
        "colour",
        "platform.name",
        "platform.region",
        "apps.church.nam",
        "apps.church.name",
        "apps.church.enrollment",
        "apps.church.roles[1]",
        "apps.church.roles[2]",
        "apps.church.roles",
        'apps."x\\"; drop role postgres; --"',
        'apps."a\\nb"',
    ]
    lines = str(caught.value).splitlines()
    assert len(lines) == len(keys)  # a hostile key cannot break the one-line-per-issue format
    assert all(line.startswith("many.toml: ") for line in lines)


# --- loading ------------------------------------------------------------------------------------


def test_load_manifest_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(app_toml(), encoding="utf-8")

    manifest = load_manifest(path)

    assert manifest.slugs == ("church",)
    assert manifest.source == str(path)


def test_load_manifest_missing_path_says_what_was_tried(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    with pytest.raises(ManifestError) as caught:
        load_manifest(missing)

    (issue,) = caught.value.issues
    assert issue.key == FILE_KEY
    assert str(missing) in issue.message
    assert MANIFEST_ENV in issue.message


def test_load_manifest_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text(app_toml("events", 'name = "City Events"\n'), encoding="utf-8")
    monkeypatch.setenv(MANIFEST_ENV, str(path))

    assert load_manifest().slugs == ("events",)


def test_load_manifest_names_the_environment_when_its_file_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MANIFEST_ENV, str(tmp_path / "gone.toml"))

    with pytest.raises(ManifestError, match=f"gone.toml.*from {MANIFEST_ENV}"):
        load_manifest()


def test_load_manifest_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MANIFEST_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ManifestError, match=f"default ./{MANIFEST_FILENAME}"):
        load_manifest()

    (tmp_path / MANIFEST_FILENAME).write_text(app_toml(), encoding="utf-8")

    assert load_manifest().source == MANIFEST_FILENAME


def test_load_manifest_reports_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(app_toml(body='name = "Caf\xe9"\n').encode("latin-1"))

    with pytest.raises(ManifestError, match="utf-8"):
        load_manifest(path)


def test_load_manifest_reports_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path)
