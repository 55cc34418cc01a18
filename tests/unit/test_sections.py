"""A new per-app section plugs in with one line of wiring: a throwaway `notes` section is defined
here (as a feature package would define it), added to the platform's list, parsed from a
manifest with its own errors and cross-app check, and stored and loaded through the registry's
codec, with no change to `chalicelib.tenancy` or `chalicelib.db`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import pytest

from chalicelib.apps import PLATFORM_SECTIONS, SECTIONS
from chalicelib.apps.manifest import DECLARATION, AppSpec
from chalicelib.storage.section import STORAGE
from chalicelib.tenancy import store
from chalicelib.tenancy.declaration import Declaration, parse_manifest
from chalicelib.tenancy.model import ManifestError
from chalicelib.tenancy.registry import ACTIVE
from chalicelib.tenancy.sections import AppContext, AppSection, Sections, decode_document
from chalicelib.tenancy.toml_reader import Table

PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'


# --- the throwaway feature: what a new package would hold ---------------------------------------


class Notes(NamedTuple):
    pinned: str = ""
    mentions: tuple[str, ...] = ()


def parse_notes(app: Table, context: AppContext) -> Notes | None:
    table = app.table("notes", "a table, written [apps.<slug>.notes]", default={})
    if table is None:
        return None
    before = len(table.issues)
    table.check_keys(("pinned", "mentions"))
    pinned = table.text("pinned", "a short text", default="")
    mentions = table.values.get("mentions", [])
    if not isinstance(mentions, list) or not all(isinstance(m, str) for m in mentions):
        table.reject("mentions", "an array of app slugs", mentions)
        return None
    if pinned is None or len(table.issues) != before:
        return None
    return Notes(pinned, tuple(mentions))


def check_mentions(apps: Table, notes: Mapping[str, Notes | None]) -> None:
    for slug, value in notes.items():
        for index, mention in enumerate(value.mentions if value else ()):
            if mention not in notes:
                apps.child(slug).child("notes").child("mentions").report(index, f"{mention!r} is not an app")


NOTES: AppSection[Notes] = AppSection(
    "notes",
    Notes(),
    parse=parse_notes,
    check=check_mentions,
    encode=lambda notes: {"pinned": notes.pinned, "mentions": list(notes.mentions)},
    decode=lambda data: Notes(str(data["pinned"]), tuple(data["mentions"])) if data else Notes(),
)

# The one line of wiring (in the platform: one more entry in chalicelib.apps.SECTIONS).
WITH_NOTES = Declaration(AppSpec, (*SECTIONS, NOTES), PLATFORM_SECTIONS)

MANIFEST = (
    PLATFORM
    + """
[apps.church]
name = "Church"
[apps.church.notes]
pinned = "Sunday at ten"
mentions = ["events"]
[apps.church.storage.folders."uploads/"]
write = "members"
read = "members"
content_types = ["image/*"]
max_size = "1MB"

[apps.events]
name = "Events"
"""
)


# --- parsing -------------------------------------------------------------------------------------


def test_a_registered_section_is_parsed_with_the_rest_of_the_app() -> None:
    manifest = parse_manifest(MANIFEST, "<test>", WITH_NOTES)

    church = manifest.app("church")
    assert NOTES.of(church) == Notes("Sunday at ten", ("events",))
    assert church.storage.folders[0].path == "uploads/"  # the other sections are untouched
    assert NOTES.of(manifest.app("events")) == Notes()  # none declared: the section's default


def test_without_the_line_of_wiring_the_key_is_unknown() -> None:
    with pytest.raises(ManifestError) as raised:
        parse_manifest(MANIFEST, "<test>", DECLARATION)

    assert [issue.key for issue in raised.value.issues] == ["apps.church.notes"]
    assert "unknown key" in raised.value.issues[0].message


def test_the_section_reports_its_own_errors_and_cross_app_checks() -> None:
    bad = MANIFEST.replace('mentions = ["events"]', 'mentions = ["nobody"]\ncolour = "red"')

    with pytest.raises(ManifestError) as raised:
        parse_manifest(bad, "<test>", WITH_NOTES)

    assert {(issue.key, issue.message.split(";")[0]) for issue in raised.value.issues} == {
        ("apps.church.notes.colour", "unknown key"),
    }


def test_cross_app_checks_run_once_every_app_is_parsed() -> None:
    bad = MANIFEST.replace('mentions = ["events"]', 'mentions = ["nobody"]')

    with pytest.raises(ManifestError) as raised:
        parse_manifest(bad, "<test>", WITH_NOTES)

    assert [(i.key, i.message) for i in raised.value.issues] == [
        ("apps.church.notes.mentions[0]", "'nobody' is not an app")
    ]


# --- storing and loading -------------------------------------------------------------------------


def test_the_section_is_stored_and_loaded_by_name_through_the_registry_codec() -> None:
    church = parse_manifest(MANIFEST, "<test>", WITH_NOTES).app("church")
    stored = json.loads(json.dumps(church.sections.document()))  # as the jsonb column holds it

    assert stored["notes"] == {"pinned": "Sunday at ten", "mentions": ["events"]}
    loaded = decode_document((*SECTIONS, NOTES), stored)
    assert loaded == church.sections


def test_the_registry_loader_decodes_rows_by_column_name() -> None:
    church = parse_manifest(MANIFEST, "<test>", WITH_NOTES).app("church")
    row: dict[str, Any] = {
        "slug": "church", "status": ACTIVE, "name": "Church", "created_at": None, "updated_at": None,
        "enrollment": "invite", "roles": ["member"], "iam_role_arn": None, "iam_role_id": "AROA1",
        "clients": ["client-1"], "sections": church.sections.document(), "cell": None,
    }  # fmt: skip

    def platform(sql: str, params: object) -> list[tuple[Any, ...]]:
        assert sql == store.LOAD_SQL
        return [tuple(row[name] for name, _ in store._COLUMNS)]

    records = store.loader(platform, (*SECTIONS, NOTES))()

    record = records["church"]
    assert (record.iam_role_id, record.clients) == ("AROA1", ("client-1",))
    assert NOTES.of(record) == Notes("Sunday at ten", ("events",))
    assert STORAGE.of(record) == church.storage


def test_a_registry_that_does_not_know_a_section_leaves_it_alone() -> None:
    document = parse_manifest(MANIFEST, "<test>", WITH_NOTES).app("church").sections.document()

    loaded = decode_document(SECTIONS, document)  # an older release, say

    assert "notes" not in loaded
    assert NOTES.of(AppSpec("church", "Church", "invite", ("member",), sections=loaded)) == Notes()


def test_defaults_are_not_stored_so_built_and_parsed_apps_are_equal() -> None:
    parsed = parse_manifest(MANIFEST, "<test>", WITH_NOTES).app("events")

    assert parsed == AppSpec("events", "Events", "invite", ("member",))
    assert parsed.sections == Sections()
    assert parsed.sections.document() == {}
    assert hash(parsed) == hash(AppSpec("events", "Events", "invite", ("member",)))
