"""The local S3 front's CORS (integreat/local/s3_cors.py), with the bucket's rule as the stack
declares it (chalicelib/frontends/bucket.py): S3's matching, not moto's prefix match."""

from __future__ import annotations

from email.message import Message

from chalicelib.frontends.bucket import cors_rules
from chalicelib.frontends.model import FrontendSpec
from integreat.local.s3_cors import BucketCors

CHURCH = "http://localhost:5173"
RULES = cors_rules([FrontendSpec((CHURCH,)), FrontendSpec(("https://events.example.org",))], local=True)


def headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def cors() -> BucketCors:
    return BucketCors(lambda bucket: RULES if bucket == "files" else [])


def test_a_declared_origins_preflight_gets_the_rule() -> None:
    status, answer = cors().preflight(
        "files",
        headers(
            Origin=CHURCH, Access_Control_Request_Method="POST", Access_Control_Request_Headers="X-Amz-Date"
        ),
    )

    assert status == 200
    assert ("Access-Control-Allow-Origin", CHURCH) in answer
    assert ("Access-Control-Allow-Headers", "x-amz-date") in answer
    assert ("Access-Control-Max-Age", "600") in answer


def test_an_origin_that_only_starts_like_a_declared_one_is_refused() -> None:
    for origin in ("http://localhost:51730", "http://localhost:5173.evil.example", "https://localhost:5173"):
        assert (
            cors().preflight("files", headers(Origin=origin, Access_Control_Request_Method="GET"))[0] == 403
        )


def test_a_method_outside_the_rule_is_refused() -> None:
    assert cors().preflight("files", headers(Origin=CHURCH, Access_Control_Request_Method="PATCH"))[0] == 403


def test_a_bucket_without_rules_refuses_every_origin() -> None:
    assert cors().preflight("other", headers(Origin=CHURCH, Access_Control_Request_Method="GET"))[0] == 403
    assert cors().headers("other", "GET", headers(Origin=CHURCH)) == [("Vary", "Origin")]


def test_an_answer_to_a_declared_origin_exposes_the_etag() -> None:
    added = dict(cors().headers("files", "PUT", headers(Origin=CHURCH)))

    assert added["Access-Control-Allow-Origin"] == CHURCH
    assert "ETag" in added["Access-Control-Expose-Headers"]
    assert cors().headers("files", "PUT", headers()) == []


def test_other_stages_keep_the_https_origins_only() -> None:
    (rule,) = cors_rules([FrontendSpec((CHURCH, "https://church.example.org"))], local=False)

    assert rule["AllowedOrigins"] == ["https://church.example.org"]
    assert cors_rules([FrontendSpec((CHURCH,))], local=False) == []
