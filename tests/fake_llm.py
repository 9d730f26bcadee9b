"""Scriptable fake model server for driving the real claude, codex and pi CLIs offline.

Speaks Anthropic Messages (``POST …/messages``), OpenAI Responses (``POST …/responses``) and
OpenAI Chat Completions (``POST …/chat/completions``), each streamed as SSE or answered as one
JSON document, plus ``GET …/models``, ``HEAD`` and ``POST …/messages/count_tokens``.

The reply is scripted by the last real user text of the request (harness blocks such as
claude's ``<system-reminder>`` and codex's ``<environment_context>`` are ignored). Directives
may appear anywhere in it:

``SLEEP n``   stream the reply slowly over n seconds
``WAIT n``    send only keep-alives for n seconds before the reply
``HISTORY``   reply ``HISTORY: t1 | t2 | …`` with every user text in the request
``TOOL bash <cmd>``  call the request's shell tool with <cmd> (rest of the line); after the
              tool result arrives, reply ``TOOL RESULT: <output>``
``CALL <tool> <json>``  call the request's tool named <tool> (e.g. an MCP tool such as
              ``mcp__sesh__sesh_list``) with the JSON object as its arguments (``{}`` when
              omitted); after the tool result arrives, reply ``TOOL RESULT: <output>``
``FAIL``      answer HTTP 400 (no client retries it); ``FAIL 500`` answers HTTP 500
otherwise     reply ``ECHO: <text>``

Codex's thread-title request gets ``{"title":"Fake title"}``; compaction requests of all three
CLIs get a short ``SUMMARY: …``. Every request is logged in memory (and optionally as NDJSON)
with the wall-clock time its last reply byte was sent. Stdlib only; binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TextIO

HOST = "127.0.0.1"
KEEPALIVE_INTERVAL_S = 0.5
"""Keep-alive cadence during WAIT; claude's own client expects pings about this often."""
FAST_CHUNKS = 3
"""A directive-free reply still streams in a few deltas so clients exercise their delta path."""
MAX_SLEEP_CHUNKS = 40
TITLE_REPLY = '{"title":"Fake title"}'
TOOL_PREAMBLE = "Running the command."
MAX_TOOL_OUTPUT_CHARS = 2000
LOGGED_HEADER_PREFIXES = (
    "anthropic-",
    "x-",
    "openai-",
    "session-id",
    "originator",
    "user-agent",
    "content-",
    "authorization",
    "accept",
)

# A text that is one whole harness block (<environment_context>…</environment_context>,
# <turn_aborted>…, <command-name>…) is not something the user typed.
_HARNESS_BLOCK = re.compile(r"^\s*<([A-Za-z_][\w -]*)>.*</\1>\s*$", re.DOTALL)
_SYSTEM_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_HARNESS_PREFIXES = (
    "# AGENTS.md instructions",
    "<environment_context>",
    "<permissions instructions>",
    "<skills_instructions>",
    "<turn_aborted>",
    "<user_instructions>",
)
_COMPACT_PREFIXES = (
    "CRITICAL: Respond with TEXT ONLY",  # claude /compact
    "You are performing a CONTEXT CHECKPOINT COMPACTION",  # codex /compact
    "<conversation>",
)  # pi /compact

_SLEEP = re.compile(r"\bSLEEP\s+(\d+(?:\.\d+)?)")
_WAIT = re.compile(r"\bWAIT\s+(\d+(?:\.\d+)?)")
_HISTORY = re.compile(r"\bHISTORY\b")
_TOOL = re.compile(r"\bTOOL\s+bash\s+(.+)")
_FAIL = re.compile(r"\bFAIL(?:\s+(500))?\b")
_CALL = re.compile(r"\bCALL\s+([\w.-]+)(?:\s+(\{.*\}))?")


def time_factor() -> float:
    """Timeout multiplier from ``SESH_TEST_TIME_FACTOR`` (slow machines set it above 1)."""
    return float(os.environ.get("SESH_TEST_TIME_FACTOR", "1") or "1")


