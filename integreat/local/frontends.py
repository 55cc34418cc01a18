"""`make dev` serves each example frontend's `dist/` on its app's local origin, with the app's
`amplify_outputs.json` (built from the running platform's values) beside it.

    stop = start_frontends(summary)      # after the platform wrote its summary
    ...
    stop()

Only on 127.0.0.1. An app's port is that of the first loopback origin its manifest section
declares (`[apps.<slug>.frontend] origins = ["http://localhost:5173"]`): the origin the API's and
the bucket's CORS admit. A frontend not built yet is not served: the platform says how to build it.
"""

from __future__ import annotations

import json
import mimetypes
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
OUTPUTS_PATH = "/amplify_outputs.json"


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
    summary: Mapping[str, Any], say: Callable[[str], None] = print, manifest: Path | None = None
) -> Callable[[], None]:
    """Serve every built example frontend on its declared local origin; say how to build the
    others. `manifest`: default $INTEGREAT_MANIFEST, else integreat.toml. Returns `stop`."""
    from chalicelib.tenancy.manifest import load_manifest
    from integreat.outputs import OutputsError

    stops: list[Callable[[], None]] = []
    for app in load_manifest(manifest).apps:
        dist, port = example_dir(app.slug) / "dist", app.frontend.local_port()
        if port is None or not example_dir(app.slug).is_dir():
            continue  # no example for this app, or no local origin to serve it on
        if not (dist / "index.html").is_file():
            build = f"cd {example_dir(app.slug)} && npm ci && npm run build"
            say(f"  frontend {app.slug}: not built; build it with `{build}`")
            continue
        try:
            stops.append(serve(Site(dist, outputs_bytes(app.slug, summary, manifest)), port))
        except (OutputsError, OSError) as exc:  # a taken port or an unprovisioned app: the rest still runs
            say(f"  frontend {app.slug}: not served on port {port} ({exc})")
            continue
        say(f"  frontend {app.slug}: http://localhost:{port}")

    def stop_all() -> None:
        for stop in reversed(stops):
            stop()

    return stop_all
