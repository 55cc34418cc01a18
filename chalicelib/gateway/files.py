"""Files of an app: signed uploads (the server picks the key), listings, signed downloads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.gateway.authz import current_caller
from chalicelib.gateway.errors import ApiError
from chalicelib.gateway.params import integer, json_body, query
from chalicelib.gateway.policy import MEMBER, route
from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.storage.objects import ObjectStore
    from chalicelib.storage.rules import Actor
    from chalicelib.storage.spec import StorageSpec
    from chalicelib.tenancy.registry import AppRecord

files = Blueprint(__name__)


def _actor() -> Actor:
    from chalicelib.storage.rules import Actor  # the rules load with the first files request

    caller = current_caller()
    return Actor(app=caller.app, user_id=caller.user_id, roles=caller.roles, is_admin=caller.is_admin)


def _storage(tenant: AppRecord) -> dict[str, StorageSpec]:
    """The folder rules the decision needs: the path's app's alone, since every key the files
    API builds or accepts lies under `<app>/` (the decision reads no other app's rules)."""
    from chalicelib.storage.section import STORAGE

    return {tenant.slug: STORAGE.of(tenant)}


def _objects(tenant: AppRecord) -> ObjectStore:
    """The bucket of the app's placement (shared, or its own), as the registry records it."""
    from chalicelib.storage.section import STORAGE

    return runtime().objects.for_app(tenant.slug, STORAGE.of(tenant))


@route(files, "/apps/{app}/files/uploads", methods=["POST"], allow=MEMBER)
def create_upload(app: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.storage import uploads

    request = uploads.parse_upload(json_body(files.current_request))
    actor = _actor()
    key, folder = uploads.authorize_upload(app, _storage(tenant), request, actor)
    room = _room_left(app, tenant, request.size)
    form = _objects(tenant).presigned_post(
        key,
        content_type=request.content_type,
        max_size=min(folder.max_size, room),  # the signed size range keeps the upload within the quota
        metadata=uploads.upload_metadata(actor),
        expires=uploads.UPLOAD_SECONDS,
    )
    return {
        "key": key,
        "upload": {"url": form["url"], "fields": form["fields"]},
        "expires_in": uploads.UPLOAD_SECONDS,
    }


def _room_left(app: str, tenant: AppRecord, size: int) -> int:
    """Bytes the app may still store (`storage_bytes` less its indexed files); an upload of
    `size` that does not fit: 403, before anything is signed."""
    from chalicelib.observability import THROTTLES, count
    from chalicelib.storage.spec import size_text
    from chalicelib.usage.section import LIMITS

    limit = LIMITS.of(tenant).effective()["storage_bytes"]
    ((used,),) = runtime().database.read(
        app, "SELECT coalesce(sum(size), 0)::bigint FROM files WHERE NOT deleted"
    )
    if int(used) + size <= limit:
        return limit - int(used)
    count(THROTTLES, app, limit="storage")
    raise ApiError(
        403,
        "storage_limit_reached",
        f"{app} stores {size_text(int(used))} of its {size_text(limit)}, so {size_text(size)} more do not"
        f" fit: delete files, or raise [apps.{app}.limits] storage_bytes",
    )


@route(files, "/apps/{app}/files", methods=["GET"], allow=MEMBER)
def list_files(app: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.storage import index, uploads

    params = query(files.current_request)
    if "folder" not in params:
        raise ApiError(400, "folder_required", "give ?folder=<a folder of the app>, e.g. ?folder=uploads/")
    prefix = uploads.listing_prefix(app, params["folder"], _actor(), _storage(tenant))
    limit = integer(params, "limit", 50, 1, uploads.MAX_LIST)
    found = index.list_files(runtime().database, app, prefix, params.get("cursor", ""), limit)
    cursor = found[-1]["key"] if len(found) == limit else None
    return {"app": app, "folder": params["folder"], "files": found, "next_cursor": cursor}


@route(files, "/apps/{app}/files/download", methods=["GET"], allow=MEMBER)
def download(app: str, tenant: AppRecord) -> dict[str, Any]:
    from chalicelib.storage import uploads

    params = query(files.current_request)
    key = params.get("key") or ""
    uploads.authorize_download(app, key, _actor(), _storage(tenant))
    if not runtime().database.read(app, "SELECT 1 FROM files WHERE key = %s AND NOT deleted", (key,)):
        raise ApiError(404, "unknown_file", f"no file {key!r} in {app}")
    return {
        "key": key,
        "url": _objects(tenant).presigned_get(key, uploads.DOWNLOAD_SECONDS),
        "expires_in": uploads.DOWNLOAD_SECONDS,
    }
