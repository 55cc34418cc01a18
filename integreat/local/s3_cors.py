"""S3's CORS for the local S3 front: the bucket's CORS configuration evaluated as S3 evaluates it.

moto keeps a bucket's CORS configuration and answers preflights from it, but loosely: it matches
an origin by prefix (`http://localhost:5173` admits `http://localhost:51730`), answers every rule
at once, and adds nothing to a signed form's POST. S3 itself takes the first rule that matches
the origin, the method and every requested header, and answers a request no rule matches
without CORS headers (a preflight with 403).
https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html

    cors = BucketCors(lambda bucket: s3.get_bucket_cors(Bucket=bucket)["CORSRules"])
    cors.preflight(bucket, headers)            # (status, headers) for an OPTIONS
    cors.headers(bucket, "GET", headers)       # what to add to any other answer
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

Rules = Sequence[Mapping[str, Any]]


class Headers(Protocol):
    """A request's headers, looked up case-insensitively (email.message.Message, as received)."""

    def get(self, name: str) -> str | None: ...


RULES_TTL_SECONDS = 2.0  # a configuration put straight to moto shows within this


class BucketCors:
    """The CORS decision per bucket, its rules read through `load` (cached briefly)."""

    def __init__(self, load: Callable[[str], Rules], clock: Callable[[], float] = time.monotonic) -> None:
        self._load, self._clock = load, clock
        self._cached: dict[str, tuple[float, Rules]] = {}
        self._lock = threading.Lock()

    def forget(self, bucket: str) -> None:
        """The bucket's configuration changed (a PutBucketCors through the front)."""
        with self._lock:
            self._cached.pop(bucket, None)

    def preflight(self, bucket: str, headers: Headers) -> tuple[int, list[tuple[str, str]]]:
        origin, method = headers.get("origin"), (headers.get("access-control-request-method") or "")
        asked = [h.strip().lower() for h in (headers.get("access-control-request-headers") or "").split(",")]
        rule = self._match(bucket, origin, method, [h for h in asked if h])
        if origin is None or rule is None:
            return 403, []
        answer = [*_allow(rule, origin), ("Access-Control-Allow-Methods", ", ".join(rule["AllowedMethods"]))]
        if any(asked):
            answer.append(("Access-Control-Allow-Headers", ", ".join(h for h in asked if h)))
        if "MaxAgeSeconds" in rule:
            answer.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
        return 200, answer

    def headers(self, bucket: str, method: str, headers: Headers) -> list[tuple[str, str]]:
        origin = headers.get("origin")
        rule = self._match(bucket, origin, method, []) if origin else None
        if origin is None or rule is None:
            return [("Vary", "Origin")] if origin else []
        exposed = rule.get("ExposeHeaders") or []
        return _allow(rule, origin) + (
            [("Access-Control-Expose-Headers", ", ".join(exposed))] if exposed else []
        )

    def _match(
        self, bucket: str, origin: str | None, method: str, asked: list[str]
    ) -> Mapping[str, Any] | None:
        if origin is None:
            return None
        for rule in self._rules(bucket):
            if (
                any(_matches(pattern, origin) for pattern in rule.get("AllowedOrigins", ()))
                and method in rule.get("AllowedMethods", ())
                and all(any(_matches(p.lower(), h) for p in rule.get("AllowedHeaders", ())) for h in asked)
            ):
                return rule
        return None

    def _rules(self, bucket: str) -> Rules:
        now = self._clock()
        with self._lock:
            cached = self._cached.get(bucket)
        if cached is not None and now - cached[0] < RULES_TTL_SECONDS:
            return cached[1]
        rules = self._load(bucket)
        with self._lock:
            self._cached[bucket] = (now, rules)
        return rules


def _allow(rule: Mapping[str, Any], origin: str) -> list[tuple[str, str]]:
    # S3 answers "*" for a rule that allows every origin, else the origin itself
    allowed = "*" if "*" in rule.get("AllowedOrigins", ()) else origin
    return [("Access-Control-Allow-Origin", allowed), ("Vary", "Origin, Access-Control-Request-Headers,"
                                                              " Access-Control-Request-Method")]  # fmt: skip


def _matches(pattern: str, value: str) -> bool:
    """S3's wildcard: one `*` in an AllowedOrigin or AllowedHeader stands for any text."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), value) is not None


def moto_rules(s3: Any) -> Callable[[str], Rules]:
    """Read a bucket's CORS rules from moto's S3 (none configured: no rules)."""
    from botocore.exceptions import ClientError

    def load(bucket: str) -> Rules:
        try:
            return list(s3.get_bucket_cors(Bucket=bucket)["CORSRules"])
        except ClientError:  # NoSuchCORSConfiguration, or no such bucket
            return []

    return load
