"""Blueprints: realistic Amplify Gen 2 outputs and a Serverless v3 service (tests/fixtures/
blueprints/) become a manifest entry that validates, keeps the manifest's comments and layout,
and does not change on re-import; bad input is refused with every reason and writes nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from chalicelib.tenancy.manifest import parse_manifest
from integreat.blueprints import amplify, serverless
from integreat.blueprints.apply import merged
from integreat.blueprints.proposal import (
    EXCEEDS,
    FLAGGED,
    MAPPED,
    ROUTE,
    UNMAPPED,
    BlueprintError,
    Folder,
    Proposal,
)
from integreat.blueprints.sls_intrinsics import Intrinsic
from integreat.blueprints.sls_variables import Unresolved
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
        # issue 18: both groups that write posters/* keep the right (it listed one before)
        "posters/": Folder(write=["organizers", "admin"], read="members"),
        "tickets/{user}/": Folder(write="owner", read=["owner", "admin"]),  # {entity_id}: per user
    }
    flagged = messages(proposal, FLAGGED)
    assert "posters/*" in flagged  # guest read of posters: not granted, said so
    assert "unauthenticated_identities_enabled" in flagged
    unmapped = messages(proposal, UNMAPPED)
    assert "exports/*" in unmapped  # function ("resource") access only: no writer the platform knows
    assert "models: Event, Ticket" in unmapped  # AppSync: datasets suggested
    merged_rights = messages(proposal, MAPPED)  # issue 18: nothing dropped, what was merged is said
    assert "write: organizers, admin merged into one folder right" in merged_rights
    assert "read: members (authenticated) already includes organizers, admin" in merged_rights


def test_two_writer_groups_on_one_path_keep_the_right_and_owner_paths_as_amplify_writes_them() -> None:
    proposal = amplify.propose(amplify.load(FIXTURES / "amplify_outputs_two_writers.json"), "parish")

    assert proposal.roles == ["member", "pastors", "volunteers", "organists"]
    assert proposal.folders == {
        "rotas/": Folder(write=["pastors", "volunteers"], read="members"),
        # `notes/${cognito-identity.amazonaws.com:sub}/*` (the owner's) and `notes/*` (the group's):
        # one `notes/{entity_id}/*` definition, so one folder
        "notes/{user}/": Folder(write="owner", read=["owner", "pastors"]),
    }
    mapped = messages(proposal, MAPPED)
    assert "write: pastors, volunteers merged into one folder right (any of them may)" in mapped
    assert "join folder 'notes/{user}/'" in mapped
    assert "overlap" not in messages(proposal, UNMAPPED)
    result = merged(MANIFEST, proposal)
    assert 'write = ["pastors", "volunteers"]' in result
    rotas = {rule.path: rule for rule in parse_manifest(result).app("parish").storage.folders}["rotas/"]
    assert (rotas.write, rotas.read) == (("pastors", "volunteers"), "members")
    again = amplify.propose(amplify.load(FIXTURES / "amplify_outputs_two_writers.json"), "parish")
    assert merged(result, again) == result  # a list compares equal to the manifest's array


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
        (serverless.load, "amplify_outputs_v2.json", ["`functions` is missing", "`provider.name` must be aws"]),
        (serverless.load, "amplify_outputs.json", ["`functions` is missing", "`service` is missing"]),
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
    bad = run_integreat("blueprint", "import", "serverless", str(FIXTURES / "amplify_outputs_v2.json"),
                        "--app", "portal", "--manifest", str(manifest), "--write")  # fmt: skip
    assert bad.returncode == 1
    assert "nothing written" in bad.stderr
    assert manifest.read_text() == written
    assert run_integreat(*args[:-2], "--app", "Bad-Slug", "--manifest", str(manifest)).returncode == 2


# An unrendered Serverless service, as the tutorials write it (issue 18): imported without the
# Framework; what needs AWS or a plugin is named with its key, references with their line.
TUTORIAL = FIXTURES / "serverless_tutorial.yml"


def tutorial(**options: Any) -> tuple[serverless.Service, Proposal]:
    service = serverless.load(TUTORIAL, environ=options.pop("environ", {}), **options)
    return service, serverless.propose(service, "cityevents")


def walk(value: Any) -> list[Any]:
    """Every value inside `value`, references' arguments included."""
    if isinstance(value, dict):
        return [value, *(v for item in value.values() for v in walk(item))]
    if isinstance(value, list):
        return [value, *(v for item in value for v in walk(item))]
    if isinstance(value, Intrinsic):
        return [value, *walk(value.argument)]
    return [value]


