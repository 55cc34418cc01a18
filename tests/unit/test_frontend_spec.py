"""`[apps.<slug>.frontend]`: exact origins (https, or loopback http for make dev), hosting keys,
the registry's JSON round trip, and which origins a stage honours."""

from __future__ import annotations

import pytest

from chalicelib.frontends.model import FrontendSpec, from_data, to_data
from chalicelib.tenancy.manifest import ManifestError, parse_manifest

PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n[apps.church]\nname = "C"\n'


def church_frontend(body: str) -> str:
    return f"{PLATFORM}[apps.church.frontend]\n{body}"


def test_a_declaration_round_trips_through_the_registry_json() -> None:
    manifest = parse_manifest(
        church_frontend(
            'origins = ["https://church.example.org", "http://localhost:5173", "https://church.example.org"]\n'
            'repository = "https://github.com/example/church-web"\ntoken_secret = "church/github"\n'
            'domain = "church.example.org"\n'
        )
    )
    spec = manifest.app("church").frontend

    assert spec.origins == ("https://church.example.org", "http://localhost:5173")  # duplicates once
    assert spec == FrontendSpec(spec.origins, "https://github.com/example/church-web", "main",
                                "church/github", "church.example.org")  # fmt: skip
    assert from_data(to_data(spec)) == spec
    assert from_data(None) == FrontendSpec()


def test_no_table_is_no_frontend() -> None:
    assert parse_manifest(PLATFORM).app("church").frontend == FrontendSpec()


def test_a_stage_outside_local_honours_https_origins_only() -> None:
    spec = FrontendSpec(("https://a.example.org", "http://localhost:5173", "http://127.0.0.1:8080"),
                        domain="c.example.org")  # fmt: skip

    assert spec.allowed_origins(local=False) == {"https://a.example.org", "https://c.example.org"}
    assert spec.allowed_origins(local=True) == {
        "https://a.example.org", "https://c.example.org", "http://localhost:5173", "http://127.0.0.1:8080"
    }  # fmt: skip


def test_make_dev_serves_on_the_first_loopback_origin() -> None:
    assert FrontendSpec(("https://a.example.org", "http://localhost:5180")).local_port() == 5180
    assert FrontendSpec(("https://a.example.org",)).local_port() is None


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ('origins = ["http://church.example.org"]\n', "apps.church.frontend.origins[0]", "use https"),
        (
            'origins = ["https://church.example.org/"]\n',
            "apps.church.frontend.origins[0]",
            "remove the trailing slash",
        ),
        (
            'origins = ["https://*.example.org"]\n',
            "apps.church.frontend.origins[0]",
            "wildcards are not allowed",
        ),
        ('origins = ["https://Church.example.org"]\n', "apps.church.frontend.origins[0]", "lowercase"),
        ('origins = ["https://church.example.org/app"]\n', "apps.church.frontend.origins[0]", "no path"),
        ('origins = ["church.example.org"]\n', "apps.church.frontend.origins[0]", "exact origin"),
        ('origins = ["https://a.example.org:0"]\n', "apps.church.frontend.origins[0]", "exact origin"),
        ("origins = [1]\n", "apps.church.frontend.origins[0]", "exact origin"),
        ('origins = "https://church.example.org"\n', "apps.church.frontend.origins", "array"),
        ('repository = "https://github.com/a/b"\n', "apps.church.frontend.token_secret", "required with"),
        (
            'repository = "git@github.com:a/b"\ntoken_secret = "t"\n',
            "apps.church.frontend.repository",
            "https",
        ),
        ('domain = "https://church.example.org"\n', "apps.church.frontend.domain", "domain name"),
        ('branch = "-x"\n', "apps.church.frontend.branch", "branch"),
        ('origin = ["https://a.example.org"]\n', "apps.church.frontend.origin", "did you mean 'origins'"),
    ],
)
def test_bad_declarations_are_reported_with_their_key(body: str, key: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(church_frontend(body), "bad.toml")
    assert any(i.key == key and fragment in i.message for i in caught.value.issues), caught.value.issues
