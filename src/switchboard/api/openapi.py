"""Our OpenAPI document, made from the declared endpoints."""

from __future__ import annotations

import re
from typing import Any

from switchboard import __version__
from switchboard.api import schemas
from switchboard.api.endpoints import Endpoint

_PATH_PARAM = re.compile(r"{(\w+)}")

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer"},
    },
}


ERROR_REF = {"$ref": "#/components/schemas/Error"}


def openapi_document(endpoints: list[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "operationId": endpoint.handler.__name__,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PATH_PARAM.findall(endpoint.path)
            ],
            "responses": {
                str(endpoint.status): _success(endpoint),
                "default": {
                    "description": "A Twilio-style error",
                    "content": {"application/json": {"schema": ERROR_REF}},
                },
            },
        }
        if endpoint.method == "POST" and endpoint.params:
            operation["requestBody"] = {"content": {"application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        p.name: {**p.schema(), "description": p.description}
                        for p in endpoint.params
                    },
                    **({"required": req} if (req := [p.name for p in endpoint.params
                                                     if p.required]) else {}),
                },
            }}}
        else:
            operation["parameters"] += [
                {"name": p.name, "in": "query", "required": p.required, "schema": p.schema(),
                 "description": p.description}
                for p in endpoint.params
            ]
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Switchboard",
            "version": __version__,
            "description": "A task routing engine that speaks the TaskRouter v1 REST API.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **schemas.COMPONENTS},
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{"basic": []}],
    }


def _success(endpoint: Endpoint) -> dict[str, Any]:
    if endpoint.status == 204:
        return {"description": "Done; no body"}
    schema = schemas.response_schema(endpoint.handler.__name__)
    return {"description": "Success",
            "content": {"application/json": {"schema": schema}}}
