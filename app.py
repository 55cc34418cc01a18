"""Chalice entry point: creates the app and registers blueprints. Nothing else: the handlers are thin and grouped in blueprints."""

from __future__ import annotations

from chalice.app import Chalice

from chalicelib.gateway.admin import admin
from chalicelib.gateway.authz import authz
from chalicelib.gateway.datasets import datasets
from chalicelib.gateway.events import events
from chalicelib.gateway.files import files
from chalicelib.gateway.health import health
from chalicelib.gateway.integrations import integrations
from chalicelib.gateway.members import members
from chalicelib.gateway.storage_credentials import storage_credentials
from chalicelib.gateway.usage import usage
from chalicelib.identity.triggers import triggers
from chalicelib.messaging.handlers import cross_app_events
from chalicelib.provisioning.deploy import provisioner
from chalicelib.storage.handlers import storage_events

app = Chalice(app_name="integreat")
app.register_blueprint(authz)  # the authorization middleware: every HTTP request, every stage
app.register_blueprint(health)
app.register_blueprint(members)
app.register_blueprint(admin)
app.register_blueprint(files)
app.register_blueprint(storage_credentials)
app.register_blueprint(events)
app.register_blueprint(datasets)
app.register_blueprint(integrations)
app.register_blueprint(usage)
app.register_blueprint(cross_app_events)
app.register_blueprint(storage_events)
app.register_blueprint(triggers)
app.register_blueprint(provisioner)  # the stack's custom resource (cdk deploy)