@dataclasses.dataclass(frozen=True)
class Directive:
    """What the last user text asks of the fake model."""

    sleep_s: float = 0.0
    wait_s: float = 0.0
    history: bool = False
    tool_cmd: str | None = None
    fail_status: int | None = None
    call: tuple[str, str] | None = None
    """CALL: the tool's name and its arguments as JSON text."""

    @classmethod
    def parse(cls, text: str) -> Directive:
        sleep, wait, tool, fail = _SLEEP.search(text), _WAIT.search(text), _TOOL.search(text), _FAIL.search(text)
        return cls(
            sleep_s=float(sleep.group(1)) if sleep else 0.0,
            wait_s=float(wait.group(1)) if wait else 0.0,
            history=bool(_HISTORY.search(text)),
            tool_cmd=tool.group(1).strip() if tool else None,
            fail_status=(500 if fail.group(1) else 400) if fail else None,
            call=(call.group(1), call.group(2) or "{}") if (call := _CALL.search(text)) else None,
        )


@dataclasses.dataclass(frozen=True)
class ShellTool:
    """The request's shell tool and how its arguments are shaped."""

    name: str
    arg: str  # "command" (claude Bash, pi bash) or "cmd" (codex exec_command)
    argv: bool = False  # the argument is an argv list rather than a string

    def arguments(self, cmd: str) -> dict[str, Any]:
        return {self.arg: ["bash", "-lc", cmd] if self.argv else cmd}


@dataclasses.dataclass(frozen=True)
class NamedTool:
    """A tool the CALL directive names, with the arguments it gives (any tool, not only a shell)."""

    name: str
    args: dict[str, Any]

    def arguments(self, cmd: str) -> dict[str, Any]:
        return self.args


@dataclasses.dataclass(frozen=True)
class Conversation:
    """The API-independent view of one request that the reply is planned from."""

    user_texts: list[str]
    tool_result: str | None  # output of a tool call answered after the last user text
    shell_tool: ShellTool | None
    is_title: bool = False
    tool_names: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class Plan:
    """The reply: optional text, optional shell-tool call, pacing, or an HTTP failure."""

    kind: str  # turn | tool_call | tool_result | history | title | compact | fail
    text: str
    directive: Directive
    tool: ShellTool | NamedTool | None = None
    tool_cmd: str = ""


@dataclasses.dataclass
class LoggedRequest:
    """One request the server saw; ``last_byte_at`` is set when its reply is fully sent."""

    seq: int
    method: str
    path: str
    query: str
    api: str  # anthropic | responses | chat | models | count_tokens | head | unknown
    headers: dict[str, str]
    body: Any
    started_at: float
    user_text: str | None = None
    user_texts: list[str] = dataclasses.field(default_factory=list)
    kind: str = "meta"
    directive: Directive = dataclasses.field(default_factory=Directive)
    reply_text: str = ""
    tool_call: dict[str, Any] | None = None
    status: int = 0
    stream: bool = False
    last_byte_at: float | None = None
    aborted: bool = False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)


# ---- request → Conversation, one function per API -------------------------------------------


def _clean_user_text(text: str) -> str | None:
    text = _SYSTEM_REMINDER.sub("", text).strip()
    if not text or text.startswith(_HARNESS_PREFIXES) or _HARNESS_BLOCK.match(text):
        return None
    return text


def _texts_of(content: Any, text_types: tuple[str, ...] = ("text", "input_text")) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") in text_types
        ]
    return []


def _find_shell_tool(names_to_params: dict[str, Any]) -> ShellTool | None:
    for name in ("Bash", "exec_command", "bash", "shell_command", "shell"):
        if name not in names_to_params:
            continue
        props = (names_to_params[name] or {}).get("properties", {})
        if "cmd" in props:
            return ShellTool(name, "cmd")
        argv = props.get("command", {}).get("type") == "array"
        return ShellTool(name, "command", argv)
    return None


