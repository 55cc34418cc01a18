"""The bucket's event notifications, sent by the local S3 front in S3's shape.

moto's notifications name no principal, so the front keeps the bucket's notification
configuration itself (moto never sees it, and so sends none) and, after every successful write
or delete it forwarded, sends what S3 sends (user guide, "Event message structure", version 2.1):
`userIdentity.principalId` of the signer, the key URL-encoded as S3 encodes it (a space is `+`),
a sequencer that grows per key, and the event name of the operation (ObjectCreated:Put, :Post,
:Copy, :CompleteMultipartUpload; ObjectRemoved:Delete).
"""

from __future__ import annotations

import fnmatch
import json
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote_plus

from chalicelib.observability import logger
from integreat.local.s3_errors import S3Error

OWNER_ID = "A3NL1KOZZKLOCAL"  # the bucket owner's canonical id stand-in


class QueueTarget(NamedTuple):
    id: str
    queue_arn: str
    events: tuple[str, ...]  # e.g. "s3:ObjectCreated:*"
    prefix: str
    suffix: str

    def wants(self, name: str, key: str) -> bool:
        return (
            any(fnmatch.fnmatchcase(f"s3:{name}", pattern) for pattern in self.events)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )


class Written(NamedTuple):
    """One change the front saw succeed."""

    name: str  # "ObjectCreated:Put"...
    bucket: str
    key: str  # decoded
    principal_id: str
    source_ip: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None


class Notifications:
    """The notification configuration per bucket, and the sending (to SQS queues in moto)."""

    def __init__(self, sqs: Any, region: str) -> None:
        self._sqs = sqs
        self._region = region
        self._config: dict[str, tuple[bytes, list[QueueTarget]]] = {}
        self._urls: dict[str, str] = {}
        self._last = 0
        self._lock = threading.Lock()

    def configure(self, bucket: str, document: bytes) -> None:
        """PutBucketNotificationConfiguration: validate the queues, keep it, send s3:TestEvent."""
        targets = parse_configuration(document)
        for target in targets:
            self._queue_url(target.queue_arn)
        with self._lock:
            self._config[bucket] = (document, targets)
        for url in {self._queue_url(t.queue_arn) for t in targets}:
            self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(_test_event(bucket)))

    def configuration(self, bucket: str) -> bytes:
        with self._lock:
            found = self._config.get(bucket)
        empty = b'<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
        return found[0] if found else empty

    def emit(self, change: Written) -> None:
        with self._lock:
            targets = [
                t for t in self._config.get(change.bucket, (b"", []))[1] if t.wants(change.name, change.key)
            ]
        for target in targets:
            record = self._record(change, target.id)
            try:
                self._sqs.send_message(
                    QueueUrl=self._queue_url(target.queue_arn), MessageBody=json.dumps({"Records": [record]})
                )
            except Exception:  # as in S3, a failed delivery does not fail the write
                logger.exception("local s3: notification not delivered", extra={"key": change.key})

    def sequencer(self) -> str:
        """Strictly increasing (S3 only promises that per key; this is stronger)."""
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:X}"

    def _record(self, change: Written, configuration_id: str) -> dict[str, Any]:
        obj: dict[str, Any] = {"key": quote_plus(change.key, safe="/"), "sequencer": self.sequencer()}
        if change.name.startswith("ObjectCreated:"):
            obj |= {"size": change.size or 0, "eTag": change.etag or ""}
        if change.version_id and change.version_id != "null":
            obj["versionId"] = change.version_id
        return {
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": self._region,
            "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "eventName": change.name, "userIdentity": {"principalId": change.principal_id},
            "requestParameters": {"sourceIPAddress": change.source_ip},
            "responseElements": {"x-amz-request-id": secrets.token_hex(8).upper(), "x-amz-id-2": secrets.token_urlsafe(48)},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
                   "bucket": {"name": change.bucket, "ownerIdentity": {"principalId": OWNER_ID},
                              "arn": f"arn:aws:s3:::{change.bucket}"},
                   "object": obj},
        }  # fmt: skip

    def _queue_url(self, arn: str) -> str:
        if arn not in self._urls:
            parts = arn.split(":")
            try:
                url = self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            except Exception:
                raise S3Error(400, "InvalidArgument", "Unable to validate the following destination configurations") from None  # fmt: skip
            self._urls[arn] = str(url)
        return self._urls[arn]


def parse_configuration(document: bytes) -> list[QueueTarget]:
    """The QueueConfigurations of a NotificationConfiguration document."""
    try:
        root = ET.fromstring(document)  # noqa: S314 (the provisioner's request, on loopback)
    except ET.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    unsupported = {_tag(el) for el in root} - {"QueueConfiguration"}
    if unsupported:
        raise S3Error(501, "NotImplemented", f"the local S3 sends notifications to SQS only, not {sorted(unsupported)}")  # fmt: skip
    return [_target(el) for el in root]


def _target(element: ET.Element) -> QueueTarget:
    values: dict[str, list[str]] = {}
    rules: dict[str, str] = {}
    for child in element.iter():
        tag = _tag(child)
        if tag == "FilterRule":
            rule = {_tag(c): c.text or "" for c in child}
            rules[rule.get("Name", "").lower()] = rule.get("Value", "")
        elif child is not element and len(child) == 0:
            values.setdefault(tag, []).append(child.text or "")
    return QueueTarget(
        (values.get("Id") or [secrets.token_hex(8)])[0],
        (values.get("Queue") or [""])[0],
        tuple(values.get("Event", [])),
        rules.get("prefix", ""),
        rules.get("suffix", ""),
    )


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _test_event(bucket: str) -> dict[str, str]:
    return {
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket,
        "Time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "RequestId": secrets.token_hex(8).upper(), "HostId": secrets.token_urlsafe(48),
    }  # fmt: skip
