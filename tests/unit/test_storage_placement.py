"""Issue 16, placement of storage: `bucket = "shared" | "dedicated"` parsed, stored, named, and the
IAM documents of both placements evaluated (moto ignores conditions; integreat/local/iam_eval.py)."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.storage.codec import from_json, to_data, to_json
from chalicelib.storage.iam import OBJECT_ACTIONS, app_storage_policy, session_policy
from chalicelib.storage.model import DEDICATED, FolderRule, StorageSpec
from chalicelib.storage.placement import (
    MAX_BUCKET_NAME,
    PlacementError,
    app_bucket,
    dedicated_bucket,
    dedicated_pattern,
    stage_prefix,
)
from chalicelib.storage.spec import MB, parse_storage
from chalicelib.tenancy.slugs import MAX_SLUG_LENGTH
from chalicelib.tenancy.toml_reader import Table
from integreat.local.iam_eval import allowed

SHARED_BUCKET = "integreat-prod-files-123456789012"
FOLDER = FolderRule("uploads/", "members", "members", ("*/*",), 10 * MB)
DEDICATED_SPEC = StorageSpec((FOLDER,), DEDICATED)
SHARED_SPEC = StorageSpec((FOLDER,))


def parse(storage: dict[str, object]) -> tuple[StorageSpec | None, list[str]]:
    table = Table({"storage": storage}, ("apps", "d"), [])
    spec = parse_storage(table, ("member",))
    return spec, [f"{issue.key}: {issue.message}" for issue in table.issues]


def test_the_manifest_says_shared_by_default_or_dedicated() -> None:
    assert parse({})[0] == StorageSpec()
    assert parse({"bucket": "shared"})[0] == StorageSpec()
    spec, issues = parse({"bucket": "dedicated"})
    assert (spec, issues) == (StorageSpec((), DEDICATED), [])
    assert spec is not None
    assert spec.dedicated


@pytest.mark.parametrize("value", ["own", "Dedicated", 1, True, ["dedicated"]])
def test_any_other_placement_is_refused_with_the_key(value: object) -> None:
    spec, issues = parse({"bucket": value})
    assert spec is None
    assert len(issues) == 1
    assert issues[0].startswith("apps.d.storage.bucket: must be")
    assert "'dedicated'" in issues[0]


def test_the_registry_keeps_the_placement_and_shared_rows_read_as_before() -> None:
    assert "bucket" not in to_data(SHARED_SPEC)  # shared rows and fingerprints are unchanged
    assert to_data(DEDICATED_SPEC)["bucket"] == DEDICATED
    assert from_json(to_json(DEDICATED_SPEC)) == DEDICATED_SPEC
    assert from_json({"folders": []}) == StorageSpec()  # a row written before placement existed


def test_the_dedicated_name_derives_from_the_shared_bucket() -> None:
    assert dedicated_bucket(SHARED_BUCKET, "church") == "integreat-prod-app-church-123456789012"
    assert dedicated_bucket("integreat-local-files", "church") == "integreat-local-app-church"
    assert dedicated_bucket("integreat-test-files", "youth_club") == "integreat-test-app-youth-club"
    assert app_bucket(SHARED_BUCKET, "church", SHARED_SPEC) == SHARED_BUCKET
    assert app_bucket(SHARED_BUCKET, "church", DEDICATED_SPEC) == "integreat-prod-app-church-123456789012"
    assert dedicated_pattern(SHARED_BUCKET) == "integreat-prod-app-*"
    assert stage_prefix(SHARED_BUCKET) == ("integreat-prod", "-123456789012")


def test_a_long_slug_is_cut_and_hashed_within_63_characters() -> None:
    longest = "a" * (MAX_SLUG_LENGTH - 1) + "b"
    other = "a" * (MAX_SLUG_LENGTH - 1) + "c"
    names = {dedicated_bucket(SHARED_BUCKET, slug) for slug in (longest, other)}
    assert len(names) == 2
    for name in names:
        assert len(name) == MAX_BUCKET_NAME
        assert name.startswith("integreat-prod-app-aaaa")
        assert name.endswith("-123456789012")
    assert dedicated_bucket("integreat-local-files", "trailing_") != "integreat-local-app-trailing-"
    assert not dedicated_bucket("integreat-local-files", "trailing_").endswith("-")


def test_unknown_shapes_fail_closed() -> None:
    with pytest.raises(PlacementError):
        dedicated_bucket("somebucket", "church")
    with pytest.raises(PlacementError):
        app_bucket(SHARED_BUCKET, "church", StorageSpec((), "elsewhere"))
    assert app_bucket("somebucket", "church", SHARED_SPEC) == "somebucket"  # shared needs no shape


# --- isolation: each role reaches its own placement's bucket, and only its own folder there -----

DEDICATED_APP = "youth"
OWN = dedicated_bucket(SHARED_BUCKET, DEDICATED_APP)
POLICIES = {
    "church": app_storage_policy(app_bucket(SHARED_BUCKET, "church", SHARED_SPEC), "church"),
    DEDICATED_APP: app_storage_policy(OWN, DEDICATED_APP),
}
PLACES = {"church": SHARED_BUCKET, DEDICATED_APP: OWN}


@pytest.mark.parametrize("action", OBJECT_ACTIONS)
@pytest.mark.parametrize(("app", "other"), list(itertools.permutations(POLICIES, 2)))
def test_each_role_reaches_its_own_bucket_only(app: str, other: str, action: str) -> None:
    policy = POLICIES[app]
    assert allowed(policy, action, f"arn:aws:s3:::{PLACES[app]}/{app}/uploads/a.png")
    for bucket, key in itertools.product((PLACES[other], PLACES[app]), (f"{other}/x", f"{app}x/y", "x")):
        assert not allowed(policy, action, f"arn:aws:s3:::{bucket}/{key}"), (bucket, key)
    assert not allowed(policy, action, f"arn:aws:s3:::{PLACES[other]}/{app}/uploads/a.png")
    listing = {"s3:prefix": f"{app}/"}
    assert not allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{PLACES[other]}", listing)
    assert allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{PLACES[app]}", listing)


def test_a_vended_session_names_the_dedicated_bucket() -> None:
    session = session_policy(OWN, [f"{DEDICATED_APP}/uploads/"], [])
    role = POLICIES[DEDICATED_APP]
    key = f"arn:aws:s3:::{OWN}/{DEDICATED_APP}/uploads/a.png"
    assert allowed(session, "s3:PutObject", key)
    assert allowed(role, "s3:PutObject", key)
    shared_key = f"arn:aws:s3:::{SHARED_BUCKET}/{DEDICATED_APP}/uploads/a.png"
    assert not allowed(session, "s3:PutObject", shared_key)