def _assemble(events: list[tuple[str, str]], shell: ShellTool | None, is_title: bool = False,
              tool_names: frozenset[str] = frozenset()) -> Conversation:
    """events: ("user", text) and ("tool_result", output) in conversation order."""
    user_texts = [text for kind, text in events if kind == "user"]
    tool_result = None
    for kind, text in reversed(events):
        if kind == "user":
            break
        tool_result = text
    return Conversation(user_texts, tool_result, shell, is_title, tool_names)


def anthropic_conversation(body: dict[str, Any]) -> Conversation:
    events: list[tuple[str, str]] = []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        for block in blocks:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                events.append(("tool_result", "\n".join(_texts_of(block.get("content")))))
            elif block.get("type") == "text" and (text := _clean_user_text(str(block.get("text", "")))):
                events.append(("user", text))
    tools = {t.get("name", ""): t.get("input_schema") for t in body.get("tools", []) if isinstance(t, dict)}
    return _assemble(events, _find_shell_tool(tools), tool_names=frozenset(tools))


def responses_conversation(body: dict[str, Any]) -> Conversation:
    items = body.get("input", [])
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    events: list[tuple[str, str]] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") == "user":
            events += [("user", t) for raw in _texts_of(item.get("content")) if (t := _clean_user_text(raw))]
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            events.append(("tool_result", output if isinstance(output, str) else "\n".join(_texts_of(output))))
    tools = {t.get("name", ""): t.get("parameters") for t in body.get("tools", []) if isinstance(t, dict)}
    fmt = (body.get("text") or {}).get("format") or {}
    schema_props = (fmt.get("schema") or {}).get("properties") or {}
    is_title = fmt.get("type") == "json_schema" and "title" in schema_props and not tools
    return _assemble(events, _find_shell_tool(tools), is_title, frozenset(tools))


def chat_conversation(body: dict[str, Any]) -> Conversation:
    events: list[tuple[str, str]] = []
    for message in body.get("messages", []):
        role = message.get("role")
        if role == "user":
            events += [("user", t) for raw in _texts_of(message.get("content")) if (t := _clean_user_text(raw))]
        elif role == "tool":
            events.append(("tool_result", "\n".join(_texts_of(message.get("content")))))
    tools = {
        (t.get("function") or {}).get("name", ""): (t.get("function") or {}).get("parameters")
        for t in body.get("tools", [])
        if isinstance(t, dict)
    }
    return _assemble(events, _find_shell_tool(tools), tool_names=frozenset(tools))


def _tool_output_text(output: str) -> str:
    # codex wraps output as "Chunk ID: …\nWall time: …\nProcess exited with code 0\n…\nOutput:\n<out>".
    _, sep, tail = output.partition("\nOutput:\n")
    return (tail if sep else output).strip()[:MAX_TOOL_OUTPUT_CHARS]


def plan_reply(conv: Conversation) -> Plan:
    """Decide the reply from the conversation alone (pure, so unit tests can call it)."""
    last = conv.user_texts[-1] if conv.user_texts else ""
    if conv.is_title:
        return Plan("title", TITLE_REPLY, Directive())
    if last.startswith(_COMPACT_PREFIXES):
        earlier = [t for t in conv.user_texts if not t.startswith(_COMPACT_PREFIXES)]
        return Plan("compact", "SUMMARY: earlier user messages: " + " | ".join(earlier), Directive())
    directive = Directive.parse(last)
    if directive.fail_status is not None:
        return Plan("fail", "fake_llm: FAIL directive", directive)
    if directive.call is not None:
        name, raw_args = directive.call
        if conv.tool_result is not None:
            return Plan("tool_result", "TOOL RESULT: " + _tool_output_text(conv.tool_result), directive)
        if name not in conv.tool_names:
            return Plan("turn", f"TOOL ERROR: the request offers no tool {name}", directive)
        try:
            args = json.loads(raw_args)
        except ValueError:
            return Plan("turn", f"TOOL ERROR: CALL arguments are not JSON: {raw_args}", directive)
        return Plan("tool_call", TOOL_PREAMBLE, directive, NamedTool(name, args), "")
    if directive.tool_cmd is not None:
        if conv.tool_result is not None:
            return Plan("tool_result", "TOOL RESULT: " + _tool_output_text(conv.tool_result), directive)
        if conv.shell_tool is None:
            return Plan("turn", "TOOL ERROR: the request offers no shell tool", directive)
        return Plan("tool_call", TOOL_PREAMBLE, directive, conv.shell_tool, directive.tool_cmd)
    if directive.history:
        return Plan("history", "HISTORY: " + " | ".join(conv.user_texts), directive)
    return Plan("turn", f"ECHO: {last}", directive)