def test_an_unrendered_service_imports_with_its_variables_resolved() -> None:
    service, proposal = tutorial()
    config = service.config
    assert (
        config["custom"]["queueName"] == "events-dev"
    )  # ${sls:stage}: provider.stage, from ${opt:stage, 'dev'}
    assert config["custom"]["bucketName"] == "city-events-dev-uploads"  # through config/dev.yml
    assert config["custom"]["memory"] == 256  # ${self:custom.memorySizes.${sls:stage}, 512}: nested, a number
    assert config["custom"]["retries"] == 2  # found in the file: the fallback 3 is not used
    assert config["custom"]["verbose"] is False  # strToBool of an unset ${env:...}'s fallback
    assert config["provider"]["environment"]["REGION"] == "eu-west-1"  # ${aws:region}: provider.region
    assert proposal.folders == {
        "posters/": Folder(write="members", read="members"),
        "imports/": Folder(write="members", read="members"),  # ${env:IMPORT_PREFIX, 'imports/'}: unset
    }
    assert "stage 'dev' (provider.stage) and region 'eu-west-1' (provider.region)" in messages(
        proposal, MAPPED
    )
    routes = messages(proposal, ROUTE)
    assert "GET /events (function listEvents)" in routes
    assert "POST /events (function createEvent)" in routes
    unmapped = messages(proposal, UNMAPPED)
    assert (
        "iam statement 1: sqs:SendMessage to the service's own queue EventsQueue (!GetAtt EventsQueue.Arn, line 51)"
        in unmapped
    )
    assert (
        "iam statement 3: sns:Publish to the service's own topic AlertsTopic (!Ref AlertsTopic, line 62)"
        in unmapped
    )
    assert "consumes sqs the service's own queue EventsQueue (!GetAtt EventsQueue.Arn, line 124)" in unmapped
    assert (
        "TABLE_NAME: an environment value of the app's own backend; its value is the service's own table TicketsTable"
        in unmapped
    )
    assert "s3 events of the whole bucket city-events-dev-uploads" in unmapped
    exceeds = messages(proposal, EXCEEDS)
    assert (
        "dynamodb:PutItem on the service's own table TicketsTable (!GetAtt TicketsTable.Arn, line 58)"
        in exceeds
    )
    assert "s3:GetObject" not in exceeds  # the app's folder grants that, whichever bucket it names


def test_every_unresolvable_reference_is_named_with_its_key_or_line() -> None:
    service, proposal = tutorial()
    unresolved = [v for v in walk(service.config) if isinstance(v, Unresolved)]
    assert {v.key for v in unresolved} == {
        "custom.partnerKey", "custom.sharedTopic", "custom.featureFlags", "custom.account", "custom.domain",
        "custom.revision", "custom.shared", "provider.environment.PARTNER_API_KEY",
        "provider.environment.RELEASE", "provider.iam.role.statements[4].Resource",
    }  # fmt: skip
    reported: dict[str, str] = {}
    for finding in (f for f in proposal.findings if f.kind == UNMAPPED):
        reported[finding.where] = reported.get(finding.where, "") + "\n" + finding.message
    for value in unresolved:
        assert value.text in reported[value.key]
    assert "needs AWS Systems Manager parameters" in reported["custom.partnerKey"]
    assert "'git' is a plugin's variable source" in reported["custom.revision"]
    assert "outside the service's folder: not read" in reported["custom.shared"]
    assert (
        "uses custom.sharedTopic, which is not resolved"
        in reported["provider.iam.role.statements[4].Resource"]
    )
    report = "\n".join(f.message for f in proposal.findings)
    used = [service.config["provider"], service.config["functions"]]
    outermost = [v for v in walk(used) if isinstance(v, Intrinsic)]
    outermost = [v for v in outermost if not any(v in walk(o.argument) for o in outermost)]
    assert len(outermost) == 13
    for reference in outermost:
        assert f"{reference} ({reference.where}" in report or f"{reference}, {reference.where})" in report


