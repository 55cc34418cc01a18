"""Liveness. Public by design: it reveals nothing and touches no tenant data or database."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.observability import logger, start_invocation

health = Blueprint(__name__)


@health.route("/health", methods=["GET"])
def get_health() -> dict[str, str]:
    request = health.current_request
    start_invocation(request.context.get("requestId") if request is not None else None)
    logger.debug("health check")
    return {"status": "ok"}