def _text_pieces(text: str, directive: Directive) -> Iterator[tuple[float, str]]:
    """(delay before, piece) pairs: a few quick pieces, or spread over SLEEP seconds."""
    words = re.findall(r"\S+\s*|\s+", text) or [""]
    count = min(len(words), MAX_SLEEP_CHUNKS if directive.sleep_s else FAST_CHUNKS)
    per = -(-len(words) // count)
    pieces = ["".join(words[i : i + per]) for i in range(0, len(words), per)]
    delay = directive.sleep_s / len(pieces) if directive.sleep_s else 0.0
    for piece in pieces:
        yield delay, piece


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _tokens(text_or_len: str | int) -> int:
    length = text_or_len if isinstance(text_or_len, int) else len(text_or_len)
    return max(1, length // 4)


class ClientGone(Exception):
    """The client closed the connection mid-reply (an agent's Escape abort)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces http.server's stderr lines

    # -- plumbing --------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = bytearray()
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                raw += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
        else:
            raw = bytearray(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
        if encoding not in ("", "identity"):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        return bytes(raw)

    def _send_json(self, status: int, doc: Any, entry: LoggedRequest) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", _new_id("req_"))
        self.end_headers()
        self.wfile.write(data)
        entry.status = status

    def _start_stream(self, entry: LoggedRequest) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", _new_id("req_"))
        self.end_headers()
        entry.status, entry.stream = 200, True

    def _chunk(self, data: bytes) -> None:
        if self.server.fake.stopping.is_set():
            raise ClientGone("server stopping")
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if data else b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise ClientGone(str(exc)) from exc

    def _event(self, name: str | None, data: Any) -> None:
        payload = data if isinstance(data, str) else json.dumps(data)
        self._chunk(((f"event: {name}\n" if name else "") + f"data: {payload}\n\n").encode())

    def _comment(self) -> None:
        self._chunk(b": keepalive\n\n")

    def _pause(self, seconds: float, keepalive: Callable[[], None]) -> None:
        """Wait ``seconds``, calling ``keepalive`` every KEEPALIVE_INTERVAL_S (detects aborts)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.server.fake.stopping.wait(min(left, KEEPALIVE_INTERVAL_S)):
                raise ClientGone("server stopping")
            keepalive()

    # -- routing ---------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        entry = self.server.fake.log_start(self, "head", None)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        entry.status = 200
        self.server.fake.log_done(entry)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        model_id = path.rsplit("/models/", 1)[1] if "/models/" in path else None
        entry = self.server.fake.log_start(self, "models" if path.endswith("/models") or model_id else "unknown", None)
        if model_id:
            self._send_json(200, _model_doc(model_id), entry)
        elif path.endswith("/models"):
            models = [_model_doc(m) for m in self.server.fake.model_ids]
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": models,
                    "models": models,
                    "has_more": False,
                    "first_id": models[0]["id"],
                    "last_id": models[-1]["id"],
                },
                entry,
            )
        else:
            self._send_json(404, {"error": {"type": "not_found_error", "message": f"no GET {path}"}}, entry)
        self.server.fake.log_done(entry)

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        api = (
            "count_tokens"
            if path.endswith("/messages/count_tokens")
            else "anthropic"
            if path.endswith("/messages")
            else "responses"
            if path.endswith("/responses")
            else "chat"
            if path.endswith("/chat/completions")
            else "unknown"
        )
        try:
            raw = self._read_body()
            body: Any = json.loads(raw or b"{}")
        except (ValueError, OSError, EOFError) as exc:  # bad gzip/JSON: answer 400, keep serving
            entry = self.server.fake.log_start(self, api, None)
            self._send_json(400, {"error": {"type": "invalid_request_error", "message": str(exc)}}, entry)
            self.server.fake.log_done(entry)
            return
        entry = self.server.fake.log_start(self, api, body)
        try:
            if api == "count_tokens":
                self._send_json(200, {"input_tokens": _tokens(len(raw))}, entry)
            elif api == "unknown" or not isinstance(body, dict):
                self._send_json(404, {"error": {"type": "not_found_error", "message": f"no POST {path}"}}, entry)
            else:
                self._answer(api, body, len(raw), entry)
        except ClientGone:
            entry.aborted = True
            self.close_connection = True
        finally:
            self.server.fake.log_done(entry)

    def _answer(self, api: str, body: dict[str, Any], raw_len: int, entry: LoggedRequest) -> None:
        conv = {"anthropic": anthropic_conversation, "responses": responses_conversation, "chat": chat_conversation}[
            api
        ](body)
        plan = plan_reply(conv)
        entry.user_texts = conv.user_texts
        entry.user_text = conv.user_texts[-1] if conv.user_texts else None
        entry.kind, entry.directive, entry.reply_text = plan.kind, plan.directive, plan.text
        if plan.tool is not None:
            entry.tool_call = {"name": plan.tool.name, "arguments": plan.tool.arguments(plan.tool_cmd)}
        if plan.directive.fail_status is not None:
            self._send_fail(api, plan.directive.fail_status, entry)
            return
        model = str(body.get("model") or "fake-model")
        usage = (_tokens(raw_len), _tokens(plan.text) + (8 if plan.tool else 0))
        if not body.get("stream"):
            self._send_json(200, _FINAL_DOCS[api](plan, model, usage), entry)
            return
        self._start_stream(entry)
        {"anthropic": self._stream_anthropic, "responses": self._stream_responses, "chat": self._stream_chat}[api](
            plan, model, usage
        )
        self._chunk(b"")

    def _send_fail(self, api: str, status: int, entry: LoggedRequest) -> None:
        message = f"fake_llm: FAIL directive (HTTP {status})"
        if api == "anthropic":
            err_type = "invalid_request_error" if status == 400 else "api_error"
            doc: dict[str, Any] = {"type": "error", "error": {"type": err_type, "message": message}}
        else:
            doc = {
                "error": {
                    "message": message,
                    "type": "invalid_request_error" if status == 400 else "server_error",
                    "param": None,
                    "code": "fake_fail",
                }
            }
        self._send_json(status, doc, entry)

    # -- SSE writers, one per API ----------------------------------------------------------

    def _stream_anthropic(self, plan: Plan, model: str, usage: tuple[int, int]) -> None:
        def ev(name: str, **fields: Any) -> None:
            self._event(name, {"type": name, **fields})

        ev(
            "message_start",
            message={
                "id": _new_id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": usage[0],
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        )
        self._pause(plan.directive.wait_s, lambda: ev("ping"))
        ev("content_block_start", index=0, content_block={"type": "text", "text": ""})
        ev("ping")
        for delay, piece in _text_pieces(plan.text, plan.directive):
            self._pause(delay, lambda: ev("ping"))
            ev("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
        ev("content_block_stop", index=0)
        if plan.tool is not None:
            ev(
                "content_block_start",
                index=1,
                content_block={"type": "tool_use", "id": _new_id("toolu_"), "name": plan.tool.name, "input": {}},
            )
            ev(
                "content_block_delta",
                index=1,
                delta={"type": "input_json_delta", "partial_json": json.dumps(plan.tool.arguments(plan.tool_cmd))},
            )
            ev("content_block_stop", index=1)
        ev(
            "message_delta",
            delta={"stop_reason": "tool_use" if plan.tool else "end_turn", "stop_sequence": None},
            usage={"output_tokens": usage[1]},
        )
        ev("message_stop")

    def _stream_responses(self, plan: Plan, model: str, usage: tuple[int, int]) -> None:
        seq = iter(range(1_000_000))

        def ev(name: str, **fields: Any) -> None:
            self._event(name, {"type": name, "sequence_number": next(seq), **fields})

        response = _responses_doc(plan, model, usage, status="in_progress")
        final_output = response.pop("output")
        ev("response.created", response={**response, "output": []})
        ev("response.in_progress", response={**response, "output": []})
        self._pause(plan.directive.wait_s, self._comment)
        message = final_output[0]
        msg_id, part = message["id"], {"type": "output_text", "text": "", "annotations": []}
        ev("response.output_item.added", output_index=0, item={**message, "status": "in_progress", "content": []})
        ev("response.content_part.added", item_id=msg_id, output_index=0, content_index=0, part=part)
        for delay, piece in _text_pieces(plan.text, plan.directive):
            self._pause(delay, self._comment)
            ev("response.output_text.delta", item_id=msg_id, output_index=0, content_index=0, delta=piece, logprobs=[])
        ev("response.output_text.done", item_id=msg_id, output_index=0, content_index=0, text=plan.text, logprobs=[])
        ev(
            "response.content_part.done",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            part={**part, "text": plan.text},
        )
        ev("response.output_item.done", output_index=0, item=message)
        if plan.tool is not None:
            call = final_output[1]
            ev("response.output_item.added", output_index=1, item={**call, "status": "in_progress", "arguments": ""})
            ev("response.function_call_arguments.delta", item_id=call["id"], output_index=1, delta=call["arguments"])
            ev("response.function_call_arguments.done", item_id=call["id"], output_index=1, arguments=call["arguments"])
            ev("response.output_item.done", output_index=1, item=call)
        ev("response.completed", response={**response, "status": "completed", "output": final_output})

    def _stream_chat(self, plan: Plan, model: str, usage: tuple[int, int]) -> None:
        base = {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            self._event(None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        chunk({"role": "assistant", "content": ""})
        self._pause(plan.directive.wait_s, self._comment)
        for delay, piece in _text_pieces(plan.text, plan.directive):
            self._pause(delay, self._comment)
            chunk({"content": piece})
        if plan.tool is not None:
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": _new_id("call_"),
                            "type": "function",
                            "function": {
                                "name": plan.tool.name,
                                "arguments": json.dumps(plan.tool.arguments(plan.tool_cmd)),
                            },
                        }
                    ]
                }
            )
        chunk({}, "tool_calls" if plan.tool else "stop")
        self._event(
            None,
            {
                **base,
                "choices": [],
                "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
            },
        )
        self._event(None, "[DONE]")


