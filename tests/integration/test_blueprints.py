"""Blueprints: realistic Amplify Gen 2 outputs and a Serverless v3 service (tests/fixtures/
blueprints/) become a manifest entry that validates, keeps the manifest's comments and layout,
and does not change on re-import; bad input is refused with every reason and writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chalicelib.tenancy.manifest import parse_manifest
from integreat.blueprints import amplify, serverless
from integreat.blueprints.apply import merged
from integreat.blueprints.proposal import EXCEEDS, FLAGGED, ROUTE, UNMAPPED, BlueprintError, Folder, Proposal
from tests.cli import run_integreat

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "blueprints"
MANIFEST = (ROOT / "integreat.toml").read_text()


def messages(proposal: Proposal, kind: str) -> str:
    return "\n".join(f"{f.where}: {f.message}" for f in proposal.findings if f.kind == kind)


def test_amplify_groups_become_roles_and_paths_become_folders() -> None:
    proposal = amplify.propose(amplify.load(FIXTURES / "amplify_outputs.json"), "cityevents")
    assert proposal.roles == ["member", "admin", "organizers"]  # ADMINS is the app-admin role
    assert proposal.folders == {
        "posters/": Folder(write="organizers", read="members"),
        "tickets/{user}/": Folder(write="owner", read="owner"),  # {entity_id}: one folder per user
    }
    flagged = messages(proposal, FLAGGED)
    assert "posters/*" in flagged  # guest read of posters: not granted, said so
    assert "unauthenticated_identities_enabled" in flagged
    unmapped = messages(proposal, UNMAPPED)
    assert "exports/*" in unmapped  # function ("resource") access only: no writer the platform knows
    assert "models: Event, Ticket" in unmapped  # AppSync: datasets suggested
    assert "also had admin" in unmapped  # one principal per right: what was dropped is said


def lines_in_order(original: str, result: str) -> bool:
    remaining = iter(result.splitlines())
    return all(any(line == candidate for candidate in remaining) for line in original.splitlines())


def test_a_new_app_is_added_whole_keeping_every_comment_and_validates() -> None:
    proposal = amplify.propose(amplify.load(FIXTURES / "amplify_outputs.json"), "cityevents")
    result = merged(MANIFEST, proposal)
    assert lines_in_order(MANIFEST, result)  # nothing of the manifest moved or lost
    app = parse_manifest(result).app("cityevents")
    assert app.roles == ("member", "admin", "organizers")
    assert app.enrollment == "invite"  # deny by default
    assert result.index("[apps.cityevents]") < result.index("# Third-party integrations")
    assert (
        merged(result, amplify.propose(amplify.load(FIXTURES / "amplify_outputs.json"), "cityevents"))
        == result
    )


def test_an_existing_app_gains_roles_and_keeps_its_own_folders() -> None:
    proposal = amplify.propose(amplify.load(FIXTURES / "amplify_outputs.json"), "events")
    result = merged(MANIFEST, proposal)
    assert parse_manifest(result).app("events").roles[-1] == "organizers"
    assert "kept as is" in messages(proposal, UNMAPPED)  # posters/ differs: the manifest wins
    assert (
        merged(result, amplify.propose(amplify.load(FIXTURES / "amplify_outputs.json"), "events")) == result
    )


def test_serverless_routes_folders_queues_and_permissions() -> None:
    proposal = serverless.propose(serverless.load(FIXTURES / "serverless.yml"), "portal")
    assert proposal.name == "Student Portal"
    assert proposal.folders == {"assignments/": Folder(write="members", read="members")}
    routes = messages(proposal, ROUTE)
    assert "GET /submissions (function listSubmissions)" in routes
    assert "GET /submissions/{id}" in routes
    exceeds = messages(proposal, EXCEEDS)
    assert "dynamodb:PutItem" in exceeds
    assert "Resource '*'" in exceeds
    assert "s3:GetObject" not in exceeds  # the app's folder grants that
    unmapped = messages(proposal, UNMAPPED)
    assert "GRADING_API_KEY: looks like a secret" in unmapped
    assert "subscribe in [[apps.<slug>.events.subscribes]]" in unmapped
    result = merged(MANIFEST, proposal)
    assert parse_manifest(result).app("portal").storage is not None
    assert (
        merged(result, serverless.propose(serverless.load(FIXTURES / "serverless.yml"), "portal")) == result
    )


@pytest.mark.parametrize(
    ("loader", "name", "expected"),
    [
        (amplify.load, "amplify_outputs_v2.json", ["unknown outputs schema version '2'"]),
        (amplify.load, "amplify_outputs_empty.json", ["nothing to import"]),
        (amplify.load, "serverless.yml", ["not a JSON file"]),
        (amplify.load, "missing.json", ["no such file"]),
        (
            serverless.load,
            "serverless_unrendered.yml",
            ["line 10: !Ref", "line 11: !GetAtt", "${self:service}", "${sls:stage}",
             "functions.onUpload.events[0].s3.bucket: variable ${self:custom.bucket}"],
        ),
        (serverless.load, "amplify_outputs_v2.json", ["`functions` is missing", "`provider.name` must be aws"]),
    ],
)  # fmt: skip
def test_bad_blueprints_are_refused_with_every_reason(loader: object, name: str, expected: list[str]) -> None:
    with pytest.raises(BlueprintError) as caught:
        loader(FIXTURES / name)  # type: ignore[operator]
    text = "\n".join(caught.value.problems)
    for fragment in expected:
        assert fragment in text


def test_an_older_serverless_framework_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "serverless.yml"
    old.write_text(
        (FIXTURES / "serverless.yml").read_text().replace("frameworkVersion: '3'", "frameworkVersion: '2'")
    )
    with pytest.raises(BlueprintError, match="Serverless Framework v3"):
        serverless.load(old)


def test_the_command_writes_once_and_bad_input_writes_nothing(tmp_path: Path) -> None:
    manifest = tmp_path / "integreat.toml"
    shutil.copy(ROOT / "integreat.toml", manifest)
    args = ["blueprint", "import", "amplify", str(FIXTURES / "amplify_outputs.json"), "--app", "cityevents",
            "--manifest", str(manifest)]  # fmt: skip
    dry = run_integreat(*args)
    assert dry.returncode == 0, dry.stderr
    assert "+[apps.cityevents]" in dry.stdout
    assert "dry run" in dry.stdout
    assert manifest.read_text() == MANIFEST  # a dry run writes nothing
    assert run_integreat(*args, "--write").returncode == 0
    written = manifest.read_text()
    again = run_integreat(*args, "--write")
    assert "no change" in again.stdout
    assert manifest.read_text() == written
    bad = run_integreat("blueprint", "import", "serverless", str(FIXTURES / "serverless_unrendered.yml"),
                        "--app", "portal", "--manifest", str(manifest), "--write")  # fmt: skip
    assert bad.returncode == 1
    assert "nothing written" in bad.stderr
    assert manifest.read_text() == written
    assert run_integreat(*args[:-2], "--app", "Bad-Slug", "--manifest", str(manifest)).returncode == 2
