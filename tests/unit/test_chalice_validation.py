"""Chalice's own deploy-time checks over the whole app, for every stage of .chalice/config.json.

`chalice deploy` runs `chalice.deploy.validate.validate_configuration` before any AWS call, but
`chalice package` (what the CDK construct runs) does not, so a route the API Gateway import would
refuse (e.g. content types mixing binary and text) passed every CDK test and failed only at
`chalice deploy`. Here it fails in `make test`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.config import Config
from chalice.deploy.validate import validate_configuration, validate_route_content_types

import app

ROOT = Path(__file__).resolve().parents[2]
CHALICE_CONFIG: dict[str, Any] = json.loads((ROOT / ".chalice" / "config.json").read_text())


def _config(stage: str) -> Config:
    """The Config `chalice deploy --stage <stage>` builds (cli/factory.py), minus its env side effect:
    the factory imports the app after putting the stage's variables into os.environ."""
    return Config(
        chalice_stage=stage,
        user_provided_params={"chalice_app": app.app, "project_dir": str(ROOT)},
        config_from_disk=CHALICE_CONFIG,
        default_params={
            "api_gateway_stage": "api",
            "api_gateway_endpoint_type": "EDGE",
            "autogen_policy": True,
        },
    )


@pytest.mark.parametrize("stage", sorted(CHALICE_CONFIG["stages"]))
def test_chalice_deploy_validation_passes_for_every_stage(stage: str) -> None:
    validate_configuration(_config(stage))


def test_every_route_is_checked_and_the_check_refuses_mixed_binary_content_types() -> None:
    # The check is only worth having if it sees the proxy's routes and still bites.
    proxy = [
        e
        for methods in app.app.routes.values()
        for e in methods.values()
        if e.view_name == "call_integration"
    ]
    assert proxy, "the integration proxy's routes are not in the app"
    validate_route_content_types(app.app.routes, app.app.api.binary_types)
    mixed = {"/x": {"POST": proxy[0]}}
    with pytest.raises(ValueError, match="consistent in their binary support"):
        validate_route_content_types(mixed, [*app.app.api.binary_types, proxy[0].content_types[0]])
