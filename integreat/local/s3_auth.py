"""Who sent an S3 request: SigV4 verified as S3 verifies it (header, presigned query, POST policy).

moto accepts any signature; the local S3 front verifies each request against the credentials the
local platform knows (`Keyring`): its own key (the API, the storage worker and the CLI; in AWS
the API's role), the service credentials it issues to app backends (their app's role) and the
role sessions its STS AssumeRole issues (`SessionKeys`: the API's storage credentials, each
carrying its session policy). S3's
canonical request differs from other services' in two ways (AWS SigV4 reference, "Create a
canonical request"): the path is used as sent, encoded once, and the payload hash is the
`x-amz-content-sha256` header (presigned URLs: UNSIGNED-PAYLOAD).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

from chalicelib.identity.service_keys import ServiceKeys
from chalicelib.identity.sigv4 import SignatureError
from integreat.local.s3_errors import S3Error, access_denied, signature_mismatch, unknown_key

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)  # S3's RequestTimeTooSkewed limit
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
UNSIGNED = "UNSIGNED-PAYLOAD"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


class Principal(NamedTuple):
    """Who signed: `principal_id` as S3 events name it; `role_id` when IAM must decide; for a role
    session started with a session policy, that policy (IAM allows only what both allow)."""

    principal_id: str  # "AWS:AIDA..." (the platform's key), "AWS:AROA...:session" (an app's role)
    role_id: str | None  # None: the platform's own key (the API's role: the whole bucket)
    session_policy: dict[str, Any] | None = None


class Incoming(NamedTuple):
    method: str
    path: str  # as received, percent-encoded, without the query
    query: str  # raw
    headers: Message
    body: bytes


class Scope(NamedTuple):
    access_key: str
    date: str
    region: str
    service: str

    @classmethod
    def parse(cls, credential: str) -> Scope:
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed", f"malformed credential {credential!r}")
        return cls(*parts[:4])

    def text(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


#: Service credentials' tokens have one dot and no prefix: neither kind opens as the other.
SESSION_TOKEN_PREFIX = "sts."  # noqa: S105 (a marker, not a secret)


class Session(NamedTuple):
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: int  # epoch seconds
    role_id: str
    name: str  # the RoleSessionName
    policy: dict[str, Any] | None  # the session policy, None when AssumeRole passed none


class SessionKeys:
    """The local STS's role sessions, stateless as ServiceKeys' credentials: the token carries the
    role's unique id, the session name, the expiry and the session policy under the platform's
    MAC (other purposes than ServiceKeys', under the same key), and the secret is derived from it.
    As in AWS, the session policy travels inside the session token."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(key) < 32:
            raise ValueError("the session key must be at least 32 bytes")
        self._key, self._clock = key, clock

    def issue(self, role_id: str, name: str, policy: dict[str, Any] | None, seconds: int) -> Session:
        key_id = "ASIA" + base64.b32encode(secrets.token_bytes(10)).decode()
        expires = int(self._clock()) + seconds
        claims = {"k": key_id, "r": role_id, "n": name, "e": expires, "p": policy}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        token = f"{SESSION_TOKEN_PREFIX}{payload}.{_b64(self._mac(b'sts-token', payload))}"
        return Session(key_id, self._secret(payload), token, expires, role_id, name, policy)

    def open(self, access_key_id: str, token: str) -> Session:
        """The session of credentials this platform's STS issued, or SignatureError."""
        payload, _, mac = token.removeprefix(SESSION_TOKEN_PREFIX).partition(".")
        try:
            genuine = hmac.compare_digest(_unb64(mac), self._mac(b"sts-token", payload))
            claims = json.loads(_unb64(payload)) if genuine else None
        except (ValueError, UnicodeDecodeError):
            claims = None
        if not isinstance(claims, dict) or claims.get("k") != access_key_id:
            raise SignatureError("the security token was not issued by this platform for this access key")
        if not isinstance(claims.get("e"), int) or claims["e"] < self._clock():
            raise SignatureError("the session has expired; ask for new credentials")
        return Session(access_key_id, self._secret(payload), token, claims["e"], str(claims["r"]),
                       str(claims["n"]), claims.get("p"))  # fmt: skip

    def _mac(self, purpose: bytes, payload: str) -> bytes:
        return hmac.new(self._key, purpose + b"\0" + payload.encode(), hashlib.sha256).digest()

    def _secret(self, payload: str) -> str:
        return _b64(self._mac(b"sts-secret", payload))[:40]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keyring:
    """The credentials of the local platform: its own keys, the service credentials it issued and
    (with `sessions`) the role sessions its STS issued."""

    def __init__(
        self,
        platform_keys: Mapping[str, str],
        platform_principal: str,
        services: ServiceKeys,
        sessions: SessionKeys | None = None,
    ) -> None:
        self._platform = dict(platform_keys)
        self._principal = platform_principal
        self._services = services
        self.sessions = sessions

    def open(self, access_key: str, token: str | None) -> tuple[str, Principal]:
        """(secret key, principal) of `access_key`, or S3Error as S3 answers unknown credentials."""
        if access_key in self._platform:
            return self._platform[access_key], Principal(self._principal, None)
        if not access_key.startswith("ASIA") or not token:
            raise unknown_key(access_key)
        try:
            if token.startswith(SESSION_TOKEN_PREFIX) and self.sessions is not None:
                session = self.sessions.open(access_key, token)
                principal = Principal(
                    f"AWS:{session.role_id}:{session.name}", session.role_id, session.policy
                )
                return session.secret_access_key, principal
            role_id, secret = self._services.open(access_key, token)
        except SignatureError as exc:
            expired = "expired" in exc.reason
            raise S3Error(400, "ExpiredToken" if expired else "InvalidToken", exc.reason) from None
        return secret, Principal(f"AWS:{role_id}:integreat-service", role_id)


def signing_key(secret: str, scope: Scope) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (scope.date, scope.region, scope.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(secret: str, scope: Scope, text: str) -> str:
    return hmac.new(signing_key(secret, scope), text.encode(), hashlib.sha256).hexdigest()


def verify_request(
    request: Incoming, keyring: Keyring, region: str, now: datetime | None = None
) -> Principal:
    """The principal of a header-signed or presigned S3 request; S3Error otherwise."""
    now = now or datetime.now(UTC)
    if request.headers.get("authorization"):
        return _verify_header(request, keyring, region, now)
    query = query_pairs(request.query)
    if any(name == "X-Amz-Credential" for name, _ in query):
        return _verify_query(request, dict(query), keyring, region, now)
    if any(name == "AWSAccessKeyId" for name, _ in query):
        return _verify_query_v2(request, dict(query), keyring, now)
    raise access_denied()  # anonymous: the bucket blocks public access


def _verify_header(request: Incoming, keyring: Keyring, region: str, now: datetime) -> Principal:
    match = _AUTH.fullmatch(str(request.headers.get("authorization")).strip())
    if match is None:
        raise S3Error(400, "InvalidArgument", "only AWS4-HMAC-SHA256 (SigV4) Authorization is supported")
    scope = _scope(match["credential"], region)
    stamp = str(request.headers.get("x-amz-date") or "")
    _check_time(stamp, scope, now)
    payload = str(request.headers.get("x-amz-content-sha256") or "")
    if not payload:
        raise S3Error(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    if _HEX64.fullmatch(payload) and hashlib.sha256(request.body).hexdigest() != payload:
        raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")  # fmt: skip
    signed = match["signed"].split(";")
    canonical = _canonical(request, query_pairs(request.query), signed, payload)
    return _check_signature(scope, stamp, canonical, match["signature"], keyring, request.headers.get("x-amz-security-token"))  # fmt: skip


def verify_signed(request: Incoming, keyring: Keyring, region: str, service: str, now: datetime | None = None) -> Principal:  # fmt: skip
    """The principal of a header-signed request to another service (the local STS): the canonical
    request of every service but S3, whose payload hash is computed, never read from a header."""
    match = _AUTH.fullmatch(str(request.headers.get("authorization") or "").strip())
    if match is None:
        raise S3Error(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
    scope = _scope(match["credential"], region, service)
    stamp = str(request.headers.get("x-amz-date") or "")
    _check_time(stamp, scope, now or datetime.now(UTC))
    payload = hashlib.sha256(request.body).hexdigest()
    canonical = _canonical(request, query_pairs(request.query), match["signed"].split(";"), payload)
    return _check_signature(scope, stamp, canonical, match["signature"], keyring, request.headers.get("x-amz-security-token"))  # fmt: skip


def _verify_query(
    request: Incoming, query: dict[str, str], keyring: Keyring, region: str, now: datetime
) -> Principal:
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm must be AWS4-HMAC-SHA256")
    scope = _scope(query.get("X-Amz-Credential", ""), region)
    stamp = query.get("X-Amz-Date", "")
    when = _parse_stamp(stamp)
    expires = int(query.get("X-Amz-Expires", "0")) if query.get("X-Amz-Expires", "").isdigit() else -1
    if not 0 < expires <= MAX_PRESIGN_SECONDS:
        raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be 1 to 604800 seconds")
    if now > when + timedelta(seconds=expires):
        raise access_denied("Request has expired")
    pairs = [(k, v) for k, v in query_pairs(request.query) if k != "X-Amz-Signature"]
    payload = query.get("X-Amz-Content-Sha256", UNSIGNED)
    canonical = _canonical(request, pairs, query.get("X-Amz-SignedHeaders", "").split(";"), payload)
    token = query.get("X-Amz-Security-Token")
    return _check_signature(scope, stamp, canonical, query.get("X-Amz-Signature", ""), keyring, token)


def verify_post_signature(fields: Mapping[str, str], keyring: Keyring, region: str) -> Principal:
    """A presigned POST form's signer: x-amz-signature is the HMAC of the base64 policy
    (S3 API reference, "Calculating a signature" for browser-based uploads)."""
    if "awsaccesskeyid" in fields and "x-amz-algorithm" not in fields:
        return _verify_post_v2(fields, keyring)
    if fields.get("x-amz-algorithm") != ALGORITHM:
        raise access_denied("form uploads need x-amz-algorithm AWS4-HMAC-SHA256 (SigV4)")
    scope = _scope(fields.get("x-amz-credential", ""), region)
    stamp = fields.get("x-amz-date", "")
    _parse_stamp(stamp)
    secret, principal = keyring.open(scope.access_key, fields.get("x-amz-security-token"))
    expected = sign(secret, scope, fields.get("policy", ""))
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        raise signature_mismatch(scope.access_key)
    return principal


# botocore presigns with SigV2 (HMAC-SHA1) against a custom endpoint unless the client is
# configured for s3v4; S3 still verifies SigV2 in the regions that had it (see the report's gaps).
def _verify_query_v2(request: Incoming, query: dict[str, str], keyring: Keyring, now: datetime) -> Principal:
    from botocore.auth import HmacV1Auth
    from botocore.credentials import Credentials

    access_key, expires = query.get("AWSAccessKeyId", ""), query.get("Expires", "")
    if not expires.isdigit():
        raise access_denied(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
        )
    if now.timestamp() > int(expires):
        raise access_denied("Request has expired")
    secret, principal = keyring.open(access_key, query.get("x-amz-security-token"))
    rest = "&".join(
        p
        for p in request.query.split("&")
        if p.split("=")[0] not in ("Signature", "AWSAccessKeyId", "Expires")
    )
    split = urlsplit(f"http://s3{request.path}" + (f"?{rest}" if rest else ""))
    token = query.get("x-amz-security-token")
    auth = HmacV1Auth(Credentials(access_key, secret, token))
    auth._get_date = lambda: expires  # the query form signs Expires
    signed = Message()  # botocore edits the headers it signs (deletes, re-adds the token)
    for name, value in request.headers.items():
        if name.lower() in ("content-md5", "content-type") or name.lower().startswith("x-amz-"):
            signed[name.lower()] = str(value)
    expected = auth.get_signature(request.method, split, signed)
    if not hmac.compare_digest(expected, query.get("Signature", "")):
        raise signature_mismatch(access_key)
    return principal


def _verify_post_v2(fields: Mapping[str, str], keyring: Keyring) -> Principal:
    access_key = fields.get("awsaccesskeyid", "")
    secret, principal = keyring.open(access_key, fields.get("x-amz-security-token"))
    digest = hmac.new(secret.encode(), fields.get("policy", "").encode(), hashlib.sha1).digest()
    if not hmac.compare_digest(base64.b64encode(digest).decode(), fields.get("signature", "")):
        raise signature_mismatch(access_key)
    return principal


def _check_signature(
    scope: Scope, stamp: str, canonical: str, signature: str, keyring: Keyring, token: str | None
) -> Principal:
    secret, principal = keyring.open(scope.access_key, token)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    expected = sign(secret, scope, f"{ALGORITHM}\n{stamp}\n{scope.text()}\n{digest}")
    if not hmac.compare_digest(expected, signature):
        raise signature_mismatch(scope.access_key)
    return principal


def _scope(credential: str, region: str, service: str = "s3") -> Scope:
    scope = Scope.parse(credential)
    if scope.service != service or scope.region != region:
        raise S3Error(
            400, "AuthorizationHeaderMalformed", f"the credential scope must be {region}/{service}, not {scope.region}/{scope.service}"
        )  # fmt: skip
    return scope


def _parse_stamp(stamp: str) -> datetime:
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise access_denied("X-Amz-Date must be a timestamp like 20261128T120000Z") from None


def _check_time(stamp: str, scope: Scope, now: datetime) -> None:
    if stamp[:8] != scope.date:
        raise S3Error(400, "AuthorizationHeaderMalformed", "X-Amz-Date and the credential scope disagree")
    if abs(now - _parse_stamp(stamp)) > MAX_SKEW:
        raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")  # fmt: skip


def _credential(request: Incoming) -> str:
    match = _AUTH.fullmatch(str(request.headers.get("authorization") or "").strip())
    return match["credential"] if match else dict(query_pairs(request.query)).get("X-Amz-Credential", "")


def query_pairs(raw: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs; `+` stays a plus, as in S3's canonical query."""
    pairs = []
    for part in raw.split("&") if raw else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def _canonical(request: Incoming, query: list[tuple[str, str]], signed: list[str], payload: str) -> str:
    if "host" not in signed:
        raise S3Error(400, "AuthorizationHeaderMalformed", "the host header must be signed")
    headers = []
    for name in signed:
        values = request.headers.get_all(name)
        if values is None:  # S3 then computes another canonical request: a mismatch
            raise signature_mismatch(Scope.parse(_credential(request)).access_key)
        headers.append(f"{name}:{','.join(' '.join(str(v).split()) for v in values)}\n")
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query)
    return "\n".join(
        [
            request.method.upper(),
            request.path or "/",  # S3: the path as sent, not normalized or encoded again
            "&".join(f"{k}={v}" for k, v in encoded),
            "".join(headers),
            ";".join(signed),
            payload,
        ]
    )
