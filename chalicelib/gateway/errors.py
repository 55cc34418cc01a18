"""One error shape for every API response: {"error": {"code", "message", "request_id"}}.

Domain errors are translated here, at the edge, by class (as Starlette looks handlers up by
exception class): domain code raises UnknownAppError, the API answers 404. No stack traces
reach a client.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Request, Response

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.identity.errors import NotAMemberError, UnknownRoleError, UnknownUserError
from chalicelib.storage.errors import StorageRefusal, StorageRequestError
from chalicelib.tenancy.errors import InvalidSlugError, UnknownAppError


class ApiError(Exception):
    """Raised by handlers for a deliberate client error: status, machine code, human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


#: Domain error class -> (status, code). The first matching class (in MRO order) wins.
TRANSLATIONS: dict[type[BaseException], tuple[int, str]] = {
    InvalidSlugError: (400, "invalid_app"),
    UnknownAppError: (404, "unknown_app"),
    UnknownUserError: (404, "unknown_user"),
    NotAMemberError: (404, "not_a_member"),
    UnknownRoleError: (400, "unknown_role"),
    StorageRequestError: (400, "invalid_file_request"),
    StorageRefusal: (403, "forbidden"),
}


def request_id(request: Request | None) -> str:
    context = request.context if request is not None else {}
    return str(context.get("requestId", "-"))


def error_response(request: Request | None, status: int, code: str, message: str, **headers: str) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "request_id": request_id(request)}}
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **headers})


def database_unavailable(request: Request | None) -> Response:
    # The error's own text can name the server: the client learns only that it may retry.
    message = "the database is unreachable; retry shortly"
    return error_response(request, 503, "database_unavailable", message, **{"Retry-After": "2"})


def translate(request: Request | None, exc: BaseException) -> Response | None:
    """The response for a known error, or None (the caller then answers 500 without details)."""
    if isinstance(exc, ApiError):
        return error_response(request, exc.status, exc.code, exc.message)
    if isinstance(exc, DatabaseUnavailableError):
        return database_unavailable(request)
    for cls in type(exc).__mro__:
        if cls in TRANSLATIONS:
            status, code = TRANSLATIONS[cls]
            return error_response(request, status, code, str(exc))
    return None
