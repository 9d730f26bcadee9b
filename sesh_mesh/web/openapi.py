"""GET /openapi.json: the OpenAPI 3.1 document, generated from the route table and the op
table's argument schemas (`OpTable.schemas()`), so it changes when an op's arguments do."""

from __future__ import annotations

from typing import Any

from sesh_mesh import __version__
from sesh_mesh.web.routes import QUERY_ALIASES, ROUTES, HttpRoute

ERROR_STATUSES = {
    "400": "Bad request: a malformed body, an unknown field or parameter, a wrong type.",
    "401": "No or wrong `Authorization: Bearer <token>`.",
    "404": "No session matches the id.",
    "409": "The session's state refuses it (ambiguous prefix, busy, deleted, not live …).",
    "504": "The turn did not end within `timeout` (it goes on).",
}


def document(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        op_schema = schemas.get(route.op, {}).get("args", {"type": "object", "properties": {}})
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, op_schema)
    paths["/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This document.", "security": [{"bearer": []}],
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "401": _error_ref("401")},
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "sesh", "version": __version__,
                 "description": "The sesh daemon's HTTP API: every route runs an op of its op table, for a session "
                                "on any machine of the mesh."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["what", "fix", "kind"], "properties": {
                    "what": {"type": "string"}, "fix": {"type": "string"}, "kind": {"type": "string"}}}},
            }},
        },
    }


def _operation(route: HttpRoute, op_schema: dict[str, Any]) -> dict[str, Any]:
    props = op_schema.get("properties", {})
    parameters: list[dict[str, Any]] = []
    if "{id}" in route.path:
        parameters.append({"name": "id", "in": "path", "required": True, "schema": {"type": "string"},
                           "description": "A session uuid, or a unique prefix of it or of its agent's "
                                          "conversation id."})
    aliases = {v: k for k, v in QUERY_ALIASES.items()} if route.op == "search" else {}
    for name in route.query:
        prop = props.get(name, {"type": "string"})
        parameters.append({"name": aliases.get(name, name), "in": "query", "required": name in op_schema.get(
            "required", []), "schema": _non_null(prop), **_described(prop)})
    if route.op == "list":
        parameters.append({"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
                           "description": "Keep sessions whose uuid, name, cwd or tags contain this text."})
    operation: dict[str, Any] = {"operationId": route.name, "summary": route.summary, "x-sesh-op": route.op,
                                 "parameters": parameters, "responses": _responses(route)}
    body = {field: props.get(arg, {}) for field, arg in route.body.items()} | route.extra_body
    if body:
        required = [f for f, arg in route.body.items() if arg in op_schema.get("required", []) and arg != "uuid"]
        operation["requestBody"] = {"required": bool(required), "content": {"application/json": {"schema": {
            "type": "object", "properties": body, "additionalProperties": False,
            **({"required": required} if required else {})}}}}
    return operation


def _responses(route: HttpRoute) -> dict[str, Any]:
    if route.sse:
        ok: dict[str, Any] = {"description": "Server-Sent Events.",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}}
    else:
        ok = {"description": "The op's result.", "content": {"application/json": {"schema": {}}}}
    return {str(route.status): ok, **{code: _error_ref(code) for code in ERROR_STATUSES}}


def _error_ref(code: str) -> dict[str, Any]:
    return {"description": ERROR_STATUSES[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _non_null(prop: dict[str, Any]) -> dict[str, Any]:
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    schema = dict(branches[0]) if branches else {"type": "string"}
    schema.pop("description", None)
    if "default" in prop:
        schema["default"] = prop["default"]
    return schema


def _described(prop: dict[str, Any]) -> dict[str, Any]:
    return {"description": prop["description"]} if prop.get("description") else {}
