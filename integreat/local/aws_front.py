"""The local platform's AWS endpoint: moto behind a front that makes its S3 answer as S3 does.

moto accepts any signature, enforces no IAM, checks no POST policy, and its bucket notifications
name no principal, so locally church's backend could write into events' folder and a tampered
upload form was stored. Every request to the platform's AWS port comes here: non-S3 requests
(recognized as moto's dispatcher recognizes services) go to moto unchanged; S3 requests are
authenticated (s3_auth), authorized by the app role's IAM policy (s3_access), upload forms are
checked against their policy (s3_post), and after a successful change the front sends the
bucket's event notification itself, naming who made it (s3_events). Refusals are S3's XML errors.
STS AssumeRole is answered here too (moto's enforces nothing and its credentials are unknown to
the front): the API's storage credentials are role sessions whose session policy the front then
enforces with the role's (issue 16).
"""

from __future__ import annotations

import http.client
import re
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from chalicelib.observability import logger
from integreat.local import s3_access as sts  # the local STS's AssumeRole lives with IAM's decisions
from integreat.local.s3_access import PolicySource, RoleLookup, accesses, authorize
from integreat.local.s3_auth import (
    SESSION_TOKEN_PREFIX,
    Incoming,
    Keyring,
    Principal,
    query_pairs,
    verify_post_signature,
    verify_request,
    verify_signed,
)
from integreat.local.s3_cors import BucketCors, moto_rules
from integreat.local.s3_errors import S3Error
from integreat.local.s3_events import Notifications, Written
from integreat.local.s3_post import check_policy, is_form_post, parse_form
from integreat.local.serving import ServerThread

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Hop-by-hop headers (RFC 9110 7.6.1), and those the front sets itself.
NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "content-length", "server", "date", "expect"}
)  # fmt: skip
_CREDENTIAL = re.compile(r"Credential=([^,\s&]+)")


class AwsFrontError(Exception):
    """The front cannot start; the message says why."""


