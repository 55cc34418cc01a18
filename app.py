"""Chalice entry point: creates the app and registers blueprints. Nothing else (STYLE.md 1)."""

from __future__ import annotations

from chalice.app import Chalice

from chalicelib.gateway.health import health

app = Chalice(app_name="integreat")
app.register_blueprint(health)
