"""Browser uploads (presigned POST forms), checked against their policy as S3 checks them.

moto stores whatever a form says. S3 (API reference, "POST Policy" and "Creating a POST policy")
refuses a form whose policy has expired, whose fields break a condition (exact match,
`starts-with`, `content-length-range`), or that carries a field no condition names: every field
except `x-amz-signature`, `file`, `policy` and `x-ignore-*` must appear in the conditions. Field
names are case-insensitive; `${filename}` in the key is the uploaded file's name.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from integreat.local.s3_errors import S3Error, access_denied, policy_failed

UNCHECKED = frozenset(
    {"x-amz-signature", "file", "policy", "awsaccesskeyid", "signature"}
)  # the last two: SigV2


class FormUpload(NamedTuple):
    fields: dict[str, str]  # lower-cased names (the first value of each)
    key: str  # `${filename}` substituted
    size: int
    content: bytes


def is_form_post(method: str, content_type: str) -> bool:
    return method == "POST" and content_type.lower().startswith("multipart/form-data")


def parse_form(content_type: str, body: bytes) -> FormUpload:
    """The form's fields and its one file; S3Error for a form S3 would not take."""
    from werkzeug.formparser import MultiPartParser
    from werkzeug.http import parse_options_header

    boundary = parse_options_header(content_type)[1].get("boundary", "")
    if not boundary:
        raise S3Error(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")  # fmt: skip
    try:
        form, files = MultiPartParser().parse(io.BytesIO(body), boundary.encode(), len(body))
    except ValueError:
        raise S3Error(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.") from None  # fmt: skip
    fields: dict[str, str] = {}
    for name, value in form.items(multi=True):
        fields.setdefault(name.lower(), value)
    uploads = files.getlist("file")
    contents = [upload.read() for upload in uploads]
    for stored in files.values():
        stored.close()  # werkzeug spools parts to temporary files
    if len(uploads) != 1 or len(files) != 1:
        raise S3Error(400, "InvalidArgument", "POST requires exactly one file upload per request.")
    if "key" not in fields:
        raise S3Error(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
    content = contents[0]
    key = fields["key"].replace("${filename}", uploads[0].filename or "")
    return FormUpload(fields | {"key": key}, key, len(content), content)


def check_policy(form: FormUpload, bucket: str, now: datetime | None = None) -> None:
    """Raise S3Error unless the form meets its (already signature-checked) policy."""
    policy = _policy(form.fields.get("policy", ""))
    if (now or datetime.now(UTC)) >= _expiration(policy.get("expiration")):
        raise policy_failed("Policy expired.")
    conditions = policy.get("conditions")
    if not isinstance(conditions, list):
        raise access_denied("Invalid Policy: Invalid 'conditions' value.")
    covered = {_check(condition, form, bucket) for condition in conditions}
    extra = [
        name for name in form.fields
        if name not in covered and name not in UNCHECKED and not name.startswith("x-ignore-")
    ]  # fmt: skip
    if extra:
        raise policy_failed(f"Extra input fields: {', '.join(extra)}")


def _policy(encoded: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True))
    except ValueError:
        raise access_denied("Invalid Policy: Invalid JSON.") from None
    if not isinstance(policy, dict):
        raise access_denied("Invalid Policy: Invalid JSON.")
    return policy


def _expiration(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise access_denied("Invalid Policy: Invalid 'expiration' value.") from None


def _check(condition: Any, form: FormUpload, bucket: str) -> str:
    """Check one condition; returns the (lower-cased) field name it covers."""
    if isinstance(condition, Mapping) and len(condition) == 1:
        name, expected = next(iter(condition.items()))
        return _match("eq", f"${name}", expected, form, bucket)
    if isinstance(condition, list) and len(condition) == 3:
        operator, name, expected = condition
        if str(operator).lower() == "content-length-range":
            _length(form.size, int(name), int(expected))
            return "content-length-range"
        return _match(str(operator).lower(), str(name), expected, form, bucket)
    raise access_denied(f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")


def _match(operator: str, name: str, expected: Any, form: FormUpload, bucket: str) -> str:
    field = name.removeprefix("$").lower()
    actual = bucket if field == "bucket" else form.fields.get(field)
    shown = json.dumps([operator, f"${field}", expected])
    if operator not in ("eq", "starts-with") or not name.startswith("$"):
        raise access_denied(f"Invalid Policy: Invalid Condition: {shown}")
    holds = actual is not None and (
        actual == str(expected) if operator == "eq" else actual.startswith(str(expected))
    )
    if not holds:
        raise policy_failed(f"Policy Condition failed: {shown}")
    return field


def _length(size: int, low: int, high: int) -> None:
    if size > high:
        raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                      ProposedSize=str(size), MaxSizeAllowed=str(high))  # fmt: skip
    if size < low:
        raise S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                      ProposedSize=str(size), MinSizeAllowed=str(low))  # fmt: skip
