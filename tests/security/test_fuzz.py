"""Property-based fuzzing of the input boundary (issue 14): hostile input on every route of the
route table, through the real app, and never a 5xx.

Generated from POLICIES, as the authorization matrix is, so a new route is fuzzed without
anyone listing it. Three properties, each a few thousand requests through Chalice's test client
(the app, the authorization middleware, real Postgres and moto from tests/conftest.py):

- paths and queries: every path parameter and the query parameters the handlers read (plus
  unknown names) get real values or hostile strings (NUL, lone surrogates, traversal, huge,
  Unicode digits, format characters), sent raw as a gateway that decoded them would pass them;
- bodies: hostile JSON (deep, wide, huge numbers, NaN/Infinity, duplicate keys, \\ud800, \\u0000,
  bytes that are not UTF-8) and upload- and event-shaped objects with hostile fields, in each
  media type the events route reads (JSON, structured, batch, binary with ce- headers);
- tokens: bad segments, deep JSON in header or payload, huge, non-ASCII, and validly signed
  tokens whose claims are hostile.

Callers: anonymous, a member of the path's app (a valid token of its client), and a service
principal (SigV4 of the path's app's role). Passing: every answer a 2xx or 4xx, and every 4xx in
the one error shape. Nothing fails fast: every request is counted, and the counts go to
benchmarks/.scratch/fuzz.json (read by benchmarks/robustness.py). Deterministic (derandomize,
no example database); no event it sends is publishable (no type an app declares), so nothing
reaches the shared events queue.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as chalice_app  # noqa: F401 (importing the app registers every route and its policy)
from chalicelib.gateway.policy import POLICIES, SERVICE_PREFIX
from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.identity.tokens import issuer_for
from tests.conftest import ROOT, IdentityPlatform
from tests.tokens import Signer, access_claims

SCRATCH = ROOT / "benchmarks" / ".scratch" / "fuzz.json"
EXAMPLES = {"paths and queries": 900, "bodies": 650, "tokens": 600}
MIN_REQUESTS = 5000
ROUTES = sorted(POLICIES)
APPS = ("church", "events", "students")
_PARAM = re.compile(r"\{(\w+)\}")

HOSTILE = [
    "", " ", "\x00", "%00", "a\x00b", "\ud800", "x\udfffy", "\ud83d", "..", "../../etc/passwd",
    "%2e%2e%2f", "\\", "' OR '1'='1", "'; DROP TABLE files; --", "${jndi:x}", "{{7*7}}", "%", "%zz",
    "²", "①", "-1", "0", "99999999999999999999999", "1e999", "NaN", "\u202e", "\ufeff", "😀",
    "\r\nX-Injected: 1", "a" * 2048, "\x7f\x80\x9f", "church\x00", "uploads/\x00", "a\ud800.txt",
]  # fmt: skip
REAL = {"app": list(APPS), "name": ["services"], "user": ["nobody-here"], "role": ["admin", "member"],
        "seq": ["1", "2"], "folder": ["uploads/", "public/", "private/{user}/"], "limit": ["1", "50"],
        "key": ["church/uploads/a.txt"], "cursor": ["1", "a"], "after": ["0"], "kind": ["upload"]}  # fmt: skip
#: The query parameters each handler reads (others get an unread one: it must do no harm either).
QUERIES = {"/admin/audit": ["app", "kind", "limit", "cursor"], "/apps/{app}/datasets/{name}": ["limit", "cursor"],
           "/apps/{app}/files": ["folder", "limit", "cursor"], "/apps/{app}/files/download": ["key"],
           "/apps/{app}/inbox": ["after", "limit"]}  # fmt: skip

#: Hypothesis' text() never draws a surrogate: one is put between two random texts, as is a NUL.
_planted = st.tuples(
    st.text(max_size=6), st.integers(0xD800, 0xDFFF).map(chr) | st.just("\x00"), st.text(max_size=6)
)
hostile_text = st.one_of(st.sampled_from(HOSTILE), _planted.map("".join), st.text(max_size=12))


def _value(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(REAL.get(name, ["x"])) | hostile_text


# --- hostile JSON ------------------------------------------------------------------------------------

#: Just past the limit, and where json.loads itself gives up (~1,000): hypothesis would favour
#: small integers from a range.
_depth = st.sampled_from([65, 200, 999, 1000, 5000])
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text
_json_values = st.recursive(_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(hostile_text, c, max_size=4), max_leaves=12)  # fmt: skip
UPLOAD = {"folder": "uploads/", "filename": "a.txt", "content_type": "text/plain", "size": 10}
_odd_value: st.SearchStrategy[Any] = hostile_text | st.sampled_from(
    [2**63, 10**400, -1, True, None, 1.5, [], {}]
)
#: A valid upload request with one field hostile (or an unknown key added).
_upload = st.sampled_from([*UPLOAD, "extra"]).flatmap(lambda k: _odd_value.map(lambda v: UPLOAD | {k: v}))
#: Never a type an app declares (integreat.toml): no fuzzed event is ever published.
_event_type = st.sampled_from(["church.fuzz.never", "fuzz"]) | hostile_text.map(lambda s: f"fuzz.{s}")
_event = st.fixed_dictionaries(
    {"specversion": st.sampled_from(["1.0", "0.3"]) | hostile_text, "id": hostile_text, "type": _event_type},
    optional={"source": hostile_text, "time": hostile_text, "data": _json_values,
              "datacontenttype": st.sampled_from(["application/json", "text/plain"]) | hostile_text},
)  # fmt: skip
_structured = (_upload | _event | _json_values | st.lists(_event, max_size=11)).map(json.dumps)
_raw_json = st.one_of(
    _depth.map(lambda n: "[" * n + "]" * n),
    _depth.map(lambda n: '{"a":' * n + "1" + "}" * n),
    _depth.map(lambda n: "[" * n),  # never closed
    st.integers(1000, 20000).map(lambda n: "[" + ",".join(["1"] * n) + "]"),
    st.integers(300, 6000).map(lambda n: "1" * n),
    st.sampled_from(["1e999", "-1e400", "[NaN]", '{"size": Infinity}', "-Infinity", '{"a":1,"a":2}',
                     '"\\ud800"', '{"filename": "\\udc00.txt"}', '"\\u0000"', '{"\\u0000": 1}', "", "{", "]"]),
    _structured,
)  # fmt: skip
_bad_bytes = st.sampled_from([b"\xff\xfe", b'"\xed\xa0\x80"', b'{"a": "\xc0\xaf"}', b"\x00"])
hostile_body = _raw_json.map(str.encode) | _bad_bytes
#: The routes that decode a JSON body, drawn as often as every other write route together.
BODY_ROUTES = [r for r in ROUTES if r[1] == "POST" and r[0].endswith(("/events", "/files/uploads"))]
MEDIA = [
    "application/json",
    "application/json",
    "application/json",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
    "text/plain",
]
_ce_headers = st.fixed_dictionaries(
    {"ce-specversion": st.sampled_from(["1.0"]) | hostile_text, "ce-id": hostile_text, "ce-type": _event_type}
)


# --- hostile tokens ----------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_segment = st.binary(max_size=64).map(_b64) | _raw_json.map(lambda s: _b64(s.encode())) | hostile_text
_junk_token = st.one_of(
    st.lists(_segment, min_size=1, max_size=5).map(".".join),
    st.tuples(_raw_json, _raw_json).map(lambda hp: f"{_b64(hp[0].encode())}.{_b64(hp[1].encode())}.c2ln"),
    st.integers(16000, 40000).map(lambda n: "a" * n),
    st.sampled_from(["é.é.é", "a\ud800.b.c", "\x00.\x00.\x00", "..", "."]),
)
_claims = st.fixed_dictionaries(
    {},
    optional={"username": hostile_text, "sub": hostile_text, "client_id": hostile_text,
              "cognito:groups": st.lists(hostile_text, max_size=3) | hostile_text,
              "exp": st.integers() | st.floats(), "integreat:roles": hostile_text, "token_use": hostile_text},
)  # fmt: skip
_scheme = st.sampled_from(["Bearer ", "bearer ", "Basic ", "Bearer  ", ""])


# --- the harness -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Every request sent and its status; the first few offending requests, to show."""

    statuses: Counter[int] = field(default_factory=Counter)
    offending: list[str] = field(default_factory=list)

    def record(self, sent: str, response: Any) -> None:
        status = response.status_code
        self.statuses[status] += 1
        bad = status >= 500 or (status >= 400 and not _error_shaped(response.body))
        if bad and len(self.offending) < 20:
            self.offending.append(f"{sent[:300]} -> {status}: {response.body[:300]!r}")

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _error_shaped(body: bytes) -> bool:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and {"code", "message", "request_id"} <= set(error)


