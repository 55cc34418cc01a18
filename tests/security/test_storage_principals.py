"""Several principals for one folder right (issue 18), end to end: an Amplify app whose two groups
may both write `rotas/*` is imported, provisioned, and each group's role gets a signed upload
while a third role is refused; its IAM documents are still its folder only."""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.aws import client as aws_client
from chalicelib.db.pool import connector
from chalicelib.identity.names import role_group
from chalicelib.provisioning.database import sync_apps
from chalicelib.provisioning.identity import IdentityConfig, IdentityProvisioner
from chalicelib.storage.iam import OBJECT_ACTIONS, app_storage_policy
from chalicelib.tenancy.manifest import AppSpec, parse_manifest
from integreat.blueprints import amplify
from integreat.blueprints.apply import merged
from tests.conftest import TEST_BUCKET, IdentityPlatform
from tests.iam_eval import allowed
from tests.tokens import Signer

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = ROOT / "tests" / "fixtures" / "blueprints" / "amplify_outputs_two_writers.json"


def imported(slug: str) -> AppSpec:
    """The app as `integreat blueprint import amplify --write` would add it to the manifest."""
    proposal = amplify.propose(amplify.load(BLUEPRINT), slug)
    return parse_manifest(merged((ROOT / "integreat.toml").read_text(), proposal)).app(slug)


@pytest.fixture(scope="module")
def parish(identity: IdentityPlatform) -> tuple[str, IdentityPlatform]:
    """The imported app, provisioned (schema, Cognito client and groups, IAM role) and active."""
    slug = f"p{secrets.token_hex(4)}"
    config = IdentityConfig(
        identity.user_pool_id, "integreat", "test", account_id="123456789012", password_auth=True,
        bucket=TEST_BUCKET,
    )  # fmt: skip
    provisioner = IdentityProvisioner(identity.cognito(), aws_client("iam", identity.settings), config)
    report = sync_apps(connector(identity.platform.operator_url), [imported(slug)], identity=provisioner)
    assert report.ok, report.failed
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT client_id FROM integreat.app_clients WHERE slug = %s", (slug,))
        [(client_id,)] = cur.fetchall()
    conn.close()
    return slug, dataclasses.replace(identity, clients=identity.clients | {slug: str(client_id)})


def upload_as(api: Client, parish: tuple[str, IdentityPlatform], signer: Signer, role: str) -> Any:
    slug, platform = parish
    groups = [slug] + ([role_group(slug, role)] if role != "member" else [])
    headers = platform.bearer(signer, slug, groups, f"{role}-1", sub=f"u-{role}")
    body = {"folder": "rotas/", "filename": "advent.txt", "content_type": "text/plain", "size": 10}
    return api.http.post(
        f"/apps/{slug}/files/uploads",
        headers=headers | {"Content-Type": "application/json"},
        body=json.dumps(body),
    )


def test_the_imported_entry_lists_both_writer_roles() -> None:
    folders = {rule.path: rule for rule in imported("parish").storage.folders}

    assert folders["rotas/"].write == ("pastors", "volunteers")
    assert folders["rotas/"].read == "members"
    assert folders["notes/{user}/"].read == ("owner", "pastors")


@pytest.mark.parametrize("role", ["pastors", "volunteers"])
def test_each_listed_role_gets_a_signed_upload(
    parish: tuple[str, IdentityPlatform], signer: Signer, signed_api: Client, role: str
) -> None:
    response = upload_as(signed_api, parish, signer, role)

    assert response.status_code == 200, response.body
    fields = response.json_body["upload"]["fields"]
    assert response.json_body["key"].startswith(f"{parish[0]}/rotas/")
    assert fields["x-amz-meta-roles"] == f"member {role}"  # what the consumer will judge again


@pytest.mark.parametrize("role", ["organists", "member"])
def test_a_role_not_listed_is_refused_with_the_listed_ones_named(
    parish: tuple[str, IdentityPlatform], signer: Signer, signed_api: Client, role: str
) -> None:
    response = upload_as(signed_api, parish, signer, role)

    assert response.status_code == 403, response.body
    message = response.json_body["error"]["message"]
    assert f"only {parish[0]} roles 'pastors' or 'volunteers' may" in message


def test_a_listed_reader_role_lists_another_users_notes_and_others_may_not(
    parish: tuple[str, IdentityPlatform], signer: Signer, signed_api: Client
) -> None:
    slug, platform = parish
    pastor = platform.bearer(signer, slug, [slug, role_group(slug, "pastors")], "p", sub="u-p")
    helper = platform.bearer(signer, slug, [slug, role_group(slug, "volunteers")], "v", sub="u-v")
    path = f"/apps/{slug}/files?folder=notes/u-someone/"

    assert signed_api.http.get(path, headers=pastor).status_code == 200
    assert signed_api.http.get(path, headers=helper).status_code == 403


def test_the_imported_apps_iam_role_still_reaches_its_folder_only(
    parish: tuple[str, IdentityPlatform],
) -> None:
    # Several principals are a folder rule, enforced by the API and the consumer: IAM stays per app.
    slug = parish[0]
    policy = app_storage_policy(TEST_BUCKET, slug)
    objects = f"arn:aws:s3:::{TEST_BUCKET}"

    for action in OBJECT_ACTIONS:
        assert allowed(policy, action, f"{objects}/{slug}/rotas/a.txt")
        assert not allowed(policy, action, f"{objects}/church/uploads/a.txt")
        assert not allowed(policy, action, f"{objects}/{slug}evil/rotas/a.txt")
    assert allowed(policy, "s3:ListBucket", objects, {"s3:prefix": f"{slug}/rotas/"})
    assert not allowed(policy, "s3:ListBucket", objects, {"s3:prefix": "church/"})
