"""`[platform.limits]`, `[apps.<slug>.limits]` and `[console]` in the manifest: what is accepted,
how the platform's defaults fill each app's, and a clear message for each mistake."""

from __future__ import annotations

import pytest

from chalicelib.apps.manifest import ManifestError, parse_manifest
from chalicelib.usage.model import BUILT_IN, LimitsSpec

HEAD = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'


def _problems(text: str) -> str:
    with pytest.raises(ManifestError) as raised:
        parse_manifest(HEAD + text)
    return str(raised.value)


def test_an_apps_limits_override_the_platforms_which_override_the_built_in() -> None:
    manifest = parse_manifest(
        HEAD + '[platform.limits]\nrequests_per_minute = 100\nstorage_bytes = "2GB"\n'
        '[apps.a]\nname = "A"\n[apps.a.limits]\nrequests_per_minute = 7\n[apps.b]\nname = "B"\n'
    )
    a, b = manifest.app("a"), manifest.app("b")

    assert a.limits == LimitsSpec(7, 2 * 1024**3, None)
    assert b.limits == LimitsSpec(100, 2 * 1024**3, None)
    assert b.limits.effective() == {"requests_per_minute": 100, "storage_bytes": 2 * 1024**3,
                                    "events_per_day": BUILT_IN["events_per_day"]}  # fmt: skip


def test_no_limits_anywhere_is_the_built_in() -> None:
    app = parse_manifest(HEAD + '[apps.a]\nname = "A"\n').app("a")
    assert app.limits == LimitsSpec()
    assert app.limits.effective() == BUILT_IN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[apps.a]\nname = "A"\n[apps.a.limits]\nrequests_per_minute = 0\n',
         "apps.a.limits.requests_per_minute: must be a whole number from 1 to 100,000,000; got integer 0"),
        ('[apps.a]\nname = "A"\n[apps.a.limits]\nevents_per_day = "many"\n', "apps.a.limits.events_per_day: must be"),
        ('[apps.a]\nname = "A"\n[apps.a.limits]\nstorage_bytes = "5 GB"\n', "apps.a.limits.storage_bytes: must be bytes"),
        ('[platform.limits]\nrequests = 5\n', "platform.limits.requests: unknown key"),
        ("[limits]\nrequests_per_minute = 5\n", "limits: unknown key"),
        ('[console]\norigins = ["http://console.example.org"]\n', "console.origins[0]: must be"),
        ('[console]\nhosts = []\n', "console.hosts: unknown key"),
    ],
)  # fmt: skip
def test_each_mistake_is_named_with_what_to_write(text: str, message: str) -> None:
    assert message in _problems(text)


def test_the_console_takes_origins_like_an_apps_frontend() -> None:
    manifest = parse_manifest(
        HEAD + '[console]\norigins = ["https://console.example.org", "http://localhost:5180"]\n'
    )
    assert manifest.console.origins == ("https://console.example.org", "http://localhost:5180")
    assert manifest.console.allowed_origins(local=False) == ("https://console.example.org",)
