"""`[integrations.<name>]`: what a valid declaration gives, and every refusal with its key."""

from __future__ import annotations

import pytest

from chalicelib.integrations.model import from_json, to_json
from chalicelib.tenancy.manifest import ManifestError, parse_manifest

PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'
TWO_APPS = f'{PLATFORM}[apps.church]\nname = "C"\n[apps.events]\nname = "E"\n'
VALID = 'base_url = "https://api.example.com/v1/"\nsecret = "s/weather"\nheader = "X-Api-Key"\napps = ["church"]\n'


def integration(body: str, name: str = "weather") -> str:
    return f"{TWO_APPS}[integrations.{name}]\n{body}"


def test_defaults_and_the_registry_json() -> None:
    (spec,) = parse_manifest(integration(VALID)).integrations
    assert spec.base_url == "https://api.example.com/v1"  # the trailing slash is dropped
    assert (spec.methods, spec.paths, spec.value, spec.per_minute) == (("GET",), ("",), "{secret}", 60)
    assert spec.local_base_url is None
    assert from_json(to_json(spec)) == spec


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("forecast", True), ("forecast/today", True), ("forecastx", False), ("admin", False), ("", False)],
)
def test_path_prefixes_match_whole_segments(path: str, allowed: bool) -> None:
    (spec,) = parse_manifest(integration(VALID + 'paths = ["forecast/"]\n')).integrations
    assert spec.allows_path(path) is allowed


def replace(old: str, new: str) -> str:
    return integration(VALID.replace(old, new))


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (replace("https://api.example.com/v1/", "http://api.example.com"), "base_url", "https://"),
        (replace("https://api.example.com/v1/", "https://u:p@api.example.com"), "base_url", "without user"),
        (replace("https://api.example.com/v1/", "https://api.example.com/?k=1"), "base_url", "query"),
        (integration(VALID + 'local_base_url = "http://10.0.0.5/v1"\n'), "local_base_url", "loopback"),
        (integration(VALID + 'methods = ["TRACE"]\n'), "methods", "methods among"),
        (integration(VALID + "methods = []\n"), "methods", "non-empty"),
        (integration(VALID + 'paths = ["../admin"]\n'), "paths", "path prefixes"),
        (integration(VALID + 'value = "Bearer"\n'), "value", "{secret}"),
        (replace('header = "X-Api-Key"', 'header = "Host"'), "header", "set by the proxy"),
        (replace('header = "X-Api-Key"', 'header = "X Api"'), "header", "header name"),
        (replace('apps = ["church"]', 'apps = ["nobody"]'), "apps[0]", "not an app"),
        (replace('apps = ["church"]\n', ""), "apps", "array of app slugs"),
        (integration(VALID + "per_minute = 0\n"), "per_minute", "integer from 1"),
        (integration(VALID + "timeout_seconds = 60\n"), "timeout_seconds", "to 29"),
        (integration(VALID + "max_response_bytes = 10000000\n"), "max_response_bytes", "6000000"),
        (integration(VALID + "url = 1\n"), "url", "unknown key"),
        (integration(VALID, name='"Bad Name"'), "Bad Name", "invalid integration name"),
    ],
)
def test_bad_declarations_are_reported_with_their_key(text: str, key: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "bad.toml")
    assert any(i.key.startswith(f"integrations.weather.{key}") or key in i.key for i in caught.value.issues)
    assert any(fragment in i.message for i in caught.value.issues), caught.value.issues