class Exchange(NamedTuple):
    method: str
    path: str  # with the query
    headers: Message
    body: bytes
    client_ip: str = "127.0.0.1"


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class AwsFront:
    """moto at `upstream`, served at host:port with S3 checked as AWS checks it.

    front = AwsFront(moto_url, port=4566, keyring=keyring, policies=MotoRolePolicies(iam),
                     notifications=Notifications(sqs, region), s3=boto3_s3_at_moto)
    url = front.start(); ...; front.stop()

    With `roles` (ARN -> unique id) and a keyring with sessions, the front answers STS AssumeRole;
    without, AssumeRole goes to moto, whose credentials the front does not admit.
    """

    def __init__(
        self,
        upstream: str,
        *,
        keyring: Keyring,
        policies: PolicySource,
        notifications: Notifications,
        s3: Any,
        region: str = "eu-west-1",
        host: str = "127.0.0.1",
        port: int = 0,
        roles: RoleLookup | None = None,
    ) -> None:
        if host not in LOOPBACK:
            raise AwsFrontError(f"the local AWS front listens on loopback only, not {host}")
        self._upstream = urlsplit(upstream)
        self._address = (host, port)
        self._keyring, self._policies, self._notifications = keyring, policies, notifications
        self._roles = roles
        self._s3 = s3  # moto's S3, behind the front: heads of written objects
        self._cors = BucketCors(moto_rules(s3))  # the bucket's CORS rules, answered as S3 does
        self.region = region
        self._serving = ServerThread(self._address, _handler(self), "aws-front")

    def start(self) -> str:
        return self._serving.start()

    def stop(self) -> None:
        self._serving.stop()

    def handle(self, exchange: Exchange) -> Reply:
        if not is_s3(exchange):
            if self._roles is not None and _sts_action(exchange) == "AssumeRole":
                return self._assume_role(exchange)
            if _session_token(exchange) and _signed_service(exchange) != "sts":
                # The API's storage credentials: their session policy allows S3 actions only, so
                # in AWS every other service refuses them; moto would accept them.
                return _sts_error(S3Error(403, "AccessDenied", "the session policy allows S3 only"))
            return self.forward(exchange)
        bucket = exchange.path.partition("?")[0].lstrip("/").partition("/")[0]
        if exchange.method == "OPTIONS" and exchange.headers.get("origin"):
            return self._preflight(bucket, exchange)  # unsigned, as every browser's preflight
        try:
            reply = self._s3_request(exchange)
        except S3Error as refusal:
            reply = Reply(refusal.status, [("Content-Type", "application/xml")], refusal.xml())
        except Exception:
            logger.exception("local s3 front failed", extra={"method": exchange.method})
            failed = S3Error(500, "InternalError", "the local S3 front failed: see its log")
            reply = Reply(500, [("Content-Type", "application/xml")], failed.xml())
        if "cors" in dict(query_pairs(exchange.path.partition("?")[2])):
            self._cors.forget(bucket)
        if not exchange.headers.get("origin"):
            return reply
        kept = [h for h in reply.headers if not h[0].lower().startswith("access-control-")]  # moto's, loose
        return reply._replace(headers=kept + self._cors.headers(bucket, exchange.method, exchange.headers))

    def _preflight(self, bucket: str, exchange: Exchange) -> Reply:
        status, headers = self._cors.preflight(bucket, exchange.headers)
        if status == 200:
            return Reply(200, headers, b"")
        refused = S3Error(403, "AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually"
                          " because the evalution of Origin, request method / Access-Control-Request-Method or"
                          " Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")  # fmt: skip
        return Reply(403, [("Content-Type", "application/xml")], refused.xml())

    def forward(self, exchange: Exchange) -> Reply:
        headers = {k: v for k, v in exchange.headers.items() if k.lower() not in NOT_FORWARDED}
        conn = http.client.HTTPConnection(self._upstream.hostname or "", self._upstream.port, timeout=60)
        try:
            conn.request(exchange.method, exchange.path, body=exchange.body, headers=headers)
            response = conn.getresponse()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in NOT_FORWARDED]
            if exchange.method == "HEAD":  # a HEAD's length is the object's, not the empty body's
                kept += [
                    ("Content-Length", v) for k, v in response.getheaders() if k.lower() == "content-length"
                ]
            return Reply(response.status, kept, response.read())
        finally:
            conn.close()

    def _s3_request(self, exchange: Exchange) -> Reply:
        path, _, raw_query = exchange.path.partition("?")
        bucket, _, encoded_key = path.lstrip("/").partition("/")
        key = unquote(encoded_key)
        if is_form_post(exchange.method, str(exchange.headers.get("content-type") or "")) and not key:
            return self._form_post(exchange, bucket)
        principal = verify_request(Incoming(exchange.method, path, raw_query, exchange.headers, exchange.body),
                                   self._keyring, self.region)  # fmt: skip
        query = dict(query_pairs(raw_query))
        if principal.role_id is not None:
            wanted = accesses(exchange.method, bucket, key, query, exchange.headers, exchange.body)
            authorize(self._policies(principal.role_id), wanted, principal.session_policy)
        if bucket and not key and "notification" in query and exchange.method in ("GET", "PUT"):
            return self._notification_configuration(exchange, bucket)
        reply = self.forward(exchange)
        if 200 <= reply.status < 300:
            for name, changed in _changes(exchange, bucket, key, query, reply):
                self._emit(name, bucket, changed, principal, exchange.client_ip)
        return reply

    def _form_post(self, exchange: Exchange, bucket: str) -> Reply:
        form = parse_form(str(exchange.headers.get("content-type")), exchange.body)
        if "policy" not in form.fields:
            raise S3Error(403, "AccessDenied", "Access Denied")  # anonymous: public access is blocked
        principal = verify_post_signature(form.fields, self._keyring, self.region)
        check_policy(form, bucket)
        if principal.role_id is not None:
            authorize(self._policies(principal.role_id), [_put(bucket, form.key)], principal.session_policy)
        reply = self.forward(exchange)
        if 200 <= reply.status < 300:
            self._emit("ObjectCreated:Post", bucket, form.key, principal, exchange.client_ip)
        return reply

    def _assume_role(self, exchange: Exchange) -> Reply:
        path, _, raw_query = exchange.path.partition("?")
        try:
            caller = verify_signed(Incoming(exchange.method, path, raw_query, exchange.headers, exchange.body),
                                   self._keyring, self.region, "sts")  # fmt: skip
            params = _sts_params(exchange)
            assert self._roles is not None, "handle() routes AssumeRole here only with roles"
            session, arn = sts.assume_role(params, caller, self._roles, self._keyring.sessions)
        except S3Error as refusal:
            return _sts_error(refusal)
        return Reply(
            200,
            [("Content-Type", "text/xml")],
            sts.sts_document("AssumeRoleResponse", sts.assumed(session, arn)),
        )

    def _notification_configuration(self, exchange: Exchange, bucket: str) -> Reply:
        if exchange.method == "PUT":
            self._notifications.configure(bucket, exchange.body)
            return Reply(200, [], b"")
        return Reply(200, [("Content-Type", "application/xml")], self._notifications.configuration(bucket))

    def _emit(self, name: str, bucket: str, key: str, principal: Principal, client_ip: str) -> None:
        change = Written(name, bucket, key, principal.principal_id, client_ip)
        if name.startswith("ObjectCreated:"):
            head = self._s3.head_object(Bucket=bucket, Key=key)
            change = change._replace(size=int(head["ContentLength"]), etag=str(head["ETag"]).strip('"'),
                                     version_id=head.get("VersionId"))  # fmt: skip
        self._notifications.emit(change)


def _sts_params(exchange: Exchange) -> dict[str, str]:
    return sts.sts_params(
        str(exchange.headers.get("content-type") or ""), exchange.body, exchange.path.partition("?")[2]
    )


def _sts_action(exchange: Exchange) -> str | None:
    try:
        return _sts_params(exchange).get("Action")
    except S3Error:
        return None