def test_environment_values_are_reported_never_written() -> None:
    service, proposal = tutorial(environ={"IMPORT_PREFIX": "imports/", "ALERTS_EMAIL": "ops@city.example"})
    assert "imports/" not in proposal.folders  # the same folder, but it came from this machine
    assert "prefix 'imports/' comes from the environment (IMPORT_PREFIX)" in messages(proposal, UNMAPPED)
    flagged = messages(proposal, FLAGGED)
    assert (
        "custom.alertsEmail: ${env:ALERTS_EMAIL} = 'ops@city.example': this value came from the environment"
        in flagged
    )
    assert "${env:VERBOSE}: not set where the import ran; its fallback is used" in flagged
    assert (
        service.config["resources"]["Resources"]["AlertsTopic"]["Properties"]["Subscription"][0]["Endpoint"]
        == "ops@city.example"
    )
    assert "city.example" not in merged(MANIFEST, proposal)


def test_another_stage_changes_what_stage_dependent_names_resolve_to() -> None:
    service, proposal = tutorial(stage="prod", region="eu-central-1")
    config = service.config
    assert config["custom"]["queueName"] == "events-prod"
    assert config["custom"]["bucketName"] == "city-events-prod-uploads"  # config/prod.yml this time
    assert config["custom"]["memory"] == 1024
    assert config["functions"]["worker"]["timeout"] == 60
    assert config["provider"]["environment"]["REGION"] == "eu-central-1"
    assert config["custom"]["settings"]["deadLetterArn"].file == "config/prod.yml"
    assert "stage 'prod' (--stage) and region 'eu-central-1' (--region)" in messages(proposal, MAPPED)
    assert "s3 events of the whole bucket city-events-prod-uploads" in messages(proposal, UNMAPPED)


def test_the_older_unrendered_service_imports_too() -> None:
    """serverless_unrendered.yml was refused until issue 18; its variables resolve now, and its
    tags are references to resources the file does not define, each named with its line."""
    proposal = serverless.propose(
        serverless.load(FIXTURES / "serverless_unrendered.yml", environ={}), "portal"
    )
    unmapped = messages(proposal, UNMAPPED)
    assert "s3 events of the whole bucket student-portal-dev-uploads" in unmapped
    assert "!Ref SubmissionsTable (line 10; SubmissionsTable is not a resource of this service)" in unmapped
    assert "!GetAtt GradesQueue.QueueUrl (line 11" in unmapped


def test_a_missing_included_file_takes_the_fallback_and_a_bad_one_is_reported(tmp_path: Path) -> None:
    service_file = tmp_path / "serverless.yml"
    service_file.write_text(
        (FIXTURES / "serverless.yml").read_text()
        + "custom:\n  local: ${file(./missing.yml):x, 'fallback'}\n  broken: ${file(./broken.yml):x}\n"
        "  code: ${file(./settings.js):x}\n  raw: ${file(./notes.txt)}\n"
    )
    (tmp_path / "broken.yml").write_text("x: [unclosed\n")
    (tmp_path / "notes.txt").write_text("plain text")
    service = serverless.load(service_file, environ={})
    custom = service.config["custom"]
    assert custom["local"] == "fallback"
    assert custom["raw"] == "plain text"
    notes = {n.key: n.message for n in service.notes}
    assert "cannot parse broken.yml" in notes["custom.broken"]
    assert "settings.js is JavaScript: the importer runs no code" in notes["custom.code"]


