"""`integreat outputs`: every demo app's amplify_outputs.json, in every stage, against Amplify's
own schema 1.4 (tests/fixtures/amplify/schema_v1.4.json, copied from aws-amplify/amplify-backend).

`local` reads a platform.json as `make dev` writes it (tests/browser/ reads the real one);
`dev`/`prod` read cdk-outputs.json fixtures in the shape `cdk deploy --outputs-file` writes, and
each app's client id from the SSM parameter the provisioner writes, on a moto server (the stack
has no output per app: issue 16). The fixtures' older `AppClient*` and `IdentityPoolId` keys are
ignored: the values below are the ones that must appear.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.provisioning.deploy import client_id_parameter
from chalicelib.tenancy.manifest import load_manifest
from integreat.commands.outputs import build
from integreat.outputs import OutputsError
from tests.cli import run_integreat
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "amplify"
SCHEMA = json.loads((FIXTURES / "schema_v1.4.json").read_text())
MANIFEST = load_manifest(ROOT / "integreat.toml")
APPS = ("church", "events", "students")
STAGES = ("local", "dev", "prod")
#: What integreat/local/platform.py's `_describe` writes (client ids as moto makes them).
PLATFORM = {
    "api": "http://127.0.0.1:18000", "aws_endpoint": "http://127.0.0.1:14566",
    "cognito_endpoint": "http://127.0.0.1:14567", "user_pool_id": "eu-west-1_7f3c1a2b9d4e4f0a",
    "region": "eu-west-1", "bucket": "integreat-local-files",
    "database": "postgresql://postgres:***@127.0.0.1:15432/integreat",
    "apps": {"church": ["5rj0l6dkl2q4y8jk1o9t0r3ncs"], "events": ["1ul7m3w6u0c2e5b9f4hq8d2kze"],
             "students": ["6tq2k0s9n3p7c1v5x8z4b2m0aa"]},
    "roles": {"church": "AROALOCALCHURCH", "events": "AROALOCALEVENTS", "students": "AROALOCALSTUDENTS"},
    "ready_seconds": 3.1, "pid": 1,
}  # fmt: skip
#: What the provisioner wrote to /integreat/<stage>/apps/<slug>/client-id.
CLIENTS = {
    "dev": {"church": "3n4b5devchurch0000000000aa", "events": "3n4b5devevents0000000000bb",
            "students": "3n4b5devstudents000000000c"},
    "prod": {"church": "7k8m9prodchurch000000000aa", "events": "7k8m9prodevents000000000bb",
             "students": "7k8m9prodstudents00000000c"},
}  # fmt: skip


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory whose platform.json says a local platform is running."""
    (tmp_path / "platform.json").write_text(json.dumps(PLATFORM))
    monkeypatch.setenv("INTEGREAT_STATE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(autouse=True)
def ssm(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Parameter Store on the session's moto server, holding every demo app's client id; the
    command finds it as a user's does, through INTEGREAT_AWS_ENDPOINT_URL (subprocesses too)."""
    import boto3

    monkeypatch.setenv("INTEGREAT_AWS_ENDPOINT_URL", moto_endpoint)
    client = boto3.client("ssm", region_name="eu-west-1", endpoint_url=moto_endpoint)
    for stage, clients in CLIENTS.items():
        for slug, client_id in clients.items():
            name = client_id_parameter("integreat", stage, slug)
            client.put_parameter(Name=name, Value=client_id, Type="String", Tier="Standard", Overwrite=True)
    return client


def _outputs(app: str, stage: str) -> dict[str, Any]:
    return build(app, stage, ROOT / "integreat.toml", FIXTURES / f"cdk-outputs.{stage}.json")


def _validate(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)


def test_the_schema_copy_is_amplifys_and_refuses_what_it_should() -> None:
    # Guards the validation below: a document the real schema rejects must fail here too.
    assert SCHEMA["$id"] == "https://amplify.aws/2024-02/outputs-schema.json"
    with pytest.raises(jsonschema.ValidationError):
        _validate({"version": "1.4", "auth": {"aws_region": "eu-west-1", "user_pool_id": "x"}})
    with pytest.raises(jsonschema.ValidationError):
        _validate({"version": "1.4", "storage": {"aws_region": "eu-west-1", "bucket_name": "b"}, "extra": 1})


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("app", APPS)
def test_every_demo_app_validates_against_schema_1_4_in_every_stage(
    state: Path, app: str, stage: str
) -> None:
    document = _outputs(app, stage)
    _validate(document)
    assert document["version"] == "1.4"
    assert document["auth"]["unauthenticated_identities_enabled"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_two_apps_never_share_a_client_and_each_gets_its_own(state: Path, stage: str) -> None:
    clients = {app: _outputs(app, stage)["auth"]["user_pool_client_id"] for app in APPS}
    assert len(set(clients.values())) == len(APPS)
    if stage == "local":
        assert clients == {app: ids[0] for app, ids in PLATFORM["apps"].items()}
    else:
        assert clients == CLIENTS[stage]  # from SSM, not from the outputs file


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("app", APPS)
def test_paths_are_the_manifests_folders_and_never_guest(state: Path, app: str, stage: str) -> None:
    storage = _outputs(app, stage)["storage"]
    (bucket,) = storage["buckets"]
    folders = [f.path.replace("{user}", "{entity_id}") for f in MANIFEST.app(app).storage.folders]
    assert sorted(bucket["paths"]) == sorted(f"{app}/{folder}*" for folder in folders)
    assert bucket["bucket_name"] == storage["bucket_name"]
    assert all("guest" not in rule for rule in bucket["paths"].values())


def test_access_rules_map_members_roles_and_owners(state: Path) -> None:
    church = _outputs("church", "prod")
    paths = church["storage"]["buckets"][0]["paths"]
    assert paths["church/public/*"] == {"groupschurch-admin": ["write"], "authenticated": ["get", "list"]}
    assert paths["church/uploads/*"] == {"authenticated": ["get", "list", "write"]}
    assert paths["church/private/{entity_id}/*"] == {"entityidentity": ["get", "list", "write"]}
    students = _outputs("students", "dev")["storage"]["buckets"][0]["paths"]
    assert students["students/assignments/{entity_id}/*"] == {
        "entityidentity": ["get", "list", "write"],  # the owner may always read their own
        "groupsstudents-teacher": ["get", "list"],
    }
    groups = [next(iter(g)) for g in church["auth"]["groups"]]
    assert groups == ["church", "church-volunteer", "church-admin"]  # Cognito's group names


def test_auth_is_the_one_pool_definition_and_custom_names_the_api(state: Path) -> None:
    local = _outputs("church", "local")
    assert local["auth"]["password_policy"] == {
        "min_length": 12, "require_numbers": True, "require_lowercase": True,
        "require_uppercase": True, "require_symbols": True,
    }  # fmt: skip
    assert local["auth"]["username_attributes"] == ["email"]
    custom = local["custom"]["integreat"]
    assert custom["api_url"] == PLATFORM["api"]
    assert custom["user_pool_endpoint"] == PLATFORM["cognito_endpoint"]
    assert custom["routes"]["uploads"] == "/apps/church/files/uploads"
    prod = _outputs("church", "prod")
    api_url = prod["custom"]["integreat"]["api_url"]
    assert api_url.startswith("https://")
    assert not api_url.endswith("/")
    assert "user_pool_endpoint" not in prod["custom"]["integreat"]
    # The stack has no identity pool any more; an old outputs file's IdentityPoolId is not passed on.
    assert "identity_pool_id" not in prod["auth"]


def test_errors_name_what_is_missing(state: Path, tmp_path: Path, ssm: Any) -> None:
    with pytest.raises(OutputsError, match="no app 'chapel'"):
        _outputs("chapel", "prod")
    with pytest.raises(OutputsError, match="cannot read the stack outputs"):
        build("church", "dev", ROOT / "integreat.toml", tmp_path / "absent.json")
    ssm.delete_parameter(Name="/integreat/dev/apps/events/client-id")
    with pytest.raises(
        OutputsError, match=r"'events' has no app client in stage dev.*/integreat/dev/apps/events/client-id"
    ):
        _outputs("events", "dev")
    assert _outputs("church", "dev")["auth"]["user_pool_client_id"] == CLIENTS["dev"]["church"]
    (state / "platform.json").unlink()
    with pytest.raises(OutputsError, match="not running: start it with `make dev`"):
        _outputs("church", "local")


def test_the_command_prints_writes_and_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "platform.json").write_text(json.dumps(PLATFORM))
    printed = run_integreat(
        "outputs", "--app", "events", "--stage", "local", INTEGREAT_STATE_DIR=str(tmp_path)
    )
    assert printed.returncode == 0, printed.stderr
    _validate(json.loads(printed.stdout))
    out = tmp_path / "web" / "amplify_outputs.json"
    written = run_integreat("outputs", "--app", "church", "--stage", "prod", "--out", str(out),
                            "--outputs-file", str(FIXTURES / "cdk-outputs.prod.json"))  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert json.loads(out.read_text())["auth"]["user_pool_client_id"] == "7k8m9prodchurch000000000aa"
    empty = tmp_path / "empty"
    empty.mkdir()
    stopped = run_integreat("outputs", "--app", "church", "--stage", "local", INTEGREAT_STATE_DIR=str(empty))
    assert stopped.returncode == 1
    assert "not running" in stopped.stderr
    assert "Traceback" not in stopped.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_the_consoles_outputs_name_every_apps_client(state: Path, stage: str) -> None:
    from integreat.commands.outputs import build_console

    document = build_console(stage, ROOT / "integreat.toml", FIXTURES / f"cdk-outputs.{stage}.json")

    expected = CLIENTS.get(stage) or {slug: ids[0] for slug, ids in PLATFORM["apps"].items()}  # type: ignore[attr-defined]
    assert {a["app"]: a["user_pool_client_id"] for a in document["apps"]} == expected
    assert document["stage"] == stage
    assert document["auth"]["user_pool_id"]
    assert ("user_pool_endpoint" in document["auth"]) == (stage == "local")


def test_the_console_command_needs_an_app_or_console_and_writes_the_file(tmp_path: Path) -> None:
    neither = run_integreat("outputs", "--stage", "prod")
    assert neither.returncode == 2
    assert "--app, or pass --console" in neither.stderr
    out = tmp_path / "console_outputs.json"
    written = run_integreat("outputs", "--console", "--stage", "prod", "--out", str(out),
                            "--outputs-file", str(FIXTURES / "cdk-outputs.prod.json"))  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert len(json.loads(out.read_text())["apps"]) == len(APPS)