def _query_part(text: str) -> str:
    """`text` percent-encoded for a query; raw where UTF-8 cannot encode it (a lone surrogate),
    so that it arrives as sent, as from a gateway that decoded the query itself."""
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:
        return "".join(quote(c, safe="") if c in "%&=#+; " else c for c in text)


def _path(pattern: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        value = values[match[1]]
        return "".join({"/": "%2F", "?": "%3F", "#": "%23"}.get(c, c) for c in value) or "x"

    return _PARAM.sub(fill, pattern)


@dataclass
class Harness:
    """Sends one fuzzed request as a caller and records its answer."""

    api: Any
    identity: IdentityPlatform
    signer: Signer
    keys: ServiceKeys
    tally: Tally = field(default_factory=Tally)

    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, app: str, claims: dict[str, Any] | None = None) -> str:
        """A valid access token of `app`'s client (one per app: RSA signing costs ~1 ms), or one
        signed over hostile `claims`."""
        if claims is None and app in self.tokens:
            return self.tokens[app]
        issuer = issuer_for(self.identity.settings.region, self.identity.user_pool_id)
        token = self.signer.sign(
            access_claims(issuer, self.identity.clients[app], "fuzzer", [app]) | (claims or {})
        )
        if claims is None:
            self.tokens[app] = token
        return token

    def send_as_each(self, route: tuple[str, str], path: str, headers: dict[str, str], body: bytes) -> None:
        for caller in CALLERS:
            self.send(route, path, caller, headers, body)

    def send(
        self, route: tuple[str, str], path: str, caller: str, headers: dict[str, str], body: bytes
    ) -> None:
        method = route[1]
        app = next((a for a in APPS if f"/apps/{a}/" in path or path.endswith(f"/apps/{a}")), "church")
        if caller == "member" and "authorization" not in {h.lower() for h in headers}:
            headers = headers | {"Authorization": f"Bearer {self.token(app)}"}
        elif caller == "service":
            headers = headers | self._signed(app, method, path, body)
        response = self.api.http.request(method, path, headers=headers, body=body)
        self.tally.record(f"{caller} {method} {path!r} {headers!r} {body[:200]!r}", response)

    def _signed(self, app: str, method: str, path: str, body: bytes) -> dict[str, str]:
        try:
            return self.identity.sigv4(self.keys, app, method, path, body)
        except (UnicodeError, ValueError):  # botocore cannot sign what it cannot encode: unsigned
            return {"Authorization": "AWS4-HMAC-SHA256 Credential=unsignable"}


