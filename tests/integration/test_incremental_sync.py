"""Incremental provisioning (issue 16): `sync_apps` with Cognito and IAM on the session's moto
server and real Postgres. An unchanged sync sends no AWS write and no DDL; a change to one app
touches that app only; an interrupted sync resumes where it stopped; look-ups go by the ids the
registry holds; and `integreat apps sync` gives a new app's role its storage policy.

AWS calls are counted by botocore hooks on the provisioner's own clients, statements by a cursor
that records what the sync sends (both from benchmarks/scale.py, whose figures say the same).
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.scale import AwsCalls, Statements
from chalicelib.apps.manifest import parse_manifest
from chalicelib.db.pool import connector
from chalicelib.provisioning.database import SyncReport, sync_apps
from chalicelib.provisioning.identity import (
    AppIdentity,
    IdentityConfig,
    IdentityProvisioner,
    TokenBucket,
    provisioning_clients,
)
from chalicelib.storage.iam import POLICY_NAME, app_storage_policy
from chalicelib.tenancy.manifest import AppSpec
from tests.cli import ROOT, run_integreat
from tests.conftest import TEST_BUCKET, IdentityPlatform

READS = ("Get", "List", "Describe", "Head")


@dataclasses.dataclass
class Counted:
    """A provisioner as production builds it (adaptive clients, paced writes), its calls counted,
    and the sync's statements recorded."""

    identity: IdentityProvisioner
    aws: AwsCalls
    sql: Statements
    cognito: Any
    iam: Any

    def sync(self, apps: list[AppSpec], identity: IdentityProvisioner | None = None) -> SyncReport:
        self.aws.reset()
        self.sql.reset()
        return sync_apps(self.sql.connect, apps, workers=2, identity=identity or self.identity)

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(op, params) for op, params in self.aws.log if not op.startswith(READS)]


@pytest.fixture
def counted(identity: IdentityPlatform) -> Counted:
    cognito, iam = provisioning_clients(identity.settings)
    config = IdentityConfig(
        identity.user_pool_id, "integreat", "test", account_id="123456789012", password_auth=True,
        bucket=TEST_BUCKET,
    )  # fmt: skip
    provisioner = IdentityProvisioner(cognito, iam, config)
    sql = Statements(connector(identity.platform.operator_url))
    return Counted(provisioner, AwsCalls(cognito, iam), sql, cognito, iam)


def new_app(
    slug: str | None = None, *, write: str = "members", roles: tuple[str, ...] = ("member",)
) -> AppSpec:
    """An app (a new one unless `slug` is given) with one folder, `docs/`, written by `write`."""
    slug = slug or f"i{secrets.token_hex(4)}"
    manifest = (
        f'[platform]\nname = "integreat"\nregion = "eu-west-1"\n[apps.{slug}]\nname = "Inc {slug}"\n'
        f"roles = {json.dumps(list(roles))}\n"
        f'[apps.{slug}.storage.folders."docs/"]\nwrite = "{write}"\nread = "members"\n'
        'content_types = ["text/plain"]\nmax_size = "1MB"\n'
    )
    return parse_manifest(manifest).app(slug)


def touched(calls: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """Every name the calls wrote to (roles, groups, clients): each contains its app's slug."""
    keys = ("RoleName", "GroupName", "ClientName")
    return {str(params[k]) for _, params in calls for k in keys if k in params}


def mentions(statements: list[str], app: AppSpec) -> bool:
    return any(f"app_{app.slug}" in text for text in statements)


def active(identity: IdentityPlatform, apps: list[AppSpec]) -> int:
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM integreat.apps WHERE slug = ANY(%s) AND status = 'active'",
            ([a.slug for a in apps],),
        )
        row = cur.fetchone()
    conn.close()
    assert row is not None
    return int(row[0])


