"""The HTTP API as a Starlette app: bearer auth, the routes of `routes.ROUTES`, JSON errors.

Every route runs ops through the one op table (`OpTable.run`), so validation, routing to the
owning machine and the error shapes are those of the CLI and the mesh. Errors are
`{"error": {what, fix, kind}}` with a status from the error's kind (docs/http.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sesh_mesh import ids
from sesh_mesh.daemon.ops import OpTable, error_reply
from sesh_mesh.errors import NotImplementedYet, SeshError, UsageError
from sesh_mesh.web import message_stream, openapi, turns
from sesh_mesh.web.routes import ROUTES, HttpRoute, body_args, query_args
from sesh_mesh.web.token import authorized

log = logging.getLogger(__name__)

STATUS_OF_KIND = {
    "usage": 400, "unknown-session": 404, "not-found": 404, "ambiguous": 409, "failure": 409, "timeout": 504,
    "daemon-down": 503, "not-implemented": 501, "cancelled": 499, "unresolved": 409,
}  # fmt: skip

PING_S = float(os.environ.get("SESH_TEST_SSE_PING_S") or 15)
"""SSE keep-alive: a `ping` event this often, so proxies and clients keep a quiet stream open
(tests shorten it to see one during a turn)."""

MAX_BODY_BYTES = 4 * 1024 * 1024

CTX: dict[str, Any] = {"door": "http"}
"""The caller context of an HTTP request: no cwd, tmux or environment of its own (a launched agent
inherits the daemon's)."""

Handler = Callable[[Request, HttpRoute], Awaitable[Response]]


def error_response(exc: BaseException, where: str) -> JSONResponse:
    if not isinstance(exc, SeshError):
        # The op table's own rule: bad argument values are usage errors, anything else a daemon error.
        wire = error_reply(exc, where)
        return JSONResponse({"error": wire}, status_code=400 if wire["kind"] == "usage" else 500)
    return JSONResponse({"error": exc.to_wire()}, status_code=STATUS_OF_KIND.get(exc.kind, 409))


class BearerAuth:
    """Refuses (401) every request without the right `Authorization: Bearer <token>`, /mcp included."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            if not authorized(header, self.token):
                kind = "wrong" if header else "no"
                response = JSONResponse({"error": {"what": f"{kind} bearer token", "kind": "unauthorized",
                                                   "fix": "send Authorization: Bearer <token> "
                                                          "($SESH_HOME/http.token or [http] token)"}},
                                        status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HttpApi:
    def __init__(self, ops: OpTable) -> None:
        self.ops = ops

    async def run(self, op: str, args: dict[str, Any]) -> Any:
        return await self.ops.run(op, args, CTX)

    # ---- routes ------------------------------------------------------------------------------

    async def create_session(self, request: Request, route: HttpRoute) -> Response:
        args = body_args(route, await _body(request))
        result = await self.run("new", args)
        return JSONResponse(result, status_code=route.status)

    async def list_sessions(self, request: Request, route: HttpRoute) -> Response:
        params = dict(request.query_params)
        args = query_args(route, params, self._schema(route))
        records = await self.run("list", args)
        needle = params.get("q", "").lower()
        if needle:
            records = [r for r in records if needle in _haystack(r)]
        return JSONResponse(records)

    async def get_session(self, request: Request, route: HttpRoute) -> Response:
        return JSONResponse(await self.run("info", {"uuid": request.path_params["id"]}))

    async def update_session(self, request: Request, route: HttpRoute) -> Response:
        body = await _body(request)
        unknown = sorted(set(body) - set(route.extra_body))
        if unknown:
            raise UsageError(f"unknown field {unknown[0]!r} for PUT /sessions/{{id}}",
                             "use " + ", ".join(sorted(route.extra_body)))
        wanted = body.get("tags")
        if "tags" in body and (not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted)):
            raise UsageError("tags must be a list of strings", 'e.g. {"tags": ["work"]}')
        for key in ("archived", "autoRename"):
            if key in body:
                _boolean(body, key)
        record = await self.run("info", {"uuid": request.path_params["id"]})
        uuid = record["uuid"]

        async def mutate(mutation: str, mutation_args: dict[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = await self.run("mutate", {"uuid": uuid, "op": mutation, "args": mutation_args,
                                                               "key": ids.new_uuid()})
            return result

        if "name" in body:
            record = await mutate("rename", {"name": body["name"]})
        if isinstance(wanted, list):
            # Set the tags from the owner's own record (each mutate returns it), not from this
            # machine's replica, which may not have caught up with the owner's last write yet.
            record = await mutate("tag", {"tags": wanted}) if wanted else record
            for _ in range(2):
                extra = [t for t in record.get("tags") or [] if t not in wanted]
                if not extra:
                    break
                record = await mutate("untag", {"tags": extra})
        if "archived" in body:
            record = await mutate("archive" if body["archived"] else "unarchive", {})
        if "autoRename" in body:
            record = await mutate("autoname-toggle", {"value": body["autoRename"]})
        return JSONResponse(record)

    async def delete_session(self, request: Request, route: HttpRoute) -> Response:
        return JSONResponse(await self.run("mutate", {"uuid": request.path_params["id"], "op": "delete", "args": {},
                                                      "key": ids.new_uuid()}))

    async def send_message(self, request: Request, route: HttpRoute) -> Response:
        args = {"uuid": request.path_params["id"], **body_args(route, await _body(request))}
        result = await self.run("send", args)
        transcript = await self.run("transcript", {"uuid": result["uuid"]})
        return JSONResponse(turns.summary(result, turns.turn_of(transcript.get("entries") or [])))

    async def stream_message(self, request: Request, route: HttpRoute) -> Response:
        args = body_args(route, await _body(request))
        message = args.get("message")
        if not isinstance(message, str) or not message.strip():
            raise UsageError("message is empty", 'send {"message": "…"}')
        timeout = args.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
            raise UsageError("timeout must be a number of seconds", 'e.g. {"timeout": 600}')
        record = await self.run("info", {"uuid": request.path_params["id"]})  # 404/409 before the stream opens
        events = message_stream.stream_turn(self.ops, record["uuid"], message, timeout, CTX)
        return _sse(_guarded(events))

    async def transcript(self, request: Request, route: HttpRoute) -> Response:
        args = query_args(route, dict(request.query_params), self._schema(route))
        return JSONResponse(await self.run("transcript", {"uuid": request.path_params["id"], **args}))

    async def search(self, request: Request, route: HttpRoute) -> Response:
        args = query_args(route, dict(request.query_params), self._schema(route))
        if not args.get("query"):
            raise UsageError("search needs q", "GET /search?q=words")
        return JSONResponse(await self.run("search", args))

    async def events(self, request: Request, route: HttpRoute) -> Response:
        if self.ops.spec("events") is None:
            raise NotImplementedYet("GET /events: this daemon has no event stream", "update sesh")
        args = query_args(route, dict(request.query_params), self._schema(route))
        return _sse(_guarded(self._events(args)))

    async def _events(self, args: dict[str, Any]) -> AsyncIterator[turns.Event]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        follower = asyncio.ensure_future(self.ops.run("events", {**args, "follow": True}, CTX, queue.put))
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, follower}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    follower.result()
                    return
                item = getter.result()
                name = str(item.get("kind") or "event") if isinstance(item, dict) else "event"
                yield name, item if isinstance(item, dict) else {"value": item}
        finally:
            follower.cancel()

    async def openapi_doc(self, request: Request) -> Response:
        return JSONResponse(openapi.document(self.ops.schemas()))

    def _schema(self, route: HttpRoute) -> dict[str, Any]:
        schema: dict[str, Any] = self.ops.schemas().get(route.op, {}).get("args", {})
        return schema

    # ---- assembly ----------------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {
            "createSession": self.create_session, "listSessions": self.list_sessions, "getSession": self.get_session,
            "updateSession": self.update_session, "deleteSession": self.delete_session,
            "sendMessage": self.send_message, "streamMessage": self.stream_message,
            "getTranscript": self.transcript, "search": self.search, "events": self.events,
        }  # fmt: skip


def build_app(ops: OpTable, token: str, mcp_app: ASGIApp | None = None,
              lifespan: Callable[[Starlette], Any] | None = None) -> ASGIApp:
    api = HttpApi(ops)
    handlers = api.handlers()
    routes: list[Route | Mount] = [
        Route(route.path, _endpoint(handlers[route.name], route), methods=[route.method], name=route.name)
        for route in ROUTES
    ]
    routes.append(Route("/openapi.json", api.openapi_doc, methods=["GET"]))
    if mcp_app is not None:
        routes.append(Route("/mcp", mcp_app, methods=["GET", "POST", "DELETE"]))
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _not_allowed})
    return BearerAuth(app, token)


def _endpoint(handler: Handler, route: HttpRoute) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, route)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON error with its status
            return error_response(exc, f"{route.method} {route.path}")

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": {"what": f"no route {request.method} {request.url.path}", "kind": "not-found",
                                   "fix": "see GET /openapi.json"}}, status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": {"what": f"{request.method} is not allowed on {request.url.path}",
                                   "kind": "usage", "fix": "see GET /openapi.json"}}, status_code=405)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise UsageError(f"request body over {MAX_BODY_BYTES} bytes", "send less")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"request body is not JSON: {exc}", "send a JSON object") from None
    if not isinstance(body, dict):
        raise UsageError("request body must be a JSON object", 'e.g. {"message": "…"}')
    return body


def _boolean(body: dict[str, Any], key: str) -> bool:
    value = body[key]
    if not isinstance(value, bool):
        raise UsageError(f"{key} must be true or false", f'e.g. {{"{key}": true}}')
    return value


def _haystack(record: dict[str, Any]) -> str:
    return " ".join([str(record.get("uuid") or ""), str(record.get("name") or ""), str(record.get("cwd") or ""),
                     *[str(t) for t in record.get("tags") or []]]).lower()


async def _guarded(events: AsyncIterator[turns.Event]) -> AsyncIterator[turns.Event]:
    """A failure once the stream is open is an `error` event; `done` always comes last."""
    try:
        async for event in events:
            yield event
    except Exception as exc:
        wire = exc.to_wire() if isinstance(exc, SeshError) else {"what": repr(exc), "fix": "see daemon.log",
                                                                 "kind": "failure"}
        if not isinstance(exc, SeshError):
            log.error("http: stream failed", exc_info=exc)
        yield "error", {"type": "error", "error": wire}
        yield "done", {"type": "done", "error": wire}


def _sse(events: AsyncIterator[turns.Event]) -> EventSourceResponse:
    async def encoded() -> AsyncIterator[ServerSentEvent]:
        async for name, data in events:
            yield ServerSentEvent(data=json.dumps(data), event=name)

    return EventSourceResponse(encoded(), ping=PING_S,
                               ping_message_factory=lambda: ServerSentEvent(data='{"type": "ping"}', event="ping"))
