"""AWS clients, created lazily behind small cached factories (settings read once; clients made on first use).

boto3 is imported on first use, never at import time: the pre-token-generation path and every
cold start stay free of it. One endpoint setting points every service at moto locally.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.settings import Settings, get_settings

_clients: dict[tuple[str, str, str | None], Any] = {}
_lock = threading.Lock()


def client(service: str, settings: Settings | None = None) -> Any:
    """A cached boto3 client for `service` in the configured region and endpoint."""
    settings = settings or get_settings()
    key = (service, settings.region, settings.aws_endpoint_url)
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                import boto3  # lazy: see module docstring
                from botocore.config import Config

                # SigV4 for S3 presigning too: against a custom endpoint botocore would presign
                # with SigV2, which S3 refuses for buckets made since 2020 (and the local front too).
                config = Config(signature_version="s3v4") if service == "s3" else None
                found = boto3.client(
                    service,
                    region_name=settings.region,
                    endpoint_url=settings.aws_endpoint_url,
                    config=config,
                )
                _clients[key] = found
    return found


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError (e.g. 'UserNotFoundException'), else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