# ---- whole-document replies (stream:false) and shared shapes --------------------------------


def _model_doc(model_id: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "type": "model",
        "display_name": model_id,
        "created": 1_700_000_000,
        "created_at": "2023-11-14T22:13:20Z",
        "owned_by": "fake_llm",
    }


def _anthropic_doc(plan: Plan, model: str, usage: tuple[int, int]) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": plan.text}]
    if plan.tool is not None:
        content.append(
            {
                "type": "tool_use",
                "id": _new_id("toolu_"),
                "name": plan.tool.name,
                "input": plan.tool.arguments(plan.tool_cmd),
            }
        )
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if plan.tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def _responses_doc(plan: Plan, model: str, usage: tuple[int, int], status: str = "completed") -> dict[str, Any]:
    output: list[dict[str, Any]] = [
        {
            "id": _new_id("msg_"),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": plan.text, "annotations": []}],
        }
    ]
    if plan.tool is not None:
        output.append(
            {
                "id": _new_id("fc_"),
                "type": "function_call",
                "status": "completed",
                "call_id": _new_id("call_"),
                "name": plan.tool.name,
                "arguments": json.dumps(plan.tool.arguments(plan.tool_cmd)),
            }
        )
    return {
        "id": _new_id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": status,
        "output": output,
        "usage": {
            "input_tokens": usage[0],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": usage[1],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": sum(usage),
        },
    }


