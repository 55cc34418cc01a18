"""Cross-app data sharing: `GET /apps/{app}/datasets/{name}` reads a view the owner declared."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.gateway.authz import current_caller
from chalicelib.gateway.errors import ApiError
from chalicelib.gateway.params import integer, query
from chalicelib.gateway.policy import DATASET_READER, DATASET_SERVICE, OPTIONAL, route
from chalicelib.runtime import runtime

if TYPE_CHECKING:
    from chalicelib.tenancy.registry import AppRecord

datasets = Blueprint(__name__)

MAX_DATASET_PAGE = 1000
MAX_CURSOR = 200
_STATUS = {"invalid_cursor": 400, "dataset_unavailable": 409, "dataset_timeout": 503}


@route(
    datasets,
    "/apps/{app}/datasets/{name}",
    methods=["GET"],
    allow=DATASET_READER,
    service=DATASET_SERVICE,
    tenant=OPTIONAL,  # an unknown owner is answered like a dataset the caller may not read
)
def read_dataset(app: str, name: str, tenant: AppRecord | None) -> Response:
    """One page of the dataset `name` of app `app`, for members of the owner or of a reader app:
    ?limit= (1-1000, default 100), ?cursor= (the previous page's next_cursor). A caller who may
    not read it gets 403 whether or not it exists."""
    from chalicelib.sharing.model import find
    from chalicelib.sharing.read import DatasetError, read_page
    from chalicelib.sharing.section import DATASETS

    caller = current_caller()
    dataset = None if tenant is None else find(DATASETS.of(tenant), name)
    readers = dataset.readers if dataset is not None else ()
    if not (caller.is_admin or caller.app == app or caller.app in readers):
        raise ApiError(403, "forbidden", f"app {caller.app!r} may not read dataset {name!r} of {app!r}")
    if dataset is None:
        raise ApiError(404, "unknown_dataset", f"{app!r} declares no dataset {name!r}")
    params = query(datasets.current_request)
    limit = integer(params, "limit", 100, 1, MAX_DATASET_PAGE)
    after = params.get("cursor")
    if after is not None and not 0 < len(after) <= MAX_CURSOR:
        raise ApiError(400, "invalid_cursor", "cursor must be the next_cursor of the previous page")
    try:
        rows, cursor = read_page(runtime().database, app, dataset, after, limit)
    except DatasetError as exc:
        raise ApiError(_STATUS[exc.code], exc.code, str(exc)) from exc
    head = json.dumps({"app": app, "dataset": name, "next_cursor": cursor})
    return Response(body=f'{head[:-1]}, "rows": {rows}}}', headers={"Content-Type": "application/json"})