def test_what_is_not_yaml_or_not_an_aws_v3_service_is_still_refused(tmp_path: Path) -> None:
    not_yaml = tmp_path / "serverless.yml"
    not_yaml.write_text("service: x\nprovider: !Unknown tag\n")
    with pytest.raises(BlueprintError, match="not valid YAML"):
        serverless.load(not_yaml)
    other = tmp_path / "other.yml"
    other.write_text(
        "service: x\nframeworkVersion: '4'\nprovider:\n  name: google\n  stage: ${opt:stage, 'dev'}\n"
    )
    with pytest.raises(BlueprintError) as caught:
        serverless.load(other)
    assert {p.split(":")[0] for p in caught.value.problems} >= {
        "frameworkVersion '4'",
        "`provider.name` must be aws",
    }


def test_the_command_imports_an_unrendered_service_once(tmp_path: Path) -> None:
    manifest = tmp_path / "integreat.toml"
    shutil.copy(ROOT / "integreat.toml", manifest)
    args = [
        "blueprint",
        "import",
        "serverless",
        str(TUTORIAL),
        "--app",
        "cityevents",
        "--manifest",
        str(manifest),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("IMPORT_PREFIX", "ALERTS_EMAIL", "VERBOSE")}
    dry = run_integreat(*args, env=env)
    assert dry.returncode == 0, dry.stderr
    assert '+[apps.cityevents.storage.folders."posters/"]' in dry.stdout
    assert "custom.partnerKey: ${ssm:/city-events/${sls:stage}/partner-api-key} needs AWS" in dry.stdout
    assert manifest.read_text() == MANIFEST  # nothing is written without --write
    written = run_integreat(*args, "--write", env=env)
    assert written.returncode == 0, written.stderr
    text = manifest.read_text()
    assert parse_manifest(text).app("cityevents").storage is not None  # the validation path passed
    again = run_integreat(*args, "--write", env=env)
    assert "no change" in again.stdout
    assert manifest.read_text() == text
    prod = run_integreat(*args, "--stage", "prod", env=env)
    assert "stage 'prod' (--stage)" in prod.stdout
    assert "city-events-prod-uploads" in prod.stdout
    assert "city-events-dev-uploads" not in prod.stdout


# The manifest's layout: a blank line before every table the importer adds, every comment kept.
SMALL = """# The platform.
[platform]
name = "integreat"
region = "eu-west-1"

# The first app.
[apps.alpha]
name = "Alpha"

[apps.alpha.storage]
max_size = "1MB"
content_types = ["*/*"]

# Alpha's shared folder.
[apps.alpha.storage.folders."shared/"]
write = "members"
read = "members"

[apps.beta]
name = "Beta"
enrollment = "open"

# Integrations follow: this comment introduces them.
#   It runs over two lines.
[integrations.weather]
base_url = "https://api.weather.example/v1"
secret = "integreat/integrations/weather"
header = "X-Api-Key"
apps = ["alpha"]
"""


def proposal_with(slug: str, *folders: str, roles: tuple[str, ...] = ()) -> Proposal:
    proposal = Proposal(slug=slug, name=slug.title(), roles=["member", *roles])
    for folder in folders:
        proposal.add_folder(folder, Folder(write="members", read="members"), "test")
    return proposal


def added_headers_have_a_blank_line_before(before: str, after: str) -> bool:
    old = set(before.splitlines())
    lines = after.splitlines()
    added = [i for i, line in enumerate(lines) if line.startswith("[") and line not in old]
    return bool(added) and all(not lines[i - 1].strip() for i in added)


@pytest.mark.parametrize(
    ("slug", "folders"),
    [("gamma", ("media/",)), ("alpha", ("posters/",)), ("beta", ("uploads/", "private/{user}/"))],
)
def test_the_manifest_keeps_its_layout_for_a_new_and_an_existing_app(
    slug: str, folders: tuple[str, ...]
) -> None:
    result = merged(SMALL, proposal_with(slug, *folders, roles=("editor",)))
    assert lines_in_order(SMALL, result)  # every comment and line kept, in order
    assert added_headers_have_a_blank_line_before(SMALL, result)
    introduction = result.index("# Integrations follow")
    assert all(result.index(f'[apps.{slug}.storage.folders."{f}"]') < introduction for f in folders)
    assert "\n\n\n" not in result
    assert parse_manifest(result).app(slug).roles[-1] == "editor"
    assert merged(result, proposal_with(slug, *folders, roles=("editor",))) == result
