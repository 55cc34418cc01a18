"""Verifying an AWS Signature Version 4 request ourselves: the local platform's stand-in for API
Gateway's IAM authorization (in AWS, API Gateway verifies and we read who it verified).

The canonical request is rebuilt from what the server received, as the signer built it from what
it sent (AWS SigV4 specification; botocore's `SigV4Auth` is the client in the tests). Only the
header-signed form is accepted (no presigned query strings), and only for `execute-api`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW_SECONDS = 300  # AWS allows 15 minutes; a local platform can afford to be stricter
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]{16,128})/(?P<date>\d{8})/(?P<region>[a-z0-9-]{1,32})/"
    r"(?P<service>[a-z0-9-]{1,32})/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]{1,1024}),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


class SignatureError(Exception):
    """The request is not correctly signed; `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignedRequest(NamedTuple):
    method: str
    path: str  # as received, percent-encoded, without the query
    query: Mapping[str, list[str]]  # decoded names and values
    headers: Mapping[str, str]  # case-insensitive look-ups (Chalice's request headers)
    body: bytes


class Credential(NamedTuple):
    access_key_id: str
    region: str


#: (access key id, session token or None) -> the secret key, or SignatureError.
SecretFor = Callable[[str, str | None], str]


def verify(request: SignedRequest, *, region: str, secret_for: SecretFor, now: datetime | None = None) -> str:
    """The access key id that signed `request`, or SignatureError saying what is wrong."""
    match = _AUTH.fullmatch((request.headers.get("authorization") or "").strip())
    if match is None:
        raise SignatureError("an AWS SigV4 (AWS4-HMAC-SHA256) Authorization header is required")
    if match["service"] != SERVICE or match["region"] != region:
        raise SignatureError(f"the credential scope must be {region}/{SERVICE}")
    signed = match["signed"].split(";")
    token = request.headers.get("x-amz-security-token")
    if "host" not in signed or "x-amz-date" not in signed or (token and "x-amz-security-token" not in signed):
        raise SignatureError("host, x-amz-date and x-amz-security-token (when sent) must be signed")
    stamp = _timestamp(request.headers.get("x-amz-date") or "", match["date"], now or datetime.now(UTC))
    secret = secret_for(match["key"], token)
    scope = f"{match['date']}/{region}/{SERVICE}/aws4_request"
    digest = hashlib.sha256(canonical_request(request, signed).encode()).hexdigest()
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
    expected = hmac.new(
        _signing_key(secret, match["date"], region), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError("the signature does not match the request")
    return match["key"]


def canonical_request(request: SignedRequest, signed: list[str]) -> str:
    headers = []
    for name in signed:
        value = request.headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is missing")
        headers.append(f"{name}:{' '.join(value.split())}\n")
    return "\n".join(
        [
            request.method.upper(),
            quote(request.path or "/", safe="/~"),  # non-S3 services encode the path twice
            _canonical_query(request.query),
            "".join(headers),
            ";".join(signed),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )


def _canonical_query(query: Mapping[str, list[str]]) -> str:
    pairs = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, values in query.items()
        for value in values
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def _timestamp(header: str, scope_date: str, now: datetime) -> str:
    try:
        when = datetime.strptime(header, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("X-Amz-Date must be a UTC timestamp like 20261128T120000Z") from None
    if header[:8] != scope_date:
        raise SignatureError("X-Amz-Date and the credential scope disagree on the date")
    if abs((now - when).total_seconds()) > MAX_SKEW_SECONDS:
        raise SignatureError("the request's X-Amz-Date is too far from the server's clock (replay?)")
    return header


def _signing_key(secret: str, date: str, region: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
