"""The OpenAPI 3 document of every declared route, built from the route table itself (so a route
cannot exist without being documented) and kept in docs/openapi.json. Served at /openapi.json by
gateway/health.py, which imports this module only when the document is asked for (cold start)."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.gateway.policy import DOCS, POLICIES

_PARAM = re.compile(r"\{(\w+)\+?\}")
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
            },
        }
    },
}


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), policy in sorted(POLICIES.items()):
        doc = DOCS.get((path, method), "")
        summary, _, rest = doc.partition("\n")
        operation: dict[str, Any] = {
            "summary": summary or f"{method} {path}",
            "description": rest.strip(),
            "x-integreat-policy": policy.description,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PARAM.findall(path)
            ],
            "responses": _responses(policy.authenticate or policy.service),
        }
        if policy.service:  # API Gateway's IAM authorization (Chalice's IAMAuthorizer)
            operation["security"] = [{"sigv4": []}]
            operation["x-amazon-apigateway-auth"] = {"type": "AWS_IAM"}
        else:
            operation["security"] = [{"bearer": []}] if policy.authenticate else []
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Integreat",
            "version": "1",
            "description": "One API for every app on the platform.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (Cognito access token)"},
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS SigV4 (service execute-api), signed with the app's IAM role",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }


def _responses(authenticated: bool) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses: dict[str, Any] = {
        "200": {"description": "success"},
        "400": {"description": "bad request", **error},
    }
    if authenticated:
        responses |= {
            "401": {"description": "missing or invalid token", **error},
            "403": {"description": "not allowed", **error},
        }
    responses["404"] = {"description": "not found", **error}
    return responses
