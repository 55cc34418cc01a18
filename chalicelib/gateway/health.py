"""The public routes: liveness and the API description. Neither touches tenant data or the database."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.gateway.policy import PUBLIC, route

health = Blueprint(__name__)


@route(health, "/health", methods=["GET"], allow=PUBLIC)
def get_health() -> dict[str, str]:
    return {"status": "ok"}


@route(health, "/openapi.json", methods=["GET"], allow=PUBLIC)
def get_openapi() -> dict[str, Any]:
    """The OpenAPI 3 document of this API.

    Public: it describes routes and who may call them, never data.
    """
    from chalicelib.gateway.openapi import document

    return document()
