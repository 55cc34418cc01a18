"""The running local platform as the client tests see it, and the tools a user's machine may lack.

A tool that is missing skips its tests with a message saying how to install it; when the named
`INTEGREAT_REQUIRE_*` variable is set (CI sets them, `.ci/run`), the tests fail instead.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]  # the project: commands run from here, as a user runs them
JS = HERE / "js"
LOCKFILE = HERE / "package-lock.json"
NODE_MODULES = HERE / "node_modules"
STAMP = NODE_MODULES / ".integreat-lock.sha256"  # the lockfile hash `npm ci` last installed
REQUIRE_NODE = "INTEGREAT_REQUIRE_NODE"
REQUIRE_CLIENTS = "INTEGREAT_REQUIRE_CLIENTS"
MIN_NODE = 20
PASSWORD = "Clients-Passw0rd!2026"
INSTALL_NODE = (
    f"Node.js {MIN_NODE}+ and npm are needed for the JavaScript client tests: install them "
    "(https://nodejs.org; Debian 13 or Ubuntu 24.04: apt-get install nodejs npm; Debian 12's nodejs "
    "is 18, too old: use NodeSource's nodejs, which includes npm)"
)


def missing(what: str, require_env: str) -> NoReturn:
    """Skip (a user's machine) or fail (`require_env` set, as in CI) because `what` is missing."""
    if os.environ.get(require_env):
        pytest.fail(f"{what} ({require_env} is set, so this is a failure, not a skip)")
    pytest.skip(what)


def python_client(module: str, package: str) -> ModuleType:
    """Import a Python client library of the dev extra, or skip/fail saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        missing(f"{package} is not installed: `make test` installs the dev extra (.[dev])", REQUIRE_CLIENTS)


def install_node_modules(env: dict[str, str]) -> None:
    """`npm ci` into tests/clients/node_modules, once per lockfile (a stamp holds its hash)."""
    node, npm = shutil.which("node", path=env["PATH"]), shutil.which("npm", path=env["PATH"])
    if node is None or npm is None:
        missing(f"{INSTALL_NODE}; not found on PATH: {'node' if node is None else 'npm'}", REQUIRE_NODE)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    if int(version.strip().lstrip("v").split(".")[0]) < MIN_NODE:
        missing(f"{INSTALL_NODE}; found node {version.strip()}", REQUIRE_NODE)
    digest = hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        missing(
            f"`npm ci` in {HERE} failed (is the npm registry reachable?):\n{done.stderr[-2000:]}",
            REQUIRE_NODE,
        )
    STAMP.write_text(digest)


@dataclass(frozen=True)
class User:
    email: str
    password: str = PASSWORD


@dataclass
class Platform:
    """What `integreat dev` wrote to `<state>/platform.json`, and calls against it."""

    info: dict[str, Any]
    env: dict[str, str]  # what the platform was started with: PATH, HOME, ports, state dir
    bin_dir: Path  # the virtualenv's bin: `integreat`, `aws`
    log: Path | None = None  # what `integreat dev` prints, while it runs
    _cognito: Any = field(default=None, repr=False)

    @property
    def api(self) -> str:
        return str(self.info["api"])

    @property
    def cognito_endpoint(self) -> str:
        return str(self.info["cognito_endpoint"])

    @property
    def pool(self) -> str:
        return str(self.info["user_pool_id"])

    def client_id(self, app: str) -> str:
        return str(self.info["apps"][app][0])

    def cognito(self) -> Any:
        """An unsigned Cognito client of the local layer: what a public app client sends."""
        if self._cognito is None:
            self._cognito = boto3.client(
                "cognito-idp", endpoint_url=self.cognito_endpoint, region_name=self.info["region"],
                config=Config(signature_version=UNSIGNED),
            )  # fmt: skip
        return self._cognito

    def new_user(self, app: str, label: str) -> User:
        """Signed up and confirmed through `app`'s client (any code works locally)."""
        user = User(f"{label}-{uuid.uuid4().hex[:8]}@example.org")
        client = self.client_id(app)
        self.cognito().sign_up(ClientId=client, Username=user.email, Password=user.password,
                               UserAttributes=[{"Name": "email", "Value": user.email}])  # fmt: skip
        self.cognito().confirm_sign_up(ClientId=client, Username=user.email, ConfirmationCode="000000")
        return user

    def tokens(self, user: User, app: str) -> dict[str, str]:
        result: dict[str, str] = self.cognito().initiate_auth(
            ClientId=self.client_id(app), AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.email, "PASSWORD": user.password},
        )["AuthenticationResult"]  # fmt: skip
        return result

    def call(
        self, method: str, path: str, token: str | None = None, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        """One API request; (status, parsed JSON body or the raw text)."""
        sent = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        request = urllib.request.Request(f"{self.api}{path}", data=body, method=method, headers=sent)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def inbox_event(self, app: str, token: str, event_id: str, seconds: float = 20) -> dict[str, Any] | None:
        """The delivery of `event_id` in `app`'s inbox, waiting for the worker; None if it never comes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            after = 0
            while True:
                status, page = self.call("GET", f"/apps/{app}/inbox?limit=100&after={after}", token)
                assert status == 200, page
                found = [e for e in page["events"] if e["event"]["id"] == event_id]
                if found:
                    return dict(found[0])
                if page["next_after"] is None:
                    break
                after = page["next_after"]
            time.sleep(0.3)
        return None

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A command (`integreat`, `aws`: from the virtualenv's bin) with the platform's environment."""
        command = [str(self.bin_dir / args[0]), *args[1:]]
        return subprocess.run(
            command, env=env or self.env, capture_output=True, text=True, timeout=120, cwd=ROOT
        )


def run_node(platform: Platform, script: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run tests/clients/js/<script> with `config` as JSON on stdin; its JSON journal from stdout."""
    node = shutil.which("node", path=platform.env["PATH"])
    assert node is not None
    env = {"PATH": platform.env["PATH"], "HOME": platform.env["HOME"]}
    done = subprocess.run(
        [node, str(JS / script)], input=json.dumps(config), capture_output=True, text=True,
        timeout=120, env=env, cwd=HERE,
    )  # fmt: skip
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing:\n{done.stderr[-3000:]}"
    journal: dict[str, Any] = json.loads(lines[-1])
    return journal


def ok(journal: dict[str, Any], step: str) -> Any:
    """The value of a step that must have worked (the failure message shows what it raised)."""
    assert step in journal, f"step {step!r} never ran; journal: {sorted(journal)}"
    entry = journal[step]
    assert entry["ok"], f"{step} failed: {entry.get('error')}: {entry.get('message')}"
    return entry["value"]


def refused(journal: dict[str, Any], step: str, error: str) -> str:
    """A step that must have been refused with `error` (the exception's name, class or code); its message."""
    assert step in journal, f"step {step!r} never ran; journal: {sorted(journal)}"
    entry = journal[step]
    assert not entry["ok"], f"{step} was not refused; it returned {entry.get('value')!r}"
    assert error in (entry.get("error"), entry.get("type"), entry.get("code")), f"{step}: {entry}"
    return str(entry.get("message", ""))
