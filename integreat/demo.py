"""`integreat demo`: a scripted scenario against the running local platform, as a readable report.

Every step is checked; the command exits non-zero if any fails. Later issues add their steps.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from integreat.context import local_client

PASSWORD = "Demo-Passw0rd!2026"  # noqa: S105 (demo accounts on the local platform only)


class StepFailed(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


@dataclass
class Demo:
    info: dict[str, Any]
    say: Callable[[str], None] = print
    results: list[tuple[str, bool, str]] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))

    # --- plumbing -------------------------------------------------------------------------------

    def cognito(self) -> Any:
        return local_client("cognito-idp", self.info, self.info["cognito_endpoint"])

    def aws(self, service: str) -> Any:
        return local_client(service, self.info)

    def client_id(self, app: str) -> str:
        return str(self.info["apps"][app][0])

    def api(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.info['api']}{path}", data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def user(self, app: str, tag: str) -> str:
        email = f"{tag}-{self.run_id}@example.org"
        cognito = self.cognito()
        cognito.sign_up(ClientId=self.client_id(app), Username=email, Password=PASSWORD,
                        UserAttributes=[{"Name": "email", "Value": email}])  # fmt: skip
        cognito.confirm_sign_up(ClientId=self.client_id(app), Username=email, ConfirmationCode="000000")
        return email

    def token(self, app: str, email: str) -> str:
        result = self.cognito().initiate_auth(
            ClientId=self.client_id(app),
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )
        return str(result["AuthenticationResult"]["AccessToken"])

    def eventually(self, probe: Callable[[], bool], seconds: float = 20) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if probe():
                return True
            time.sleep(0.25)
        return False

    def step(self, title: str, body: Callable[[], str]) -> None:
        try:
            detail = body()
            self.results.append((title, True, detail))
            self.say(f"  [ok]   {title}: {detail}")
        except Exception as exc:  # every failure is reported, then the next step runs
            self.results.append((title, False, str(exc)))
            self.say(f"  [FAIL] {title}: {exc}")

    # --- the scenario -----------------------------------------------------------------------------

    def run(self) -> bool:
        self.say(f"Integreat demo against {self.info['api']} (run {self.run_id})")
        self.step("users sign up in church and events and land in the right groups", self.sign_ups)
        self.step("one user of two apps gets differently scoped tokens", self.two_apps)
        self.step("a valid upload is indexed", self.valid_upload)
        self.step("an invalid upload is quarantined and the app is told", self.invalid_upload)
        self.step("events publishes a cross-app event that church receives", self.cross_app_event)
        self.step("cross-app attempts are denied", self.denials)
        self.step("church shares its service schedule with events, not with students", self.dataset)
        self.step("events' backend calls service routes signed with its IAM role", self.service_call)
        self.step("church calls a third-party API through the proxy; the key is injected", self.integration)
        passed = sum(ok for _, ok, _ in self.results)
        self.say(f"{passed}/{len(self.results)} steps passed")
        return passed == len(self.results)

    def sign_ups(self) -> str:
        self.alice, self.bob = self.user("church", "alice"), self.user("events", "bob")
        pool = self.info["user_pool_id"]
        groups = {u: [g["GroupName"] for g in self.cognito().admin_list_groups_for_user(UserPoolId=pool, Username=u)["Groups"]]
                  for u in (self.alice, self.bob)}  # fmt: skip
        check(groups[self.alice] == ["church"] and groups[self.bob] == ["events"], f"groups were {groups}")
        return f"alice in {groups[self.alice]}, bob in {groups[self.bob]}"

    def two_apps(self) -> str:
        carol = self.user("church", "carol")
        church, events = (
            self.token("church", carol),
            self.token("events", carol),
        )  # events is open: enrolled on sign-in
        me_church, me_events = self.api("GET", "/me", church)[1], self.api("GET", "/me", events)[1]
        check(
            me_church["app"] == "church" and me_events["app"] == "events",
            f"tokens scoped to {me_church['app']}, {me_events['app']}",
        )
        return f"church token -> {me_church['app']} {me_church['roles']}, events token -> {me_events['app']} {me_events['roles']}"

    def valid_upload(self) -> str:
        token = self.token("church", self.alice)
        status, signed = self.api("POST", "/apps/church/files/uploads", token,
                                  {"folder": "uploads/", "filename": "notes.txt", "content_type": "text/plain", "size": 11})  # fmt: skip
        check(status == 200, f"upload refused: {status} {signed}")
        answer = _post_form(signed["upload"]["url"], signed["upload"]["fields"], b"hello world")
        check(answer in (200, 201, 204), f"S3 answered {answer}")

        def listed() -> bool:
            return signed["key"] in [
                f["key"] for f in self.api("GET", "/apps/church/files?folder=uploads/", token)[1]["files"]
            ]

        check(self.eventually(listed), f"{signed['key']} never appeared in the index")
        return f"{signed['key']} indexed"

    def invalid_upload(self) -> str:
        key = f"church/secrets/leak-{self.run_id}.txt"
        self.aws("s3").put_object(Bucket=self.info["bucket"], Key=key, Body=b"x", ContentType="text/plain")
        token = self.token("church", self.alice)

        def told() -> bool:
            return any(
                d["event"].get("subject") == key
                for d in self.api("GET", "/apps/church/inbox?limit=100", token)[1]["events"]
            )

        check(self.eventually(told), "church was never told about the quarantine")
        self.aws("s3").head_object(Bucket=self.info["bucket"], Key=f"_quarantine/{key}")
        return f"{key} -> _quarantine/{key}, notice in church's inbox"

    def cross_app_event(self) -> str:
        event_id = f"demo-{self.run_id}"
        status, result = self.api("POST", "/apps/events/events", self.token("events", self.bob),
                                  {"specversion": "1.0", "id": event_id, "type": "events.event.published", "data": {"title": "Fair"}})  # fmt: skip
        check(status == 202, f"publish answered {status} {result}")
        token = self.token("church", self.alice)

        def arrived() -> bool:
            return any(
                d["event"]["id"] == event_id
                for d in self.api("GET", "/apps/church/inbox?limit=100", token)[1]["events"]
            )

        check(self.eventually(arrived), "church's inbox never received the event")
        return f"{event_id} from /apps/events in church's inbox"

    def denials(self) -> str:
        bob = self.token("events", self.bob)
        status, _ = self.api("GET", "/apps/church/members", bob)
        check(status == 403, f"events' token on church's members answered {status}")
        status, _ = self.api(
            "POST",
            "/apps/church/files/uploads",
            bob,
            {"folder": "uploads/", "filename": "x.txt", "content_type": "text/plain", "size": 1},
        )
        check(status == 403, f"events' token uploading into church answered {status}")
        # church's own IAM role writing into events' folder: the local S3 front evaluates the
        # role's policy as IAM does, so the PUT is refused and nothing lands (as on AWS).
        key = f"events/posters/intruder-{self.run_id}.png"
        code = _refusal(lambda: self.as_role("church").put_object(
            Bucket=self.info["bucket"], Key=key, Body=b"x", ContentType="image/png"
        ))  # fmt: skip
        check(code == "AccessDenied", f"church's role writing into events/ got {code or 'no error'}")
        check(not _exists(self.aws("s3"), self.info["bucket"], key), f"{key} landed anyway")
        # A member's upload form, tampered to write into church's admin-only public/ folder.
        status, signed = self.api("POST", "/apps/church/files/uploads", self.token("church", self.alice),
                                  {"folder": "uploads/", "filename": "x.txt", "content_type": "text/plain", "size": 1})  # fmt: skip
        check(status == 200, f"upload refused: {status} {signed}")
        tampered = {**signed["upload"]["fields"], "key": f"church/public/forged-{self.run_id}.txt"}
        answer = _post_form(signed["upload"]["url"], tampered, b"x")
        check(answer == 403, f"a tampered upload form answered {answer}")
        return "B's token on A's routes: 403; A's role writing into B's folder and a tampered form: 403 AccessDenied"

    def dataset(self) -> str:
        self.church_migration()
        status, page = self.api(
            "GET", "/apps/church/datasets/services?limit=2", self.token("events", self.bob)
        )
        check(
            status == 200 and len(page["rows"]) == 2,
            f"events reading church's services answered {status} {page}",
        )
        dave = self.user("church", "dave")  # students is invite-only: its admin adds dave
        self.cognito().admin_add_user_to_group(
            UserPoolId=self.info["user_pool_id"], Username=dave, GroupName="students"
        )
        status, _ = self.api("GET", "/apps/church/datasets/services", self.token("students", dave))
        check(status == 403, f"students reading church's services answered {status}")
        return f"events read {page['rows']} (next cursor {page['next_cursor']}); students: 403"

    def signed(self, app: str, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
        """A request signed (SigV4) with credentials of `app`'s role, as its backend would send."""
        from integreat import context
        from integreat.local.service_credentials import issue, signed_headers

        url = f"{self.info['api']}{path}"
        credentials = issue(context.state_dir(), self.info["roles"][app], 900)
        headers = signed_headers(
            credentials, self.info["region"], method, url, body, {"Content-Type": "application/json"}
        )
        request = urllib.request.Request(url, data=body or None, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def service_call(self) -> str:
        status, me = self.signed("events", "GET", "/service/me")
        check(
            status == 200 and me["principal"] == "service" and me["app"] == "events",
            f"/service/me: {status} {me}",
        )
        status, page = self.signed("events", "GET", "/service/apps/church/datasets/services?limit=1")
        check(status == 200 and len(page["rows"]) == 1, f"events' backend reading services: {status} {page}")
        status, _ = self.signed("students", "GET", "/service/apps/church/datasets/services")
        check(status == 403, f"students' backend reading church's services answered {status}")
        status, _ = self.signed("church", "GET", "/service/apps/events/inbox")
        check(status == 403, f"church's backend reading events' inbox answered {status}")
        status, _ = self.api("GET", "/service/me", self.token("events", self.bob))
        check(status == 403, f"a user's token on a service route answered {status}")
        return "events' role read church's services (200); students' role and church on events' inbox: 403"

    def integration(self) -> str:
        from urllib.parse import urlsplit

        from chalicelib.tenancy.manifest import load_manifest
        from integreat.local.upstream import StandInUpstream

        spec = next(s for s in load_manifest().integrations if s.name == "weather")
        port = urlsplit(spec.local_base_url or "").port
        check(port is not None, "the weather integration has no local_base_url to stand in for")
        with StandInUpstream(port=port or 0) as upstream:  # the third party, on its local URL
            status, body = self.api(
                "GET", "/apps/church/integrations/weather/forecast/echo", self.token("church", self.alice)
            )
            check(status == 200, f"church calling weather answered {status} {body}")
            sent = {name.lower() for name, _ in upstream.requests[-1].headers}
            check(
                spec.header.lower() in sent and "authorization" not in sent,
                f"upstream got headers {sorted(sent)}",
            )
            calls = len(upstream.requests)
            denied, _ = self.api(
                "GET", "/apps/church/integrations/weather/admin", self.token("church", self.alice)
            )
            check(denied == 403 and len(upstream.requests) == calls, f"an undeclared path answered {denied}")
        return f"upstream got {spec.header} and no Authorization; an undeclared path: 403, never sent"

    def church_migration(self) -> None:
        """What church's own migration would do, as church's LOGIN role: the view it shares."""
        import psycopg2

        from chalicelib.tenancy.slugs import login_role
        from integreat import context

        operator, _ = context.operator_url(start_local=False)
        conn = psycopg2.connect(context.login_url(operator, login_role("church")))
        try:
            with conn, conn.cursor() as cur:
                cur.execute(
                    "CREATE OR REPLACE VIEW public_services AS SELECT * FROM (VALUES"
                    " (1, 'Sunday service', '2026-11-29 10:00'), (2, 'Advent concert', '2026-12-06 18:00'),"
                    " (3, 'Christmas Eve', '2026-12-24 22:00')) AS s (id, title, starts_at)"
                )
        finally:
            conn.close()

    def as_role(self, app: str) -> Any:
        """An S3 client signing as `app`'s IAM role with the credentials the platform issues
        (`integreat service credentials`), as the app's backend would."""
        import boto3

        from integreat import context
        from integreat.local.service_credentials import issue

        creds = issue(context.state_dir(), self.info["roles"][app], 900)
        return boto3.client(
            "s3",
            endpoint_url=self.info["aws_endpoint"],
            region_name=self.info["region"],
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
        )


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except Exception:
        return False


def _refusal(call: Callable[[], Any]) -> str:
    """The AWS error code `call` raised, or "" when it succeeded."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _post_form(url: str, fields: dict[str, str], content: bytes) -> int:
    """A multipart/form-data POST (what a browser sends for a presigned POST); S3's status."""
    boundary = f"integreat{secrets.token_hex(8)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (loopback)
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
