"""The bucket's CORS rule: which browser origins may read the bucket's answers (uploads through
a signed form or URL, downloads through a signed URL). One rule for every app's origins: S3 has
no per-prefix CORS, and needs none, since what a page may do is what its signature allows.

The CDK stack declares it on the bucket (integreat/infra/data.py); `make dev` puts it on moto's
bucket, and the local S3 front answers by it as S3 does (integreat/local/s3_cors.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.frontends.model import FrontendSpec

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
#: What a page may read of S3's answers: ETag for multipart uploads (Amplify's uploadData).
EXPOSED = ("ETag", "x-amz-version-id", "x-amz-request-id")
MAX_AGE_SECONDS = 600


def cors_rules(frontends: Iterable[FrontendSpec], local: bool) -> list[dict[str, Any]]:
    """The bucket's CORS configuration (boto3's CORSRules shape); [] when no app has an origin."""
    origins = sorted(set().union(*(spec.allowed_origins(local) for spec in frontends)))
    if not origins:
        return []
    return [
        {
            "ID": "integreat-app-frontends",
            "AllowedOrigins": origins,
            "AllowedMethods": list(METHODS),
            "AllowedHeaders": ["*"],  # signed requests carry x-amz-* headers of the SDK's choosing
            "ExposeHeaders": list(EXPOSED),
            "MaxAgeSeconds": MAX_AGE_SECONDS,
        }
    ]