def test_a_second_sync_makes_no_aws_write_and_no_ddl(counted: Counted) -> None:
    # Given three new apps, synced once
    apps = [new_app() for _ in range(3)]
    assert counted.sync(apps).ok

    # When the same manifest is synced again
    report = counted.sync(apps)

    # Then nothing is written anywhere: no AWS write, no DDL, every step skipped
    assert report.ok
    assert report.active == [a.slug for a in apps]
    assert counted.aws.writes == 0, counted.aws.operations
    assert counted.sql.ddl == 0, counted.sql.sent
    assert report.applied == {"database": [], "identity": []}
    assert counted.aws.calls <= 1  # at most the one GetRole that checks IAM was not reset


def test_changing_one_apps_roles_touches_that_app_only(counted: Counted) -> None:
    apps = [new_app() for _ in range(3)]
    assert counted.sync(apps).ok
    changed = dataclasses.replace(apps[1], roles=("member", "editor"))

    report = counted.sync([apps[0], changed, apps[2]])

    assert report.ok
    assert report.applied == {"database": [changed.slug], "identity": [changed.slug]}
    assert [op for op, _ in counted.writes()] == ["CreateGroup"]  # only the new group
    assert touched(counted.writes()) == {f"{changed.slug}-editor"}
    assert not mentions(counted.sql.sent, apps[0])
    assert not mentions(counted.sql.sent, apps[2])
    assert counted.sql.ddl > 0  # the changed app's registry row and grants, re-applied


def test_changing_one_apps_folder_rules_touches_that_app_only(
    counted: Counted, identity: IdentityPlatform
) -> None:
    # Given three apps whose `docs/` any member may write
    apps = [new_app(roles=("member", "editor")) for _ in range(3)]
    assert counted.sync(apps).ok

    # When the second one's folder becomes editors-only
    stricter = new_app(apps[1].slug, write="editor", roles=("member", "editor"))
    report = counted.sync([apps[0], stricter, apps[2]])

    # Then only its registry row is written: no AWS resource changes (its role reaches the whole
    # folder either way; the rule is enforced by the API and at the event), no other app's SQL
    assert report.ok
    assert report.applied == {"database": [stricter.slug], "identity": []}
    assert counted.aws.writes == 0
    assert not mentions(counted.sql.sent, apps[0])
    assert not mentions(counted.sql.sent, apps[2])
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT sections FROM integreat.apps WHERE slug = %s", (stricter.slug,))
        [(sections,)] = cur.fetchall()
    conn.close()
    assert "editor" in json.dumps(sections["storage"])


class FailsOnThird(IdentityProvisioner):
    """A provisioner that dies (as a crash or a timeout would) when it reaches the third app."""

    def __init__(self, counted: Counted) -> None:
        super().__init__(counted.cognito, counted.iam, counted.identity.config)
        self.seen = 0

    def provision(self, app: AppSpec, client_id: str | None = None) -> AppIdentity:
        self.seen += 1
        if self.seen == 3:
            raise RuntimeError("interrupted")
        return super().provision(app, client_id)


def test_an_interrupted_sync_resumes_where_it_stopped(counted: Counted, identity: IdentityPlatform) -> None:
    # Given a sync of five new apps that dies at the third
    apps = [new_app() for _ in range(5)]
    with pytest.raises(RuntimeError, match="interrupted"):
        counted.sync(apps, identity=FailsOnThird(counted))
    assert active(identity, apps) == 0  # none is served half-provisioned

    # When it is run again
    report = counted.sync(apps)

    # Then it picks up at the third app: the first two are neither written nor even read
    assert report.ok
    assert report.active == [a.slug for a in apps]
    assert report.applied == {"database": [], "identity": [a.slug for a in apps[2:]]}
    assert all(a.slug not in name for name in touched(counted.writes()) for a in apps[:2])
    cognito_reads = [params for op, params in counted.aws.log if op in ("GetGroup", "DescribeUserPoolClient")]
    assert all(apps[0].slug not in str(p) and apps[1].slug not in str(p) for p in cognito_reads)
    assert active(identity, apps) == 5


