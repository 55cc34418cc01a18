"""The S3 part of an app's IAM policy: its folder `<slug>/` and nothing else.

Object actions only on `arn:aws:s3:::<bucket>/<slug>/*` (the trailing slash keeps `church` out of
`churchevil/`); ListBucket only with an `s3:prefix` condition on `<slug>/`. No `*` resources.
moto enforces the resource ARNs but not conditions: tests/security/test_storage_iam.py evaluates
these documents directly for what moto cannot check.
"""

from __future__ import annotations

from typing import Any

from chalicelib.tenancy.slugs import validate_slug

POLICY_NAME = "integreat-app-storage"
OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


def app_storage_policy(bucket: str, slug: str) -> dict[str, Any]:
    folder = f"{validate_slug(slug)}/"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AppFolderObjects",
                "Effect": "Allow",
                "Action": OBJECT_ACTIONS,
                "Resource": f"arn:aws:s3:::{bucket}/{folder}*",
            },
            {
                "Sid": "AppFolderListing",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [folder, f"{folder}*"]}},
            },
        ],
    }


# --- session policies (issue 16): one caller's part of the app folder ----------------------------

#: A session's rights in a folder it may write: PutObject also authorizes CreateMultipartUpload,
#: UploadPart and CompleteMultipartUpload (S3 user guide, "Multipart upload API and permissions").
WRITE_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
READ_ACTIONS = ["s3:GetObject"]
#: STS AssumeRole: "The plaintext that you use for both inline and managed session policies can't
#: exceed 2,048 characters." The packed (compressed) form STS stores in the session token has a
#: separate limit that only STS measures: its answer's PackedPolicySize, in percent.
MAX_SESSION_POLICY_CHARS = 2048


def session_policy(bucket: str, writes: list[str], reads: list[str]) -> dict[str, Any]:
    """The session policy of a caller who may write under the key prefixes `writes` and read
    under `reads` ("church/uploads/"; a `*` segment stands for any user: "students/work/*/").

    Effective rights are its intersection with the role's own policy (`app_storage_policy`), so
    nothing here can reach beyond `<slug>/`. One statement per set of actions (a prefix read and
    written is named once), no Sid, single values unlisted: every character counts against
    MAX_SESSION_POLICY_CHARS. Raises ValueError when there is nothing to grant
    (IAM refuses a policy without statements; the caller must be refused instead).

    >>> session_policy("b", ["church/uploads/"], [])["Statement"][0]["Resource"]
    'arn:aws:s3:::b/church/uploads/*'
    """
    bucket_arn = f"arn:aws:s3:::{bucket}"
    both = [prefix for prefix in writes if prefix in reads]
    groups = (
        (WRITE_ACTIONS + READ_ACTIONS, both),
        (WRITE_ACTIONS, [prefix for prefix in writes if prefix not in both]),
        (READ_ACTIONS, [prefix for prefix in reads if prefix not in both]),
    )
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": _one(actions),
            "Resource": _one([f"{bucket_arn}/{p}*" for p in prefixes]),
        }
        for actions, prefixes in groups
        if prefixes
    ]
    if reads:
        listing = {"StringLike": {"s3:prefix": _one([f"{prefix}*" for prefix in reads])}}
        statements.append(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn, "Condition": listing}
        )
    if not statements:
        raise ValueError("a session policy needs at least one prefix to write or read")
    return {"Version": "2012-10-17", "Statement": statements}


def bound_policy(bucket: str, prefixes: list[str]) -> dict[str, Any]:
    """Longer than any `session_policy` of `prefixes`: each of them in all three object statements
    and in the listing (a size bound where asking about every caller would take too long)."""
    objects = [f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in prefixes]
    listing = {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}}
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": actions, "Resource": objects}
        for actions in (WRITE_ACTIONS + READ_ACTIONS, WRITE_ACTIONS, READ_ACTIONS)
    ]
    statements.append(
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": listing,
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def packed(policy: dict[str, Any]) -> str:
    """The policy as sent to STS: compact JSON, the length IAM's plaintext limit counts."""
    import json

    return json.dumps(policy, separators=(",", ":"))


def _one(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values
