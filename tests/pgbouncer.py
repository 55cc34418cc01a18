"""PgBouncer for the tests: skip on a user's machine without the binary, fail in CI without it."""

from __future__ import annotations

import os

import pytest

from integreat.local.pgbouncer import find_pgbouncer, running_pgbouncer, through

REQUIRE_ENV = "INTEGREAT_REQUIRE_PGBOUNCER"


def require_pgbouncer() -> None:
    if find_pgbouncer() is None:
        message = "pgbouncer is not installed (Debian: apt-get install pgbouncer); CI installs it"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(message)
        pytest.skip(message)


__all__ = ["require_pgbouncer", "running_pgbouncer", "through"]