def test_lookups_use_the_stored_client_id_not_a_scan(counted: Counted) -> None:
    # Given an app provisioned, its client id in the registry
    app = new_app()
    assert counted.sync([app]).ok

    # When a change makes its identity step run again
    report = counted.sync([dataclasses.replace(app, roles=("member", "editor"))])

    # Then its client is read by that id, and the pool is never listed
    assert report.applied["identity"] == [app.slug]
    assert counted.aws.operations["DescribeUserPoolClient"] == 1
    assert counted.aws.operations["ListUserPoolClients"] == 0


def test_without_stored_ids_the_pool_is_scanned_once_per_sync(counted: Counted) -> None:
    # Given four new apps (no client ids stored) and a pool of n clients: ceil(n / 60) pages
    pool = counted.identity.config.user_pool_id
    paginator = counted.cognito.get_paginator("list_user_pool_clients")
    held = sum(len(page["UserPoolClients"]) for page in paginator.paginate(UserPoolId=pool, MaxResults=60))

    assert counted.sync([new_app() for _ in range(4)]).ok

    # Then the pool was paged through once for all four, not once per app
    assert counted.aws.operations["CreateUserPoolClient"] == 4
    assert counted.aws.operations["ListUserPoolClients"] == max(1, math.ceil(held / 60))


def test_an_iam_reset_under_the_registry_is_noticed_and_the_roles_made_again(counted: Counted) -> None:
    # Given two apps provisioned, then IAM losing the first one's role (as the local platform's
    # moto loses all of IAM at a restart while the registry and the user pool are kept)
    apps = [new_app() for _ in range(2)]
    assert counted.sync(apps).ok
    role = f"integreat-test-app-{apps[0].slug}"
    for policy in counted.iam.list_role_policies(RoleName=role)["PolicyNames"]:
        counted.iam.delete_role_policy(RoleName=role, PolicyName=policy)
    counted.iam.delete_role(RoleName=role)

    # When the unchanged manifest is synced
    report = counted.sync(apps)

    # Then the fingerprints are not trusted: every app's identity is applied again
    assert report.applied["identity"] == [a.slug for a in apps]
    assert counted.iam.get_role(RoleName=role)["Role"]["RoleId"]
    assert counted.aws.operations["CreateRole"] == 1


def test_writes_are_paced_by_a_token_bucket() -> None:
    bucket = TokenBucket(rate=100.0, burst=1.0)
    began = time.monotonic()
    for _ in range(11):
        bucket.take()
    assert time.monotonic() - began >= 0.09  # 1 at once, then 10 at 100 a second


def test_the_cli_sync_gives_a_new_app_role_its_storage_policy(
    identity: IdentityPlatform, tmp_path: Path
) -> None:
    # Given the repository's manifest plus a new app (so the integrations stay as they are)
    slug = f"c{secrets.token_hex(4)}"
    manifest = tmp_path / "integreat.toml"
    manifest.write_text((ROOT / "integreat.toml").read_text() + f'\n[apps.{slug}]\nname = "From the CLI"\n')

    def sync() -> str:
        result = run_integreat(
            "apps", "sync", "--manifest", str(manifest),
            INTEGREAT_DATABASE_URL=identity.platform.operator_url, INTEGREAT_STAGE="test",
            INTEGREAT_AWS_ENDPOINT_URL=identity.endpoint, INTEGREAT_USER_POOL_ID=identity.user_pool_id,
            INTEGREAT_BUCKET=TEST_BUCKET, AWS_REGION="eu-west-1",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return str(result.stdout)

    # When `integreat apps sync` runs with a user pool and the bucket configured (the demo apps'
    # identity may differ from what earlier tests of the session applied, so it may be redone)
    first = sync()

    # Then the new app's role holds its folder of the bucket, and a second sync changes nothing
    iam = provisioning_clients(identity.settings)[1]
    policy = iam.get_role_policy(RoleName=f"integreat-test-app-{slug}", PolicyName=POLICY_NAME)
    assert policy["PolicyDocument"] == app_storage_policy(TEST_BUCKET, slug)
    assert "apps changed: database 1, identity " in first
    assert "apps changed: database 0, identity 0" in sync()
