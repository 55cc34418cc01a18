"""An app's IAM role reaches its own folder only: the generated policy documents, evaluated.

moto enforces resource ARNs (tests/security/test_storage_iam_moto.py exercises real credentials)
but not conditions, so the ListBucket `s3:prefix` rule rests on this evaluation.
"""

from __future__ import annotations

import itertools

import pytest

from chalicelib.storage.iam import OBJECT_ACTIONS, app_storage_policy
from tests.iam_eval import allowed

BUCKET = "integreat-test-bucket"
APPS = ("church", "events", "students")


def obj(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


@pytest.mark.parametrize("action", OBJECT_ACTIONS)
@pytest.mark.parametrize("app", APPS)
def test_own_folder_objects_are_allowed(app: str, action: str) -> None:
    assert allowed(app_storage_policy(BUCKET, app), action, obj(f"{app}/uploads/a.png"))


@pytest.mark.parametrize("action", OBJECT_ACTIONS)
@pytest.mark.parametrize(("app", "other"), list(itertools.permutations(APPS, 2)))
def test_other_folders_are_denied(app: str, other: str, action: str) -> None:
    policy = app_storage_policy(BUCKET, app)
    for key in (f"{other}/x", f"{app}evil/x", f"{app}-evil/x", f"_quarantine/{app}/x", "x", f"{app}"):
        assert not allowed(policy, action, obj(key)), key
    assert not allowed(policy, action, f"arn:aws:s3:::{BUCKET}-other/{app}/x")


@pytest.mark.parametrize("app", APPS)
def test_listing_needs_the_own_prefix(app: str) -> None:
    policy = app_storage_policy(BUCKET, app)
    bucket = f"arn:aws:s3:::{BUCKET}"
    assert allowed(policy, "s3:ListBucket", bucket, {"s3:prefix": f"{app}/"})
    assert allowed(policy, "s3:ListBucket", bucket, {"s3:prefix": f"{app}/uploads/"})
    for prefix in ("", "events/", f"{app}", f"{app}evil/", "_quarantine/"):
        if prefix.startswith(f"{app}/"):
            continue
        assert not allowed(policy, "s3:ListBucket", bucket, {"s3:prefix": prefix}), prefix
    assert not allowed(policy, "s3:ListBucket", bucket)  # no prefix at all: the whole bucket


@pytest.mark.parametrize("app", APPS)
def test_no_wildcard_resources_and_nothing_else(app: str) -> None:
    policy = app_storage_policy(BUCKET, app)
    for statement in policy["Statement"]:
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert all(r.startswith(f"arn:aws:s3:::{BUCKET}") for r in resources)
    for action in ("s3:PutBucketPolicy", "s3:DeleteBucket", "s3:PutObjectAcl", "s3:*", "iam:PassRole"):
        assert not allowed(policy, action, obj(f"{app}/x"))
        assert not allowed(policy, action, f"arn:aws:s3:::{BUCKET}")


def test_the_evaluator_itself_can_deny_and_allow() -> None:
    # The control: the evaluator is not a constant function.
    policy = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a/*"},
                            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a/secret*"}]}  # fmt: skip
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::b/a/x")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::b/a/secret.txt")
    assert not allowed(policy, "s3:PutObject", "arn:aws:s3:::b/a/x")
    with pytest.raises(ValueError, match="not supported"):
        allowed(
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {}}}
                ]
            },
            "a",
            "b",
        )
