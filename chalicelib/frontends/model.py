"""The `[apps.<slug>.frontend]` section as data, and the origins a stage honours.

Standard library only: the API's CORS decision reads it on the request path.
"""

from __future__ import annotations

from typing import NamedTuple

#: Hosts that only ever name the machine the browser runs on: the only ones allowed over http.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class FrontendSpec(NamedTuple):
    """Where an app's frontend runs and how it is hosted. `origins`: exact browser origins
    (`https://church.example.org`, `http://localhost:5173`); a `domain` adds `https://<domain>`."""

    origins: tuple[str, ...] = ()
    repository: str | None = None  # https://github.com/org/repo; None: manual (zip) deployments
    branch: str = "main"
    token_secret: str | None = None  # Secrets Manager name of the repository's access token
    domain: str | None = None  # a custom domain for the hosted frontend (its DNS is the app team's)

    def allowed_origins(self, local: bool) -> frozenset[str]:
        """The origins a stage lets call the API and the bucket: outside `local` only https ones,
        so the loopback origins a manifest declares for `make dev` never reach production."""
        declared = (*self.origins, *((f"https://{self.domain}",) if self.domain else ()))
        return frozenset(origin for origin in declared if local or origin.startswith("https://"))

    def local_port(self) -> int | None:
        """The port of its first loopback origin: where `make dev` serves the built frontend."""
        for origin in self.origins:
            scheme, _, rest = origin.partition("://")
            host, _, port = rest.rpartition(":")
            if scheme == "http" and host in LOOPBACK_HOSTS and port.isdigit():
                return int(port)
        return None


def to_data(spec: FrontendSpec) -> dict[str, object]:
    return spec._asdict() | {"origins": list(spec.origins)}


def from_data(data: object) -> FrontendSpec:
    """From the registry's JSON (a dict); fields the stored document lacks take their defaults."""
    if not isinstance(data, dict):
        return FrontendSpec()
    fields = {name: data[name] for name in FrontendSpec._fields if name in data}
    return FrontendSpec(**fields | {"origins": tuple(str(o) for o in data.get("origins", ()))})
