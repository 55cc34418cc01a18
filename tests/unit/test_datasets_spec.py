"""`[apps.<slug>.datasets.<name>]`: what a valid declaration gives, and every refusal with its key."""

from __future__ import annotations

import pytest

from chalicelib.sharing.model import DatasetSpec, find, from_json, to_json
from chalicelib.tenancy.manifest import ManifestError, parse_manifest

PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'
TWO_APPS = f'{PLATFORM}[apps.church]\nname = "C"\n[apps.events]\nname = "E"\n'


def church_dataset(body: str, name: str = "services") -> str:
    return f"{TWO_APPS}[apps.church.datasets.{name}]\n{body}"


def test_a_declaration_round_trips_through_the_registry_json() -> None:
    manifest = parse_manifest(church_dataset('view = "public_services"\nkey = "id"\nreaders = ["events"]\n'))
    (shared,) = manifest.app("church").datasets
    assert shared == DatasetSpec("services", "public_services", "id", ("events",))
    assert from_json(to_json((shared,))) == (shared,)
    assert find((shared,), "services") == shared
    assert find((shared,), "other") is None
    assert manifest.app("events").datasets == ()


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            church_dataset('view = "v"\nkey = "id"\n', name='"Bad-Name"'),
            "apps.church.datasets.Bad-Name",
            "invalid dataset name",
        ),
        (church_dataset('key = "id"\n'), "apps.church.datasets.services.view", "is required"),
        (church_dataset('view = "v"\n'), "apps.church.datasets.services.key", "is required"),
        (
            church_dataset('view = "x; DROP TABLE y"\nkey = "id"\n'),
            "apps.church.datasets.services.view",
            "view",
        ),
        (church_dataset('view = "v"\nkey = "ID"\n'), "apps.church.datasets.services.key", "column"),
        (
            church_dataset('view = "v"\nkey = "id"\nreaders = "events"\n'),
            "apps.church.datasets.services.readers",
            "array",
        ),
        (
            church_dataset('view = "v"\nkey = "id"\nreaders = ["nobody"]\n'),
            "apps.church.datasets.services.readers[0]",
            "not an app",
        ),
        (
            church_dataset('view = "v"\nkey = "id"\nreaders = ["church"]\n'),
            "apps.church.datasets.services.readers[0]",
            "owns",
        ),
        (
            church_dataset('view = "v"\nkey = "id"\nwriters = []\n'),
            "apps.church.datasets.services.writers",
            "unknown key",
        ),
        (f'{PLATFORM}[apps.church]\nname = "C"\ndatasets = 1\n', "apps.church.datasets", "must be a table"),
    ],
)
def test_bad_declarations_are_reported_with_their_key(text: str, key: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "bad.toml")
    assert any(i.key.startswith(key) and fragment in i.message for i in caught.value.issues), (
        caught.value.issues
    )
