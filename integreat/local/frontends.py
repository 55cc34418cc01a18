"""`make dev` serves each example frontend's `dist/` on its app's local origin, with the app's
`amplify_outputs.json` (built from the running platform's values) beside it, and the admin
console's `console/dist/` on the console's local origin with its `console_outputs.json`.

    stop = start_frontends(summary)      # after the platform wrote its summary
    ...
    stop()

Only on 127.0.0.1. An app's port is that of the first loopback origin its manifest section
declares (`[apps.<slug>.frontend] origins = ["http://localhost:5173"]`): the origin the API's and
the bucket's CORS admit; the console's, the first loopback origin of `[console] origins` (5180
when none is declared). A frontend not built yet is not served: the platform says how to build it.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from chalicelib.tenancy.manifest import Manifest
    from integreat.outputs import StageValues

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples"
CONSOLE = PROJECT / "console"
HOST = "127.0.0.1"
OUTPUTS_PATH = "/amplify_outputs.json"
CONSOLE_OUTPUTS_PATH = "/console_outputs.json"
CONSOLE_PORT = 5180  # the console's local port when the manifest declares no `[console]` origin
CONSOLE_OUTPUTS_VERSION = "1"
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def example_dir(slug: str) -> Path:
    return EXAMPLES / f"{slug}-web"


@dataclass(frozen=True)
class Site:
    """What one frontend server serves: a built `dist/` and the app's outputs document."""

    dist: Path
    outputs: bytes
    outputs_path: str = OUTPUTS_PATH

    def answer(self, url_path: str) -> tuple[HTTPStatus, str, bytes]:
        """(status, content type, body) for a GET of `url_path`."""
        path = unquote(urlsplit(url_path).path)
        if path == self.outputs_path:
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


def console_outputs(manifest: Manifest, values: StageValues) -> dict[str, Any]:
    """The console's `console_outputs.json`: the API, the shared pool (and, locally, its endpoint)
    and every provisioned app's client id, name and folders. The console signs in through the
    client of the app whose account the user chooses (a token is scoped to one app's client)."""
    apps = [
        {
            "app": slug,
            "name": manifest.app(slug).name if slug in manifest.slugs else slug,
            "user_pool_client_id": client,
            "folders": [f.path for f in manifest.app(slug).storage.folders] if slug in manifest.slugs else [],
        }
        for slug, client in sorted(values.clients.items())
    ]
    auth: dict[str, Any] = {"aws_region": values.region, "user_pool_id": values.user_pool_id}
    if values.cognito_endpoint:
        auth["user_pool_endpoint"] = values.cognito_endpoint  # Amplify's `userPoolEndpoint`
    return {
        "version": CONSOLE_OUTPUTS_VERSION,
        "stage": values.stage,
        "api_url": values.api_url.rstrip("/"),
        "auth": auth,
        "apps": apps,
    }


def console_outputs_bytes(summary: Mapping[str, Any], manifest: Path | None = None) -> bytes:
    """The console's outputs for the running platform (`manifest`: default integreat.toml)."""
    from chalicelib.tenancy.manifest import load_manifest
    from integreat.outputs import local_values

    document = console_outputs(load_manifest(manifest), local_values(summary))
    return (json.dumps(document, indent=2) + "\n").encode()


def console_port(manifest: Manifest) -> int:
    """The port of the first loopback origin of `[console] origins`, else CONSOLE_PORT."""
    for origin in manifest.console.origins:
        parts = urlsplit(origin)
        if parts.scheme == "http" and parts.hostname in LOOPBACK and parts.port is not None:
            return parts.port
    return CONSOLE_PORT


def example_site(slug: str, summary: Mapping[str, Any], manifest: Path | None = None) -> Site:
    """examples/<slug>-web/dist with the app's amplify_outputs.json."""
    return Site(example_dir(slug) / "dist", outputs_bytes(slug, summary, manifest))


def console_site(summary: Mapping[str, Any], manifest: Path | None = None) -> Site:
    """console/dist with its console_outputs.json."""
    return Site(CONSOLE / "dist", console_outputs_bytes(summary, manifest), CONSOLE_OUTPUTS_PATH)


def _start(
    name: str, directory: Path, port: int, site: Callable[[], Site], say: Callable[[str], None]
) -> Callable[[], None] | None:
    """Serve `site()` (`directory`/dist and its outputs) on `port`; None, and a line saying why,
    when it is not built or cannot be served."""
    from integreat.outputs import OutputsError

    if not (directory / "dist" / "index.html").is_file():
        say(f"  {name}: not built; build it with `cd {directory} && npm ci && npm run build`")
        return None
    try:
        stop = serve(site(), port)
    except (OutputsError, OSError) as exc:  # a taken port or an unprovisioned app: the rest still runs
        say(f"  {name}: not served on port {port} ({exc})")
        return None
    say(f"  {name}: http://localhost:{port}")
    return stop


def start_frontends(
    summary: Mapping[str, Any], say: Callable[[str], None] = print, manifest: Path | None = None
) -> Callable[[], None]:
    """Serve every built example frontend on its declared local origin, and the console on its
    own; say how to build the others. `manifest`: default $INTEGREAT_MANIFEST, else
    integreat.toml. Returns `stop`."""
    from chalicelib.tenancy.manifest import load_manifest

    loaded = load_manifest(manifest)
    started: list[Callable[[], None] | None] = []
    for app in loaded.apps:
        port = app.frontend.local_port()
        if port is None or not example_dir(app.slug).is_dir():
            continue  # no example for this app, or no local origin to serve it on
        site = functools.partial(example_site, app.slug, summary, manifest)
        started.append(_start(f"frontend {app.slug}", example_dir(app.slug), port, site, say))
    site = functools.partial(console_site, summary, manifest)
    started.append(_start("console", CONSOLE, console_port(loaded), site, say))
    stops = [stop for stop in started if stop is not None]

    def stop_all() -> None:
        for stop in reversed(stops):
            stop()

    return stop_all
