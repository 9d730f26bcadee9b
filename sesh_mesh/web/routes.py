"""The HTTP routes and the op each one runs: one table for the app (http_app) and the OpenAPI
document (openapi), so a route cannot be served without being documented or the reverse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sesh_mesh.errors import UsageError


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    op: str
    """The op that answers it; its argument schema documents the route's parameters."""
    name: str
    summary: str
    query: tuple[str, ...] = ()
    """Op arguments read from the query string."""
    body: dict[str, str] = field(default_factory=dict)
    """Body field → op argument (the API's names, shaped like a session server's, beside the op's)."""
    extra_body: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Body fields that are not op arguments (PUT /sessions/{id} maps them to several mutations)."""
    sse: bool = False
    status: int = 200


SESSION_BODY = {
    "agent": "agent", "work_dir": "cwd", "cwd": "cwd", "name": "name", "tags": "tags", "model": "model",
    "headless": "headless", "message": "msg", "machine": "machine", "target": "target", "sandbox": "sandbox",
    "timeout": "timeout", "session_id": "sessionId",
}  # fmt: skip

ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute("POST", "/sessions", "new", "createSession",
              "Create a session (in tmux, or headless with a first message); the record, and the first reply "
              "when a message was given.", body=SESSION_BODY, status=201),
    HttpRoute("GET", "/sessions", "list", "listSessions",
              "Sessions of the whole mesh, newest first; `q` keeps those whose uuid, name, cwd or tags contain it.",
              query=("machine", "agent", "tag", "archived")),
    HttpRoute("GET", "/sessions/{id}", "info", "getSession", "One session's record (a uuid prefix is accepted)."),
    HttpRoute("PUT", "/sessions/{id}", "mutate", "updateSession",
              "Rename, set the tags, archive or unarchive, turn autoname on or off; the record after.",
              extra_body={"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                          "archived": {"type": "boolean"}, "autoRename": {"type": "boolean"}}),
    HttpRoute("DELETE", "/sessions/{id}", "mutate", "deleteSession", "Delete the session (a tombstone)."),
    HttpRoute("POST", "/sessions/{id}/message", "send", "sendMessage",
              "Send a message and wait for that turn: `{response, tool_calls, usage, steps}` read from the "
              "transcript.", body={"message": "message", "timeout": "timeout"}),
    HttpRoute("POST", "/sessions/{id}/message/stream", "send", "streamMessage",
              "Send a message; the turn as Server-Sent Events (message_start … text_delta … message_stop, done).",
              body={"message": "message", "timeout": "timeout"}, sse=True),
    HttpRoute("GET", "/sessions/{id}/transcript", "transcript", "getTranscript",
              "The session's transcript entries, parsed and rendered.", query=("n",)),
    HttpRoute("GET", "/search", "search", "search", "Full-text search over every machine's transcripts.",
              query=("query", "agent", "machine", "limit")),
    HttpRoute("GET", "/events", "events", "events",
              "The mesh's event stream as Server-Sent Events (the event name is its kind): the last `n`, then each "
              "new one; `kinds` is a comma-separated list.", query=("n", "machine", "kinds"), sse=True),
)
"""`id` in a path is the op's `uuid` argument; `q` is `query` for /search and a filter for /sessions."""

QUERY_ALIASES = {"q": "query"}


def query_args(route: HttpRoute, params: dict[str, str], schema: dict[str, Any]) -> dict[str, Any]:
    """The route's query parameters as typed op arguments; an unknown parameter is refused."""
    props = schema.get("properties", {})
    out: dict[str, Any] = {}
    for raw_key, text in params.items():
        key = QUERY_ALIASES.get(raw_key, raw_key) if route.op == "search" else raw_key
        if key not in route.query:
            if route.op == "list" and raw_key == "q":
                continue
            known = ", ".join(sorted(route.query)) or "none"
            raise UsageError(f"unknown query parameter {raw_key!r} for {route.method} {route.path}",
                             f"use {known}")
        out[key] = _typed(key, text, _json_type(props.get(key, {})))
    return out


def body_args(route: HttpRoute, body: dict[str, Any]) -> dict[str, Any]:
    """A JSON body's fields renamed to op arguments; an unknown field is refused."""
    out: dict[str, Any] = {}
    if "work_dir" in body and "cwd" in body and body["work_dir"] != body["cwd"]:
        raise UsageError("work_dir and cwd name different directories", "give one of them")
    for key, value in body.items():
        if key not in route.body:
            raise UsageError(f"unknown field {key!r} for {route.method} {route.path}",
                             "use " + ", ".join(sorted(route.body)))
        out[route.body[key]] = value
    return out


def _json_type(prop: dict[str, Any]) -> str:
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") not in (None, "null"):
            return str(branch["type"])
    return "string"


def _typed(key: str, text: str, kind: str) -> Any:
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise UsageError(f"query parameter {key}={text!r} is not a boolean", f"write {key}=true or {key}=false")
    if kind == "array":
        return [part for part in text.split(",") if part]
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"query parameter {key}={text!r} is not an integer", f"write {key}=10") from None
    return text
