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
