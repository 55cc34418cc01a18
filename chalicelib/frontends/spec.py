"""The `[apps.<slug>.frontend]` table of the manifest, and its parser.

    [apps.church.frontend]
    origins = ["https://church.example.org", "http://localhost:5173"]   # exact browser origins
    repository = "https://github.com/example/church-web"  # optional: Amplify builds from it
    branch = "main"                                        # the branch Amplify builds
    token_secret = "church/github-token"                   # Secrets Manager name of its token
    domain = "church.example.org"                          # optional custom domain

An origin is exactly what a browser sends in `Origin`: a scheme, a host and an optional port, no
path, no trailing slash, no wildcard. Over https any host; over http only a loopback host
(`localhost`, `127.0.0.1`, `[::1]`), which only `make dev` honours.

Only the manifest tooling imports this module.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalicelib.frontends.model import LOOPBACK_HOSTS, FrontendSpec

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

FRONTEND_KEYS = ("origins", "repository", "branch", "token_secret", "domain")
_HOST = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HTTPS_ORIGIN = re.compile(rf"https://{_HOST}(?::[1-9][0-9]{{0,4}})?")
LOOPBACK_ORIGIN = re.compile(
    rf"http://(?:{'|'.join(re.escape(h) for h in LOOPBACK_HOSTS)})(?::[1-9][0-9]{{0,4}})?"
)
DOMAIN = re.compile(_HOST + r"\.[a-z]{2,63}")
REPOSITORY = re.compile(r"https://[a-z0-9.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
ORIGIN_RULE = (
    "an exact origin: https://<host>[:<port>], or http://localhost[:<port>] (or 127.0.0.1, [::1]) for"
    " make dev; lowercase, no path, no trailing slash, no wildcard"
)


def parse_frontend(app: Table) -> FrontendSpec | None:
    """The app's frontend (the default, none, when it declares no table); None if any key is wrong."""
    table = app.table("frontend", "a table, written [apps.<slug>.frontend]", default={})
    if table is None:
        return None
    before = len(table.issues)
    table.check_keys(FRONTEND_KEYS)
    origins = parse_origins(table)
    repository = _optional(
        table, "repository", REPOSITORY, "the repository's https URL, such as https://github.com/org/repo"
    )
    branch = table.matching("branch", BRANCH, "a git branch name") if "branch" in table.values else "main"
    token = _optional(
        table, "token_secret", SECRET_NAME, "the Secrets Manager name of the repository's access token"
    )
    domain = _optional(table, "domain", DOMAIN, "a lowercase domain name such as church.example.org")
    if repository is not None and "token_secret" not in table.values:
        table.report(
            "token_secret", "is required with `repository`: Amplify reads the repository with that token"
        )
    if len(table.issues) != before or origins is None or branch is None:
        return None
    return FrontendSpec(origins, repository, branch, token, domain)


def parse_origins(table: Table) -> tuple[str, ...] | None:
    """`table`'s `origins` (an app's frontend, the console); None after reporting a problem."""
    raw = table.values.get("origins", [])
    if not isinstance(raw, list):
        table.reject("origins", 'an array of origins such as ["https://church.example.org"]', raw)
        return None
    where = table.child("origins")
    for index, origin in enumerate(raw):
        if not isinstance(origin, str):
            where.reject(index, ORIGIN_RULE, origin)
        elif not (HTTPS_ORIGIN.fullmatch(origin) or LOOPBACK_ORIGIN.fullmatch(origin)):
            where.report(index, f"must be {ORIGIN_RULE}; got {origin!r}{_hint(origin)}")
    return tuple(dict.fromkeys(raw)) if all(isinstance(o, str) for o in raw) else None


def _hint(origin: str) -> str:
    if origin.startswith("http://"):
        return " (http is for loopback hosts only: use https)"
    if origin.endswith("/"):
        return " (remove the trailing slash)"
    if "*" in origin:
        return " (wildcards are not allowed: list each origin)"
    return ""


def _optional(table: Table, name: str, pattern: re.Pattern[str], allowed: str) -> str | None:
    return table.matching(name, pattern, allowed) if name in table.values else None
