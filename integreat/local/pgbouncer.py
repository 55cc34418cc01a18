"""A real PgBouncer in transaction mode (what Neon's pooled endpoint runs), on 127.0.0.1.

Used by the pooling-leak tests and the benchmarks to exercise the production topology. The
binary comes from the system (Debian: `apt-get install pgbouncer`; CI installs it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from integreat.local.postgres import ensure_system_user, free_port

_CONFIG = """[databases]
{database} = host={host} port={server_port} dbname={database}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
"""


def find_pgbouncer() -> str | None:
    found = shutil.which("pgbouncer")
    if found is None and Path("/usr/sbin/pgbouncer").exists():
        found = "/usr/sbin/pgbouncer"
    return found


@contextlib.contextmanager
def running_pgbouncer(server_url: str, users: dict[str, str], pool_size: int = 2) -> Iterator[str]:
    """Yield the `host:port` of a PgBouncer in transaction mode fronting `server_url`'s database.

    `users` maps login role -> password (PgBouncer authenticates clients and servers with them).
    """
    binary = find_pgbouncer()
    if binary is None:
        raise FileNotFoundError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    parts = urlsplit(server_url)
    folder = Path(tempfile.mkdtemp(prefix="integreat-pgbouncer-"))
    folder.chmod(0o755)
    port = free_port()
    (folder / "pgbouncer.ini").write_text(
        _CONFIG.format(
            database=parts.path.lstrip("/"),
            host=parts.hostname,
            server_port=parts.port,
            port=port,
            folder=folder,
            pool_size=pool_size,
        )
    )
    (folder / "userlist.txt").write_text("".join(f'"{u}" "{p}"\n' for u, p in users.items()))
    process = subprocess.Popen(
        [binary, str(folder / "pgbouncer.ini")],
        user=ensure_system_user() if os.geteuid() == 0 else None,  # PgBouncer refuses to run as root
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"pgbouncer exited: {detail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on 127.0.0.1:{port}")


def through(url: str, address: str) -> str:
    """`url` with its host:port replaced by `address` (same user, password and database)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{address}"))
