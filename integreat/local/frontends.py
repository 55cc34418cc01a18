"""`make dev` serves each example frontend's `dist/` on its app's local origin, with the app's
`amplify_outputs.json` (built from the running platform's values) beside it.

    stop = start_frontends(summary)      # after the platform wrote its summary
    ...
    stop()

Only on 127.0.0.1. A frontend not built yet is not served: the platform says how to build it.
The origins are a table here until the manifest declares them (issue 17); the API's CORS will
allow exactly these (`local_origins()`).
"""

from __future__ import annotations

import json
import mimetypes
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples"
HOST = "127.0.0.1"
#: App -> its frontend's local port; the origin is http://localhost:<port> (Vite's defaults).
LOCAL_PORTS: Mapping[str, int] = {"church": 5173, "events": 5174, "students": 5175}
PORT_ENV = "INTEGREAT_FRONTEND_PORT_{slug}"  # e.g. INTEGREAT_FRONTEND_PORT_CHURCH=15173
OUTPUTS_PATH = "/amplify_outputs.json"


def port_of(slug: str, env: Mapping[str, str] | None = None) -> int:
    """The app's frontend port: its setting, else the table's."""
    value = (os.environ if env is None else env).get(PORT_ENV.format(slug=slug.upper()))
    return int(value) if value else LOCAL_PORTS[slug]


def local_origins(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """App -> the origin its local frontend is served on (what the API's CORS should allow)."""
    return {slug: f"http://localhost:{port_of(slug, env)}" for slug in LOCAL_PORTS}


def example_dir(slug: str) -> Path:
    return EXAMPLES / f"{slug}-web"


@dataclass(frozen=True)
class Site:
    """What one frontend server serves: a built `dist/` and the app's outputs document."""

    dist: Path
    outputs: bytes

    def answer(self, url_path: str) -> tuple[HTTPStatus, str, bytes]:
        """(status, content type, body) for a GET of `url_path`."""
        path = unquote(urlsplit(url_path).path)
        if path == OUTPUTS_PATH:
            return HTTPStatus.OK, "application/json", self.outputs
        root = self.dist.resolve()
        wanted = (root / path.lstrip("/")).resolve()
        if not wanted.is_relative_to(root):
            return HTTPStatus.NOT_FOUND, "text/plain", b"not found\n"
        if wanted.is_dir():
            wanted = wanted / "index.html"
        if not wanted.is_file() and "." not in Path(path).name:
            wanted = root / "index.html"  # a single-page app's own routes, as Amplify Hosting rewrites them
        if not wanted.is_file():
            return HTTPStatus.NOT_FOUND, "text/plain", b"not found\n"
        kind = mimetypes.guess_type(wanted.name)[0] or "application/octet-stream"
        return HTTPStatus.OK, kind, wanted.read_bytes()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, kind, body = site.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # a rebuilt dist/ shows on reload
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: `make dev`'s output stays the platform's summary."""

    return Handler


def serve(site: Site, port: int) -> Callable[[], None]:
    """Serve `site` on 127.0.0.1:`port` in a daemon thread; returns the function that stops it."""
    server = ThreadingHTTPServer((HOST, port), _handler(site))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"frontend:{port}", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def outputs_bytes(slug: str, summary: Mapping[str, Any], manifest: Path | None = None) -> bytes:
    """The app's amplify_outputs.json for the running platform (`manifest`: default integreat.toml)."""
    from chalicelib.tenancy.manifest import load_manifest
    from integreat.outputs import amplify_outputs, app_of, local_values

    values = local_values(summary)
    document = amplify_outputs(app_of(load_manifest(manifest), slug, values), values)
    return (json.dumps(document, indent=2) + "\n").encode()


def start_frontends(
    summary: Mapping[str, Any],
    say: Callable[[str], None] = print,
    env: Mapping[str, str] | None = None,
    manifest: Path | None = None,
) -> Callable[[], None]:
    """Serve every built example frontend; say how to build the others. Returns `stop`."""
    from integreat.outputs import OutputsError

    stops: list[Callable[[], None]] = []
    for slug in LOCAL_PORTS:
        dist, port = example_dir(slug) / "dist", port_of(slug, env)
        if not example_dir(slug).is_dir():
            continue  # no example for this app (yet)
        if not (dist / "index.html").is_file():
            say(
                f"  frontend {slug}: not built; build it with `cd {example_dir(slug)} && npm ci && npm run build`"
            )
            continue
        try:
            stops.append(serve(Site(dist, outputs_bytes(slug, summary, manifest)), port))
        except (OutputsError, OSError) as exc:  # a taken port or an unprovisioned app: the rest still runs
            say(f"  frontend {slug}: not served ({exc}; its port is {PORT_ENV.format(slug=slug.upper())})")
            continue
        say(f"  frontend {slug}: http://localhost:{port}")

    def stop_all() -> None:
        for stop in reversed(stops):
            stop()

    return stop_all
