"""One error shape for every API response: {"error": {"code", "message", "request_id"}}.

Domain errors are translated here, at the edge, by class (as Starlette looks handlers up by
exception class): domain code raises UnknownAppError, the API answers 404. No stack traces
reach a client.
"""

from __future__ import annotations

from typing import Any

from chalice.app import ChaliceViewError, Request, Response

from chalicelib.db.errors import DatabaseUnavailableError
from chalicelib.identity.errors import NotAMemberError, UnknownRoleError, UnknownUserError
from chalicelib.inputs import InputError, text_problem
from chalicelib.observability import SERVER_ERRORS, count, logger
from chalicelib.storage.errors import StorageRefusal, StorageRequestError
from chalicelib.tenancy.errors import AppMovingError, InvalidSlugError, UnknownAppError


class ApiError(Exception):
    """Raised by handlers for a deliberate client error: status, machine code, human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


#: Domain error class -> (status, code). The first matching class (in MRO order) wins.
TRANSLATIONS: dict[type[BaseException], tuple[int, str]] = {
    InputError: (400, "invalid_request"),
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


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def chalice_error(request: Request | None, response: Response) -> Response:
    """Chalice's own error answers (`{"Code", "Message"}`: 415 for an undeclared media type, ...)
    in the API's one error shape; any other response unchanged."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    return error_response(request, response.status_code, _snake(str(body["Code"])), str(body["Message"]))


def translate(request: Request | None, exc: BaseException) -> Response | None:
    """The response for a known error, or None (the caller then answers 500 without details)."""
    if isinstance(exc, ApiError):
        return error_response(request, exc.status, exc.code, exc.message)
    if isinstance(exc, DatabaseUnavailableError):
        return database_unavailable(request)
    if isinstance(exc, AppMovingError):  # issue 16: writes wait while the app changes cell
        retry = str(exc.retry_after_seconds)
        return error_response(request, 503, "app_moving", str(exc), **{"Retry-After": retry})
    if isinstance(exc, ChaliceViewError):  # e.g. `request.json_body` on a body that is not JSON
        code = "invalid_json" if "JSON" in str(exc) else _snake(type(exc).__name__.removesuffix("Error"))
        return error_response(request, exc.STATUS_CODE, code, str(exc).split(": ", 1)[-1])
    for cls in type(exc).__mro__:
        if cls in TRANSLATIONS:
            status, code = TRANSLATIONS[cls]
            return error_response(request, status, code, str(exc))
    return None


#: SQLSTATE class 22, "data exception": Postgres refused a value we sent it (invalid text for
#: the type, a character the encoding lacks, a number out of range), i.e. the client's input.
_DATA_EXCEPTION = "22"


def input_fault(exc: BaseException) -> bool:
    """Whether an exception nobody translated was caused by the client's input, not by us.

    RecursionError (deep JSON), UnicodeError (a lone surrogate meeting UTF-8), psycopg2's
    ValueError "A string literal cannot contain NUL (0x00) characters", a Postgres data exception.
    """
    if isinstance(exc, RecursionError | UnicodeError):
        return True
    if type(exc) is ValueError and "NUL" in str(exc):
        return True
    return str(getattr(exc, "pgcode", None) or "").startswith(_DATA_EXCEPTION)


def unexpected(request: Request | None, exc: BaseException) -> Response:
    """The last line of defence: an error no handler translated. Caused by input: logged and a
    400 `invalid_request`; any other: logged with its stack, counted (`ServerErrors`), a 500.
    The exception's text is never sent: it can hold the driver's or the server's details."""
    rid = request_id(request)
    if input_fault(exc):
        logger.warning("input the boundary let through", exc_info=exc, extra={"request_id": rid})
        message = (
            "the request holds input that cannot be processed (NUL, an unpaired surrogate, deep"
            " nesting or a malformed value): correct it; quote the request id if it is well formed"
        )
        return error_response(request, 400, "invalid_request", message)
    logger.error("unhandled error", exc_info=exc, extra={"request_id": rid})
    app = ((request.uri_params or {}) if request is not None else {}).get("app")
    count(SERVER_ERRORS, app if app is not None and text_problem(app) is None else None)
    return error_response(request, 500, "internal_error", "internal error; quote the request id")