def _chat_doc(plan: Plan, model: str, usage: tuple[int, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": plan.text}
    if plan.tool is not None:
        message["tool_calls"] = [
            {
                "id": _new_id("call_"),
                "type": "function",
                "function": {"name": plan.tool.name, "arguments": json.dumps(plan.tool.arguments(plan.tool_cmd))},
            }
        ]
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if plan.tool else "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


_FINAL_DOCS: dict[str, Callable[[Plan, str, tuple[int, int]], dict[str, Any]]] = {
    "anthropic": _anthropic_doc,
    "responses": _responses_doc,
    "chat": _chat_doc,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLM

    def process_request(self, request: Any, client_address: Any) -> None:
        self.fake.track(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.fake.untrack(request)
        super().shutdown_request(request)


class FakeLLM:
    """The fake model server: ``start()``, ``url``, ``requests()``, ``wait_for_request()``, ``stop()``."""

    def __init__(
        self,
        port: int = 0,
        log_path: Path | None = None,
        model_ids: tuple[str, ...] = ("fake-model", "claude-opus-5-5", "claude-sonnet-5-5"),
    ) -> None:
        self.port = port
        self.log_path = log_path
        self.model_ids = model_ids
        self.stopping = threading.Event()
        self._cond = threading.Condition()
        self._log: list[LoggedRequest] = []
        self._log_file: TextIO | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL without a path, e.g. ``http://127.0.0.1:41234`` (append ``/v1`` for OpenAI clients)."""
        if self._server is None:
            raise RuntimeError("FakeLLM is not started")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._server = _Server((HOST, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        if self.log_path is not None:
            self._log_file = self.log_path.open("a", encoding="utf-8")
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"fake-llm:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections; safe to call twice."""
        self.stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._cond:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def requests(self) -> list[LoggedRequest]:
        """A snapshot of the request log, oldest first (later updates do not change it)."""
        with self._cond:
            return [dataclasses.replace(entry) for entry in self._log]

    def wait_for_request(
        self, pred: Callable[[LoggedRequest], bool], timeout: float = 10.0, finished: bool = False
    ) -> LoggedRequest:
        """The first logged request matching ``pred`` (with its reply fully sent if ``finished``).

        ``timeout`` is scaled by SESH_TEST_TIME_FACTOR; raises TimeoutError naming the log.
        """
        deadline = time.monotonic() + timeout * time_factor()
        with self._cond:
            while True:
                for entry in self._log:
                    if (not finished or entry.last_byte_at is not None) and pred(entry):
                        return dataclasses.replace(entry)
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(e.api, e.kind, (e.user_text or "")[:60]) for e in self._log]
                    raise TimeoutError(f"no matching request within {timeout}s; saw {seen}")
                self._cond.wait(left)

    # -- used by the handler ---------------------------------------------------------------

    def track(self, conn: socket.socket) -> None:
        with self._cond:
            self._conns.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._cond:
            self._conns.discard(conn)

    def log_start(self, handler: BaseHTTPRequestHandler, api: str, body: Any) -> LoggedRequest:
        path, _, query = handler.path.partition("?")
        headers = {k.lower(): v for k, v in handler.headers.items() if k.lower().startswith(LOGGED_HEADER_PREFIXES)}
        with self._cond:
            entry = LoggedRequest(len(self._log), handler.command, path, query, api, headers, body, time.time())
            self._log.append(entry)
            self._cond.notify_all()
        return entry

    def log_done(self, entry: LoggedRequest) -> None:
        with self._cond:
            entry.last_byte_at = time.time()
            self._cond.notify_all()
            if self._log_file is not None:
                self._log_file.write(entry.to_json() + "\n")
                self._log_file.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake model server for claude/codex/pi (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 picks a free one)")
    parser.add_argument("--log", type=Path, help="append one NDJSON line per request to this file")
    args = parser.parse_args(argv)
    fake = FakeLLM(args.port, args.log).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # The URL line is the readiness signal for scripts that start us with --port 0.
    print(f"fake_llm listening on {fake.url}", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
