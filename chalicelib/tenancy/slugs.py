"""Slug rules and every name derived from a slug.

The slug is the only tenant-supplied string that ever becomes part of an SQL identifier or an
AWS resource name, so it is validated here, once, against a strict whitelist; every derived
name is built by a function below from a validated slug. Nothing else formats these names.
"""

from __future__ import annotations

import re

from chalicelib.tenancy.errors import InvalidSlugError

#: Lowercase letter first, then lowercase letters, digits and single underscores.
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9_]*")

#: Postgres truncates identifiers at 63 bytes (NAMEDATALEN - 1). The longest name we derive is
#: the LOGIN role `app_<slug>__login` (11 extra bytes), and AWS names such as
#: `integreat-<stage>-<slug>-inbox-dlq` (SQS: 80 chars) must fit too, so 40 leaves headroom.
MAX_SLUG_LENGTH = 40

#: Names that would shadow platform objects, Postgres namespaces, or read as privileged.
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "apps",
        "auth",
        "default",
        "information_schema",
        "integreat",
        "none",
        "null",
        "platform",
        "postgres",
        "public",
        "quarantine",
        "root",
        "runtime",
        "system",
        "user",
    }
)
RESERVED_PREFIXES = ("pg_", "integreat_", "aws", "cognito")

#: Separator between a slug and a suffix in derived names. Slugs may not contain it, so
#: `app_a__login` (app `a`) can never equal the role of another app.
_SUFFIX_SEPARATOR = "__"


def slug_problem(slug: object) -> str | None:
    """Say what is wrong with `slug`, or None when it is valid."""
    if not isinstance(slug, str) or not slug:
        return "must be a non-empty string"
    if len(slug) > MAX_SLUG_LENGTH:
        return f"is {len(slug)} characters; the limit is {MAX_SLUG_LENGTH}"
    if not SLUG_PATTERN.fullmatch(slug):
        return "must start with a lowercase letter and contain only a-z, 0-9 and _"
    if _SUFFIX_SEPARATOR in slug or slug.endswith("_"):
        return "may not contain '__' or end with '_' (reserved for derived names)"
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        return f"is reserved (reserved: {', '.join(sorted(RESERVED_SLUGS))}; prefixes {RESERVED_PREFIXES})"
    return None


def validate_slug(slug: object) -> str:
    """Return `slug` unchanged if valid, else raise InvalidSlugError saying why.

    >>> validate_slug("church")
    'church'
    """
    problem = slug_problem(slug)
    if problem is not None:
        raise InvalidSlugError(f"invalid app slug {slug!r}: {problem}")
    assert isinstance(slug, str)
    return slug


def schema_name(slug: str) -> str:
    """The app's Postgres schema, which is also the name of its NOLOGIN role."""
    return f"app_{validate_slug(slug)}"


def app_role(slug: str) -> str:
    """The NOLOGIN role that owns the app's schema; the runtime switches to it per transaction."""
    return schema_name(slug)


def login_role(slug: str) -> str:
    """The app team's own LOGIN role, limited to the app's schema."""
    return f"{schema_name(slug)}{_SUFFIX_SEPARATOR}login"
