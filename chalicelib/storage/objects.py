"""A bucket behind a small wrapper: head, copy, delete and presigned URLs.

The runtime's store is the stage's shared bucket; `in_bucket` gives the same client on another
(an app's own, chalicelib/storage/placement.py), and `for_app` the one that holds an app's objects.

botocore errors are translated here: a missing object is None, anything else is a
StorageBackendError (transient: the consumer reports the record as failed and SQS retries it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from chalicelib.storage.model import StorageSpec


class StorageBackendError(Exception):
    """S3 failed or refused; retry later."""


class ObjectHead(NamedTuple):
    size: int
    etag: str | None
    content_type: str | None
    metadata: dict[str, str]


class ObjectStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def in_bucket(self, bucket: str) -> ObjectStore:
        """The same client on `bucket` (this store if it is already that bucket)."""
        return self if bucket == self.bucket else ObjectStore(self._s3, bucket)

    def for_app(self, slug: str, spec: StorageSpec) -> ObjectStore:
        """The store of the bucket that holds `slug`'s objects, this store being the shared bucket."""
        from chalicelib.storage.placement import app_bucket

        return self.in_bucket(app_bucket(self.bucket, slug, spec))

    def head(self, key: str) -> ObjectHead | None:
        response = self._call("head_object", missing_ok=True, Key=key)
        if response is None:
            return None
        return ObjectHead(
            size=int(response.get("ContentLength", 0)),
            etag=response.get("ETag"),
            content_type=response.get("ContentType"),
            metadata={k.lower(): v for k, v in response.get("Metadata", {}).items()},
        )

    def move(self, key: str, destination: str) -> None:
        """Copy then delete, idempotently: a retry after a crash between the two finishes the job."""
        if self.head(key) is not None:
            self._call("copy_object", Key=destination, CopySource={"Bucket": self.bucket, "Key": key})
        self._call("delete_object", missing_ok=True, Key=key)

    def presigned_post(
        self, key: str, *, content_type: str, max_size: int, metadata: dict[str, str], expires: int = 300
    ) -> dict[str, Any]:
        """A form upload pinned to exactly this key, content type, metadata and size range."""
        fields = {"Content-Type": content_type, **{f"x-amz-meta-{k}": v for k, v in metadata.items()}}
        conditions: list[Any] = [{name: value} for name, value in fields.items()]
        conditions.append(["content-length-range", 1, max_size])
        result: dict[str, Any] = self._s3.generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires
        )
        return result

    def presigned_get(self, key: str, expires: int = 300) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires
        )
        return url

    def _call(self, operation: str, *, missing_ok: bool = False, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # lazy: boto only when used

        try:
            return getattr(self._s3, operation)(Bucket=self.bucket, **params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if missing_ok and code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageBackendError(f"s3 {operation} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageBackendError(f"s3 {operation} failed: {exc}") from exc
