"""S3's error answers, as the local S3 front sends them (the S3 API reference, "Error responses").

An S3 error is an XML document `<Error><Code/><Message/><RequestId/><HostId/></Error>` with the
HTTP status of the code; some codes add elements (SignatureDoesNotMatch names the access key).
"""

from __future__ import annotations

import secrets
from xml.sax.saxutils import escape

ACCESS_DENIED = "Access Denied"


class S3Error(Exception):
    """A request the front refuses as S3 would; `xml()` is the body S3 sends."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def xml(self) -> bytes:
        request_id = secrets.token_hex(8).upper()
        parts = [f"<Code>{escape(self.code)}</Code>", f"<Message>{escape(self.message)}</Message>"]
        parts += [f"<{name}>{escape(value)}</{name}>" for name, value in self.extra.items()]
        parts += [f"<RequestId>{request_id}</RequestId>", "<HostId>integreat-local-s3</HostId>"]
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode()


def access_denied(message: str = ACCESS_DENIED) -> S3Error:
    return S3Error(403, "AccessDenied", message)


def policy_failed(detail: str) -> S3Error:
    """A presigned POST form that breaks its policy (S3 words it "Invalid according to Policy")."""
    return access_denied(f"Invalid according to Policy: {detail}")


def signature_mismatch(access_key: str) -> S3Error:
    return S3Error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided."
        " Check your key and signing method.",
        AWSAccessKeyId=access_key,
    )


def unknown_key(access_key: str) -> S3Error:
    return S3Error(
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        AWSAccessKeyId=access_key,
    )
