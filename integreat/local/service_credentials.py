"""The local platform's service-credential key, and signing requests with issued credentials.

`make dev` creates the key once (`.integreat/service-credentials.key`, readable by its owner
only) and verifies `/service` calls with it; `integreat service credentials|call` issue and use
credentials under the same key, as `aws sts assume-role` would hand an app backend its role's.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from chalicelib.identity.service_keys import Credentials, ServiceKeys

KEY_FILE = "service-credentials.key"


def load_or_create_key(state_dir: Path) -> bytes:
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two starts racing never end with different keys on disk.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def issue(state_dir: Path, role_id: str, ttl_seconds: int) -> Credentials:
    return ServiceKeys(load_or_create_key(state_dir)).issue(role_id, ttl_seconds)


def signed_headers(
    credentials: Credentials, region: str, method: str, url: str, body: bytes, headers: dict[str, str]
) -> dict[str, str]:
    """`headers` plus a SigV4 signature (service execute-api), made by botocore as an SDK would."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request: Any = AWSRequest(method=method, url=url, data=body, headers=headers)
    creds = BotoCredentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )
    SigV4Auth(creds, "execute-api", region).add_auth(request)
    return dict(request.headers.items())