def _routes(keep: Any = lambda route: True) -> st.SearchStrategy[tuple[str, str]]:
    """A route of the table, each view about as likely as any other: the integration proxy is
    one view declared at eight depths and five methods (80 of the table's routes)."""
    families: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for route in filter(keep, ROUTES):
        families.setdefault((re.sub(r"(/\{p\d\})+$", "/{p}", route[0]), route[1]), []).append(route)
    return st.sampled_from(sorted(families)).flatmap(lambda family: st.sampled_from(families[family]))


_route = _routes()
#: Every generated request is sent as each: hypothesis' generation costs more than a request.
CALLERS = ("anonymous", "member", "service")
_fuzz_settings = settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def _real(name: str) -> str:
    return REAL.get(name, ["x"])[0]


def _paths_and_queries(h: Harness) -> None:
    # One hostile value per request, every other parameter real: so the request gets past the
    # app lookup and the folder check to where that value is used (SQL, a key, a log line).
    @settings(_fuzz_settings, max_examples=EXAMPLES["paths and queries"])
    @given(_route, st.data())
    def prop(route: tuple[str, str], data: st.DataObject) -> None:
        names = QUERIES.get(route[0].removeprefix(SERVICE_PREFIX), ["cursor"])
        params = _PARAM.findall(route[0])
        values = {name: _real(name) for name in [*params, *names]}
        target = data.draw(st.sampled_from([*values, "?"]))  # "?": a hostile query name
        hostile = data.draw(hostile_text)
        values[target] = hostile
        query = "&".join(f"{_query_part(n)}={_query_part(values[n])}" for n in names)
        if target == "?":
            query += f"{'&' if query else ''}{_query_part(hostile)}=1"
        path = _path(route[0], {n: values[n] for n in params}) + (f"?{query}" if query else "")
        h.send_as_each(route, path, {"Content-Type": "application/json"}, b"{}" if route[1] != "GET" else b"")

    prop()


