"""The browser tier: headless Chromium drives examples/church-web and the admin console
(console/) against `integreat dev`.

A local platform of its own (tests/clients' way of starting `integreat dev`: free ports, a
temporary state directory), with a copy of the manifest whose apps (and `[console]`) declare free
local ports as their origins, and the example and the console built before it starts (`npm ci` +
`npm run build`), so that `integreat dev` serves them itself on their declared origins, as `make
dev` does. church-web's page is also served on a second port, an origin no app declares.

Needs Chromium (Debian's: `apt-get install chromium`), Playwright for Python (`pip install
playwright`; its own browser download is not used) and Node.js 20+ with npm. Without them the
tier skips and says how to install them; INTEGREAT_REQUIRE_BROWSER=1 (CI) makes that a failure.
Screenshots of every step go to $INTEGREAT_BROWSER_ARTIFACTS, else tests/browser/artifacts/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integreat.local.frontends import CONSOLE, Site, console_port, example_dir, outputs_bytes, serve
from integreat.local.postgres import free_port
from tests.clients.conftest import started
from tests.clients.harness import MIN_NODE, Platform, missing
from tests.conftest import ROOT

REQUIRE = "INTEGREAT_REQUIRE_BROWSER"
EXAMPLE = example_dir("church")
ARTIFACTS = Path(os.environ.get("INTEGREAT_BROWSER_ARTIFACTS") or Path(__file__).parent / "artifacts")
INSTALL = (
    "the browser tests need Chromium and Playwright for Python: `apt-get install chromium` (Debian;"
    " or set INTEGREAT_CHROMIUM to a Chromium binary) and `.venv/bin/pip install playwright`"
    " (`playwright install` is not needed)"
)


def chromium_path() -> str:
    found = os.environ.get("INTEGREAT_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
    )
    if found is None:
        missing(f"{INSTALL}; no chromium on PATH", REQUIRE)
    return found


def _npm(directory: Path, *args: str) -> None:
    done = subprocess.run(["npm", *args, "--no-audit", "--no-fund", "--loglevel=error"], cwd=directory,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    if done.returncode != 0:
        missing(f"`npm {' '.join(args)}` in {directory} failed (is the npm registry reachable?):\n{done.stderr[-2000:]}",
                REQUIRE)  # fmt: skip


def build_frontend(directory: Path) -> Path:
    """`directory`/dist (church-web, the console), built now: `npm ci` once per lockfile, then the
    build, unless a dist/ at least as new as every source file is there already."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing(f"Node.js {MIN_NODE}+ and npm are needed to build {directory}", REQUIRE)
    stamp = directory / "node_modules" / ".integreat-lock.sha256"
    digest = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        _npm(directory, "ci")
        stamp.write_text(digest)
    built = directory / "dist" / "index.html"
    sources = [directory / "index.html", directory / "build.mjs", *(directory / "src").rglob("*")]
    if not built.is_file() or built.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        _npm(directory, "run", "build")
    return directory / "dist"


def build_example() -> Path:
    """examples/church-web/dist, built now if missing or older than its sources."""
    return build_frontend(EXAMPLE)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing(f"{INSTALL}; playwright is not installed", REQUIRE)
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def dist() -> Path:
    return build_example()


@pytest.fixture(scope="session")
def console_dist() -> Path:
    return build_frontend(CONSOLE)


@pytest.fixture(scope="session")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """integreat.toml with every app's local origin, and the console's, moved to a free port
    (5173... and 5180 may be taken)."""
    text = (ROOT / "integreat.toml").read_text()
    for declared in ("http://localhost:5173", "http://localhost:5174", "http://localhost:5175"):
        assert f'origins = ["{declared}"]' in text, declared
        text = text.replace(f'origins = ["{declared}"]', f'origins = ["http://localhost:{free_port()}"]')
    # `[console] origins`: the first loopback one is where `integreat dev` serves the console.
    text = text.replace(
        'origins = ["http://localhost:5180"]', f'origins = ["http://localhost:{free_port()}"]'
    )
    copy = tmp_path_factory.mktemp("browser-manifest") / "integreat.toml"
    copy.write_text(text)
    return copy


@pytest.fixture(scope="session")
def platform(dist: Path, console_dist: Path, manifest: Path) -> Iterator[Platform]:
    with started({"INTEGREAT_MANIFEST": str(manifest)}) as running:
        yield running


def served(platform: Platform, line: str) -> None:
    """Wait until `integreat dev` says `line` (it serves the frontends once it is up)."""
    assert platform.log is not None
    said, deadline = "", time.monotonic() + 60
    while line not in said and time.monotonic() < deadline:
        time.sleep(0.2)
        said = platform.log.read_text()
    assert line in said, said[-3000:]


@pytest.fixture(scope="session")
def origins(platform: Platform, dist: Path, manifest: Path) -> Iterator[dict[str, str]]:
    """{"declared": church's origin, served by `integreat dev`, "other": the same page elsewhere}."""
    from chalicelib.tenancy.manifest import load_manifest

    port = load_manifest(manifest).app("church").frontend.local_port()
    served(platform, f"frontend church: http://localhost:{port}")
    other = free_port()
    stop_other = serve(Site(dist, outputs_bytes("church", platform.info, manifest)), other)
    try:
        yield {"declared": f"http://localhost:{port}", "other": f"http://localhost:{other}"}
    finally:
        stop_other()


@pytest.fixture(scope="session")
def console_origin(platform: Platform, manifest: Path) -> str:
    """The console's origin, served by `integreat dev` (the first loopback `[console]` origin)."""
    from chalicelib.tenancy.manifest import load_manifest

    port = console_port(load_manifest(manifest))
    served(platform, f"console: http://localhost:{port}")
    return f"http://localhost:{port}"


@pytest.fixture(scope="module")
def shoot(request: pytest.FixtureRequest) -> Callable[[Any, str], None]:
    """Save a screenshot of `page` as <artifacts>/<module>/<nn>-<step>.png."""
    folder = ARTIFACTS / Path(str(request.node.name)).stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    count = iter(range(1, 1000))

    def take(page: Any, step: str) -> None:
        page.screenshot(path=str(folder / f"{next(count):02d}-{step}.png"), full_page=True)

    return take
