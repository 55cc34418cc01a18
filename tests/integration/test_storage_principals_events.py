"""Several principals for one folder right (issue 18) at the storage event: the consumer decides
every object again, so an object in `rotas/` (written by `pastors` or `volunteers`, as imported
from Amplify) is indexed for each listed role and quarantined for any other."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws import client
from chalicelib.db.pool import connector
from chalicelib.provisioning.database import sync_apps
from chalicelib.runtime import Runtime
from chalicelib.storage.consumer import process
from chalicelib.tenancy.manifest import parse_manifest
from integreat.blueprints import amplify
from integreat.blueprints.apply import merged
from tests.conftest import TEST_BUCKET, IdentityPlatform, installed
from tests.storage import s3_event

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = ROOT / "tests" / "fixtures" / "blueprints" / "amplify_outputs_two_writers.json"
PRESIGNER = "AROAEXAMPLEPRESIGNER"  # the principal tests.storage.s3_event names: the API's role


@pytest.fixture(scope="module")
def parish(identity: IdentityPlatform) -> str:
    """The app imported from the blueprint, provisioned and active (its database side is enough:
    the consumer trusts the API's metadata, which names the uploader's roles)."""
    slug = f"p{secrets.token_hex(4)}"
    proposal = amplify.propose(amplify.load(BLUEPRINT), slug)
    spec = parse_manifest(merged((ROOT / "integreat.toml").read_text(), proposal)).app(slug)
    assert sync_apps(connector(identity.platform.operator_url), [spec]).ok
    return slug


@pytest.fixture
def rt(identity: IdentityPlatform, parish: str) -> Iterator[Runtime]:
    with installed(
        Runtime(identity.settings._replace(api_role_id=PRESIGNER), identity.runtime().database)
    ) as runtime:
        yield runtime


def put_as(s3: Any, key: str, app: str, role: str) -> None:
    """An object as the API's presigned POST leaves it, for a user holding `role`."""
    metadata = {"uploader": f"u-{role}", "app": app, "roles": f"member {role}", "admin": "false"}
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=b"rota", ContentType="text/plain", Metadata=metadata)


def indexed(rt: Runtime, app: str, key: str) -> list[tuple[Any, ...]]:
    return rt.database.read(app, "SELECT uploader, deleted FROM files WHERE key = %s", (key,))


def quarantine_reason(identity: IdentityPlatform, key: str) -> str | None:
    conn = identity.platform.connect()
    with conn.cursor() as cur:
        cur.execute(
            "SELECT reason FROM integreat.audit WHERE kind = 'storage.quarantined' AND subject = %s", (key,)
        )
        row = cur.fetchone()
    conn.close()
    return str(row[0]) if row else None


@pytest.mark.parametrize("role", ["pastors", "volunteers"])
def test_an_object_written_by_each_listed_role_is_indexed(
    identity: IdentityPlatform, rt: Runtime, parish: str, role: str
) -> None:
    s3 = client("s3", identity.settings)
    key = f"{parish}/rotas/{secrets.token_hex(4)}-{role}.txt"
    put_as(s3, key, parish, role)

    assert process(s3_event(key, size=4), rt.storage_deps()) == {"batchItemFailures": []}

    assert indexed(rt, parish, key) == [(f"u-{role}", False)]
    assert quarantine_reason(identity, key) is None


def test_an_object_written_by_a_role_not_listed_is_quarantined(
    identity: IdentityPlatform, rt: Runtime, parish: str
) -> None:
    s3 = client("s3", identity.settings)
    key = f"{parish}/rotas/{secrets.token_hex(4)}-organists.txt"
    put_as(s3, key, parish, "organists")

    assert process(s3_event(key, size=4), rt.storage_deps()) == {"batchItemFailures": []}

    assert indexed(rt, parish, key) == []
    assert f"only {parish} roles 'pastors' or 'volunteers' may" in (quarantine_reason(identity, key) or "")
    assert s3.get_object(Bucket=TEST_BUCKET, Key=f"_quarantine/{key}")["Body"].read() == b"rota"