def _sts_error(refusal: S3Error) -> Reply:
    return Reply(
        refusal.status,
        [("Content-Type", "text/xml")],
        sts.sts_document("ErrorResponse", sts.sts_error(refusal)),
    )


def _put(bucket: str, key: str) -> Any:
    from integreat.local.s3_access import Access

    return Access("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", {})


def _changes(exchange: Exchange, bucket: str, key: str, query: dict[str, str], reply: Reply) -> list[tuple[str, str]]:  # fmt: skip
    """(event name, key) of what a successful request changed."""
    method, subs = exchange.method, set(query) - {"x-id"}
    if not bucket:
        return []
    if not key:
        if method == "POST" and "delete" in query:
            return [("ObjectRemoved:Delete", k) for k in _deleted(reply.body)]
        return []
    if method == "PUT" and not subs:
        return [
            ("ObjectCreated:Copy" if exchange.headers.get("x-amz-copy-source") else "ObjectCreated:Put", key)
        ]
    if method == "POST" and subs == {"uploadId"} and b"<Error>" not in reply.body:
        return [("ObjectCreated:CompleteMultipartUpload", key)]
    if method == "DELETE" and subs <= {"versionId"}:
        return [("ObjectRemoved:Delete", key)]
    return []


def _deleted(body: bytes) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(body)  # noqa: S314 (moto's answer)
    return [
        child.text or ""
        for deleted in root if deleted.tag.rsplit("}", 1)[-1] == "Deleted"
        for child in deleted if child.tag.rsplit("}", 1)[-1] == "Key"
    ]  # fmt: skip


def is_s3(exchange: Exchange) -> bool:
    """Whether moto would route the request to S3 (moto_server/werkzeug_app.py): the SigV4 scope's
    service, else a presigned query's, else S3 for what names no other service (moto's default)."""
    credential = _CREDENTIAL.search(str(exchange.headers.get("authorization") or ""))
    if exchange.headers.get("authorization"):
        return credential is None or _service(credential[1]) in ("s3", "")
    path, _, query = exchange.path.partition("?")
    presigned = dict(query_pairs(query)).get("X-Amz-Credential")
    if presigned:
        return _service(presigned) == "s3"
    if exchange.headers.get("x-amz-target") or path.startswith(("/moto-api", "/latest/")):
        return False
    if path.rstrip("/").endswith(("/.well-known/jwks.json", "/.well-known/openid-configuration")):
        return False
    form = str(exchange.headers.get("content-type") or "").startswith("application/x-www-form-urlencoded")
    return not (form and b"Action=" in exchange.body)


def _session_token(exchange: Exchange) -> bool:
    token = exchange.headers.get("x-amz-security-token") or dict(
        query_pairs(exchange.path.partition("?")[2])
    ).get("X-Amz-Security-Token")
    return str(token or "").startswith(SESSION_TOKEN_PREFIX)


def _signed_service(exchange: Exchange) -> str:
    credential = _CREDENTIAL.search(str(exchange.headers.get("authorization") or exchange.path))
    return _service(credential[1]) if credential else ""


def _service(credential: str) -> str:
    parts = credential.split("/")
    return parts[3].lower() if len(parts) == 5 else ""


def _handler(front: AwsFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # answers `Expect: 100-continue` (botocore sends it for bodies)

        def _serve(self) -> None:
            reply = front.handle(
                Exchange(self.command, self.path, self.headers, self._body(), self.client_address[0])
            )
            self.send_response(reply.status)
            length = [] if any(k.lower() == "content-length" for k, _ in reply.headers) else [("Content-Length", str(len(reply.body)))]  # fmt: skip
            for name, value in [*reply.headers, *length, ("Connection", "close")]:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"" if self.command == "HEAD" else reply.body)

        def _body(self) -> bytes:
            if "chunked" in str(self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None: ...  # silent: never a request's credentials

    return Handler


def local_front(
    moto_url: str,
    *,
    port: int,
    region: str,
    platform_keys: dict[str, str],
    platform_principal: str,
    service_key: bytes,
) -> AwsFront:
    """The front the local platform runs: policies from moto's IAM, notifications to moto's SQS."""
    import boto3

    from chalicelib.identity.service_keys import ServiceKeys
    from integreat.local.s3_access import MotoRolePolicies
    from integreat.local.s3_auth import SessionKeys

    access_key, secret = next(iter(platform_keys.items()))

    def at_moto(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_url, region_name=region,
                            aws_access_key_id=access_key, aws_secret_access_key=secret)  # fmt: skip

    policies = MotoRolePolicies(at_moto("iam"))
    return AwsFront(
        moto_url,
        keyring=Keyring(
            platform_keys, platform_principal, ServiceKeys(service_key), SessionKeys(service_key)
        ),
        policies=policies,
        notifications=Notifications(at_moto("sqs"), region),
        s3=at_moto("s3"),
        region=region,
        port=port,
        roles=policies.role_id,
    )