def _bodies(h: Harness) -> None:

    @settings(_fuzz_settings, max_examples=EXAMPLES["bodies"])
    @given(
        st.sampled_from(BODY_ROUTES) | _routes(lambda r: r[1] != "GET"),
        st.sampled_from(APPS),
        hostile_body,
        st.sampled_from(MEDIA),
        st.data(),
    )
    def prop(route: tuple[str, str], app: str, body: bytes, media: str, data: st.DataObject) -> None:
        values = {
            name: data.draw(st.sampled_from(REAL.get(name, ["x"]))) for name in _PARAM.findall(route[0])
        }
        headers = {"Content-Type": media}
        if media == "text/plain" and data.draw(st.booleans()):
            headers |= data.draw(_ce_headers)  # binary mode: the event's attributes as headers
        h.send_as_each(route, _path(route[0], values | {"app": app}), headers, body)

    prop()


def _tokens(h: Harness) -> None:
    users = _routes(lambda r: POLICIES[r].authenticate and not r[0].startswith(SERVICE_PREFIX))

    @settings(_fuzz_settings, max_examples=EXAMPLES["tokens"])
    @given(users, _scheme, _junk_token | _claims.map(lambda c: ("signed", c)), st.data())
    def prop(route: tuple[str, str], scheme: str, token: Any, data: st.DataObject) -> None:
        values = {
            name: data.draw(st.sampled_from(REAL.get(name, ["x"]))) for name in _PARAM.findall(route[0])
        }
        path = _path(route[0], values)
        if isinstance(token, tuple):  # a valid signature over hostile claims
            token = h.token(values.get("app", "church"), token[1])
        h.send(
            route,
            path,
            "member",
            {"Authorization": scheme + token, "Content-Type": "application/json"},
            b"{}",
        )

    prop()


PROPERTIES = {"paths and queries": _paths_and_queries, "bodies": _bodies, "tokens": _tokens}


def write_report(tally: Tally, seconds: float, by_property: dict[str, int], path: Path = SCRATCH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"requests": tally.requests, "server_errors": tally.server_errors, "seconds": round(seconds, 1),
              "by_property": by_property, "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
              "offending": tally.offending}  # fmt: skip
    path.write_text(json.dumps(report, indent=2, ensure_ascii=True) + "\n")


@pytest.mark.timeout(240)
def test_no_hostile_input_gets_a_server_error(
    identity: IdentityPlatform, signer: Signer, service_keys: ServiceKeys, signed_api: Any, church_view: None
) -> None:
    harness = Harness(signed_api, identity, signer, service_keys)
    began, by_property = time.monotonic(), {}
    for name, run in PROPERTIES.items():
        before = harness.tally.requests
        run(harness)
        by_property[name] = harness.tally.requests - before
    seconds = time.monotonic() - began
    write_report(harness.tally, seconds, by_property)
    print(f"\nfuzz: {harness.tally.requests} requests in {seconds:.1f} s, {harness.tally.server_errors} 5xx")
    assert harness.tally.offending == []
    assert harness.tally.requests >= MIN_REQUESTS  # guards a run that stopped early
