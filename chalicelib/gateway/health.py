"""Liveness. Public by design: it reveals nothing and touches no tenant data or database."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.gateway.policy import PUBLIC, route

health = Blueprint(__name__)


@route(health, "/health", methods=["GET"], allow=PUBLIC)
def get_health() -> dict[str, str]:
    return {"status": "ok"}
