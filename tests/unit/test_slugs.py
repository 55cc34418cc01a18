"""Unit tests for chalicelib.tenancy.slugs: the slug whitelist and every name derived from it."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import pytest

from chalicelib.tenancy.errors import InvalidSlugError
from chalicelib.tenancy.slugs import (
    MAX_SLUG_LENGTH,
    RESERVED_PREFIXES,
    RESERVED_SLUGS,
    app_role,
    login_role,
    schema_name,
    slug_problem,
    validate_slug,
)

#: NAMEDATALEN - 1: Postgres silently truncates longer identifiers, so two long names could merge.
POSTGRES_IDENTIFIER_BYTES = 63
DERIVED_NAMES = (schema_name, app_role, login_role)
LONGEST_SLUG = "a" * MAX_SLUG_LENGTH


def random_valid_slugs(seed: int, count: int) -> list[str]:
    """`count` distinct valid slugs of every length 1..MAX, many with single underscores."""
    rng = random.Random(seed)
    tail_alphabet = string.ascii_lowercase + string.digits + "_"
    found: set[str] = set()
    while len(found) < count:
        length = rng.randint(1, MAX_SLUG_LENGTH)
        candidate = rng.choice(string.ascii_lowercase) + "".join(
            rng.choice(tail_alphabet) for _ in range(length - 1)
        )
        if slug_problem(candidate) is None:
            found.add(candidate)
    return sorted(found)


# --- valid slugs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "slug", ["church", "a", "events", "students", "app2", "my_app", "a1_b2_c3", "x9", LONGEST_SLUG]
)
def test_valid_slugs_are_returned_unchanged(slug: str) -> None:
    assert slug_problem(slug) is None
    assert validate_slug(slug) == slug


def test_exactly_max_length_is_valid_and_one_more_is_not() -> None:
    assert validate_slug(LONGEST_SLUG) == LONGEST_SLUG

    with pytest.raises(InvalidSlugError, match=f"limit is {MAX_SLUG_LENGTH}"):
        validate_slug("a" * (MAX_SLUG_LENGTH + 1))


# --- each rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", None, 42, b"church", ["church"], 3.5])
def test_empty_or_non_string_is_rejected(value: object) -> None:
    assert slug_problem(value) == "must be a non-empty string"
    with pytest.raises(InvalidSlugError):
        validate_slug(value)


@pytest.mark.parametrize(
    ("slug", "rule"),
    [
        ("Church", "lowercase"),
        ("CHURCH", "lowercase"),
        ("chUrch", "lowercase"),
        ("1church", "start with a lowercase letter"),
        ("9", "start with a lowercase letter"),
        ("_church", "start with a lowercase letter"),
        ("my-app", "only a-z, 0-9 and _"),
        ("my app", "only a-z, 0-9 and _"),
        ("my.app", "only a-z, 0-9 and _"),
        ("church\n", "only a-z, 0-9 and _"),
        ("my__app", "'__'"),
        ("a__login", "'__'"),
        ("church_", "end with '_'"),
    ],
)
def test_pattern_and_separator_rules(slug: str, rule: str) -> None:
    problem = slug_problem(slug)

    assert problem is not None
    assert rule in problem
    with pytest.raises(InvalidSlugError, match="invalid app slug"):
        validate_slug(slug)


@pytest.mark.parametrize("slug", sorted(RESERVED_SLUGS))
def test_reserved_names_are_rejected(slug: str) -> None:
    with pytest.raises(InvalidSlugError, match="is reserved"):
        validate_slug(slug)


@pytest.mark.parametrize(
    "slug", ["pg_x", "pg_catalog", "integreat_x", "aws", "awsapp", "cognito", "cognito_x"]
)
def test_reserved_prefixes_are_rejected(slug: str) -> None:
    assert slug.startswith(RESERVED_PREFIXES)
    with pytest.raises(InvalidSlugError, match="is reserved"):
        validate_slug(slug)


def test_near_misses_of_reserved_names_are_allowed() -> None:
    # Only the listed names and prefixes are reserved, not everything that contains them.
    for slug in ("pgx", "my_admin", "publicity", "rooted", "integreatx"):
        assert validate_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    [
        'a"; drop role x; --',
        "a; drop schema public cascade",
        "a' or '1'='1",
        'app"."x',
        "a/*x*/",
        "\u0441hurch",  # Cyrillic es, looks like Latin c
        "chur\u0441h",  # the same look-alike at the end
        "\uff43hurch",  # fullwidth c
        "caf\u00e9",
        "a\u0663",  # Arabic-Indic digit three: a Unicode digit, but not 0-9
        "church\x00",
        "\x00",
        "church\x00; drop role x",
    ],
)
def test_hostile_strings_never_validate(slug: str) -> None:
    with pytest.raises(InvalidSlugError):
        validate_slug(slug)
    for derive in DERIVED_NAMES:
        with pytest.raises(InvalidSlugError):
            derive(slug)


def test_error_is_a_value_error_and_quotes_the_input() -> None:
    with pytest.raises(ValueError, match=r"'my-app'"):
        validate_slug("my-app")


# --- derived names ------------------------------------------------------------------------------


def test_derived_names_of_a_slug() -> None:
    assert schema_name("church") == "app_church"
    assert app_role("church") == "app_church"
    assert login_role("church") == "app_church__login"


@pytest.mark.parametrize("derive", DERIVED_NAMES)
def test_derived_names_of_the_longest_slug_fit_a_postgres_identifier(derive: Callable[[str], str]) -> None:
    name = derive(LONGEST_SLUG)

    assert LONGEST_SLUG in name
    assert len(name.encode()) <= POSTGRES_IDENTIFIER_BYTES


def test_derived_names_of_different_slugs_never_collide() -> None:
    # Given a few hundred random valid slugs, plus each one's `<slug>_login` twin, the slug
    # closest to forging another app's login role name
    slugs = random_valid_slugs(seed=20240531, count=400)
    twins = [f"{s}_login" for s in slugs if slug_problem(f"{s}_login") is None]
    everyone = sorted(set(slugs) | set(twins))
    assert len(twins) > 100  # the twins really are in play

    # When every derived name is computed
    app_roles = {app_role(s) for s in everyone}
    login_roles = {login_role(s) for s in everyone}

    # Then each mapping is injective and no app role is anyone's login role
    assert len(app_roles) == len(everyone)
    assert len(login_roles) == len(everyone)
    assert app_roles.isdisjoint(login_roles)
    assert all(len(name.encode()) <= POSTGRES_IDENTIFIER_BYTES for name in app_roles | login_roles)


def test_random_slugs_cover_the_interesting_shapes() -> None:
    slugs = random_valid_slugs(seed=7, count=300)

    assert any("_" in s for s in slugs)
    assert any(any(c.isdigit() for c in s) for s in slugs)
    assert max(len(s) for s in slugs) >= MAX_SLUG_LENGTH - 5
    assert min(len(s) for s in slugs) <= 5
