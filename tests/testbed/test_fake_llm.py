"""The fake model server over real HTTP: wire shapes of all three APIs, directives, the log."""

from __future__ import annotations

import gzip
import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_llm import FakeLLM

REPO = Path(__file__).resolve().parents[2]
Event = tuple[str | None, str]


@pytest.fixture
def llm(tmp_path: Path) -> Iterator[FakeLLM]:
    with FakeLLM(log_path=tmp_path / "llm.ndjson") as server:
        yield server


def _request(url: str, body: Any = None, method: str = "POST", gzipped: bool = False) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if gzipped and data is not None:
        data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _timed_events(url: str, body: Any) -> list[tuple[float, Event]]:
    """POST and parse the SSE reply incrementally, stamping each event (comments too)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    started = time.monotonic()
    events: list[tuple[float, Event]] = []
    name: str | None = None
    data: list[str] = []
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        for raw in resp:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                events.append((time.monotonic() - started, (":", line)))
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and data:
                events.append((time.monotonic() - started, (name, "\n".join(data))))
                name, data = None, []
    return events


def _events(url: str, body: Any) -> list[Event]:
    return [event for _, event in _timed_events(url, body) if event[0] != ":"]


# ---- request builders, one per API, in the shapes the real CLIs send --------------------


def anthropic_body(*turns: Any, tools: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if isinstance(turn, tuple):  # (tool command, tool output): the assistant call and the result
            messages += [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                                                   "input": {"command": turn[0]}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": turn[1]}]},
            ]  # fmt: skip
        else:
            reminder = {"type": "text", "text": "<system-reminder>\nharness note\n</system-reminder>"}
            messages.append({"role": "user", "content": [reminder, {"type": "text", "text": turn}]})
            messages.append({"role": "assistant", "content": [{"type": "text", "text": "ok"}]})
    messages.pop() if messages[-1]["role"] == "assistant" else None
    body: dict[str, Any] = {"model": "claude-opus-5-5", "stream": True, "messages": messages}
    if tools:
        body["tools"] = [{"name": "Read", "input_schema": {"properties": {"file_path": {"type": "string"}}}},
                         {"name": "Bash", "input_schema": {"properties": {"command": {"type": "string"}}}}]  # fmt: skip
    return body


def responses_body(*turns: Any, tools: bool = True) -> dict[str, Any]:
    env_item = "<environment_context>\n  <cwd>/x</cwd>\n</environment_context>"
    items: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": env_item}]}]  # fmt: skip
    for turn in turns:
        if isinstance(turn, tuple):
            items += [
                {"type": "function_call", "name": "exec_command", "call_id": "c1",
                 "arguments": json.dumps({"cmd": turn[0]})},
                {"type": "function_call_output", "call_id": "c1",
                 "output": f"Chunk ID: ab\nWall time: 0.0 seconds\nProcess exited with code 0\nOutput:\n{turn[1]}\n"},
            ]  # fmt: skip
        else:
            items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": turn}]})
    body: dict[str, Any] = {"model": "fake-model", "stream": True, "input": items}
    if tools:
        body["tools"] = [{"type": "function", "name": "exec_command",
                          "parameters": {"properties": {"cmd": {"type": "string"}}}}]  # fmt: skip
    return body


def chat_body(*turns: Any, tools: bool = True) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are pi."}]
    for turn in turns:
        if isinstance(turn, tuple):
            messages += [
                {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "bash", "arguments": json.dumps({"command": turn[0]})}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": turn[1]},
            ]  # fmt: skip
        else:
            messages.append({"role": "user", "content": [{"type": "text", "text": turn}]})
    body: dict[str, Any] = {"model": "fake-model", "stream": True, "messages": messages}
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": "bash",
                          "parameters": {"properties": {"command": {"type": "string"}}}}}]  # fmt: skip
    return body


def anthropic_text(events: list[Event]) -> str:
    return "".join(json.loads(data)["delta"].get("text", "") for name, data in events if name == "content_block_delta")


def responses_text(events: list[Event]) -> str:
    return "".join(json.loads(data)["delta"] for name, data in events if name == "response.output_text.delta")


def chat_text(events: list[Event]) -> str:
    chunks = [json.loads(data) for _, data in events if data != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


API_CASES: dict[str, tuple[str, Callable[..., dict[str, Any]], Callable[[list[Event]], str]]] = {
    "anthropic": ("/v1/messages?beta=true", anthropic_body, anthropic_text),
    "responses": ("/v1/responses", responses_body, responses_text),
    "chat": ("/v1/chat/completions", chat_body, chat_text),
}


# ---- wire shapes ------------------------------------------------------------------------


def test_anthropic_stream_shape_and_echo(llm: FakeLLM) -> None:
    events = _events(llm.url + "/v1/messages?beta=true", anthropic_body("hello there"))
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    start = json.loads(events[0][1])["message"]
    assert start["role"] == "assistant" and start["content"] == [] and start["usage"]["input_tokens"] > 0
    delta = json.loads(events[-2][1])
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] > 0
    assert all(json.loads(data)["type"] == name for name, data in events)
    assert anthropic_text(events) == "ECHO: hello there"


def test_responses_stream_shape_and_echo(llm: FakeLLM) -> None:
    events = _events(llm.url + "/v1/responses", responses_body("hello codex"))
    names = [name for name, _ in events]
    assert names[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]  # fmt: skip
    assert names[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]  # fmt: skip
    assert set(names[4:-4]) == {"response.output_text.delta"}
    datas = [json.loads(data) for _, data in events]
    assert [d["sequence_number"] for d in datas] == list(range(len(datas)))
    assert datas[0]["response"]["status"] == "in_progress"
    done = datas[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == "ECHO: hello codex"
    assert done["usage"]["input_tokens"] > 0 and done["usage"]["total_tokens"] > done["usage"]["input_tokens"]
    assert responses_text(events) == "ECHO: hello codex"


def test_chat_stream_shape_and_echo(llm: FakeLLM) -> None:
    events = _events(llm.url + "/v1/chat/completions", chat_body("hello pi"))
    assert all(name is None for name, _ in events)
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] > 0
    assert chat_text(events) == "ECHO: hello pi"


@pytest.mark.parametrize("api", list(API_CASES))
def test_non_streaming_reply(llm: FakeLLM, api: str) -> None:
    path, build, _ = API_CASES[api]
    body = build("plain call")
    body["stream"] = False
    status, raw = _request(llm.url + path, body)
    doc = json.loads(raw)
    assert status == 200
    text = {"anthropic": lambda: doc["content"][0]["text"],
            "responses": lambda: doc["output"][0]["content"][0]["text"],
            "chat": lambda: doc["choices"][0]["message"]["content"]}[api]()  # fmt: skip
    assert text == "ECHO: plain call"


# ---- directives -------------------------------------------------------------------------


@pytest.mark.parametrize("api", list(API_CASES))
def test_history_lists_every_user_text_and_skips_harness_text(llm: FakeLLM, api: str) -> None:
    path, build, text_of = API_CASES[api]
    events = _events(llm.url + path, build("first", "second", "show HISTORY"))
    assert text_of(events) == "HISTORY: first | second | show HISTORY"


@pytest.mark.parametrize(
    ("api", "tool_name", "args"),
    [("anthropic", "Bash", {"command": "echo hi"}), ("responses", "exec_command", {"cmd": "echo hi"}),
     ("chat", "bash", {"command": "echo hi"})],
)  # fmt: skip
def test_tool_directive_calls_the_shell_tool_then_reports_its_output(
    llm: FakeLLM, api: str, tool_name: str, args: dict[str, str]
) -> None:
    path, build, text_of = API_CASES[api]
    first = _events(llm.url + path, build("TOOL bash echo hi"))
    assert text_of(first) == "Running the command."
    if api == "anthropic":
        start = next(json.loads(d) for n, d in first if n == "content_block_start" and "tool_use" in d)
        assert start["content_block"]["name"] == tool_name
        partial = next(json.loads(d) for n, d in first if n == "content_block_delta" and "input_json" in d)
        assert json.loads(partial["delta"]["partial_json"]) == args
        assert json.loads(next(d for n, d in first if n == "message_delta"))["delta"]["stop_reason"] == "tool_use"
    elif api == "responses":
        call = json.loads(first[-1][1])["response"]["output"][1]
        assert (call["type"], call["name"], json.loads(call["arguments"])) == ("function_call", tool_name, args)
    else:
        chunks = [json.loads(d) for _, d in first if d != "[DONE]"]
        call = next(c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if c["choices"] and
                    "tool_calls" in c["choices"][0]["delta"])  # fmt: skip
        assert call["function"]["name"] == tool_name and json.loads(call["function"]["arguments"]) == args
        assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    second = _events(llm.url + path, build("TOOL bash echo hi", ("echo hi", "hi-output")))
    assert text_of(second) == "TOOL RESULT: hi-output"
    kinds = [r.kind for r in llm.requests()]
    assert kinds == ["tool_call", "tool_result"]


def test_tool_without_a_shell_tool_says_so(llm: FakeLLM) -> None:
    events = _events(llm.url + "/v1/chat/completions", chat_body("TOOL bash ls", tools=False))
    assert chat_text(events) == "TOOL ERROR: the request offers no shell tool"


def test_sleep_spreads_the_reply_over_the_given_seconds(llm: FakeLLM) -> None:
    timed = _timed_events(llm.url + "/v1/messages", anthropic_body("slow SLEEP 1"))
    deltas = [t for t, (name, _) in timed if name == "content_block_delta"]
    assert len(deltas) >= 3
    assert deltas[0] < 0.5 and 0.8 <= deltas[-1] < 3.0


@pytest.mark.parametrize("api", list(API_CASES))
def test_wait_sends_only_keepalives_before_the_text(llm: FakeLLM, api: str) -> None:
    path, build, _ = API_CASES[api]
    timed = _timed_events(llm.url + path, build("think WAIT 1"))
    text_events = {"anthropic": "content_block_delta", "responses": "response.output_text.delta"}
    first_text = next(
        t for t, (name, data) in timed
        if name == text_events.get(api, "chat") or (api == "chat" and '"content": "ECHO' in data)
    )  # fmt: skip
    keepalives = [t for t, (name, _) in timed if name in ("ping", ":") and t < first_text]
    assert 0.9 <= first_text < 3.0
    assert len(keepalives) >= 2


@pytest.mark.parametrize(("text", "status"), [("please FAIL now", 400), ("FAIL 500", 500)])
@pytest.mark.parametrize("api", list(API_CASES))
def test_fail_answers_an_http_error(llm: FakeLLM, api: str, text: str, status: int) -> None:
    path, build, _ = API_CASES[api]
    got, raw = _request(llm.url + path, build(text))
    assert got == status
    doc = json.loads(raw)
    message = doc["error"]["message"]
    assert message == f"fake_llm: FAIL directive (HTTP {status})"
    assert llm.requests()[-1].kind == "fail"


def test_codex_title_request_gets_a_schema_shaped_title(llm: FakeLLM) -> None:
    body = responses_body("Generate a concise, single-line task title ... User prompt:\nhello", tools=False)
    body["text"] = {"format": {"type": "json_schema", "name": "title", "strict": True,
                               "schema": {"type": "object", "properties": {"title": {"type": "string"}}}}}  # fmt: skip
    events = _events(llm.url + "/v1/responses", body)
    assert json.loads(responses_text(events)) == {"title": "Fake title"}
    assert llm.requests()[-1].kind == "title"


@pytest.mark.parametrize(
    ("api", "prompt"),
    [("anthropic", "CRITICAL: Respond with TEXT ONLY. Do NOT call any tools."),
     ("responses", "You are performing a CONTEXT CHECKPOINT COMPACTION. Create a handoff summary"),
     ("chat", "<conversation>\n[User]: first\n</conversation>\n\nThe messages above are a conversation")],
)  # fmt: skip
def test_compaction_requests_get_a_short_summary(llm: FakeLLM, api: str, prompt: str) -> None:
    path, build, text_of = API_CASES[api]
    assert text_of(_events(llm.url + path, build("first", prompt))) == "SUMMARY: earlier user messages: first"


# ---- side endpoints ---------------------------------------------------------------------


def test_models_head_count_tokens_and_gzip_bodies(llm: FakeLLM) -> None:
    status, raw = _request(llm.url + "/v1/models", method="GET")
    assert status == 200 and "fake-model" in [m["id"] for m in json.loads(raw)["data"]]
    status, raw = _request(llm.url + "/v1/models/claude-opus-5-5", method="GET")
    assert status == 200 and json.loads(raw)["id"] == "claude-opus-5-5"
    assert _request(llm.url + "/", method="HEAD") == (200, b"")
    status, raw = _request(llm.url + "/v1/messages/count_tokens?beta=true", anthropic_body("count me"))
    assert status == 200 and json.loads(raw)["input_tokens"] > 0
    status, raw = _request(llm.url + "/v1/chat/completions", chat_body("zipped") | {"stream": False}, gzipped=True)
    assert status == 200 and json.loads(raw)["choices"][0]["message"]["content"] == "ECHO: zipped"
    assert _request(llm.url + "/v1/nothing", {})[0] == 404


# ---- the request log ---------------------------------------------------------------------


def test_request_log_records_what_was_sent_and_when_the_reply_ended(llm: FakeLLM, tmp_path: Path) -> None:
    assert llm.url.startswith("http://127.0.0.1:")
    before = time.time()
    _events(llm.url + "/v1/messages?beta=true", anthropic_body("log me SLEEP 0.3"))
    entry = llm.wait_for_request(lambda r: r.user_text == "log me SLEEP 0.3", timeout=5, finished=True)
    assert (entry.method, entry.path, entry.query, entry.api) == ("POST", "/v1/messages", "beta=true", "anthropic")
    assert entry.kind == "turn" and entry.directive.sleep_s == 0.3 and entry.reply_text == "ECHO: log me SLEEP 0.3"
    assert entry.headers["content-type"] == "application/json" and entry.body["model"] == "claude-opus-5-5"
    assert entry.status == 200 and entry.stream and not entry.aborted
    assert entry.last_byte_at is not None and before <= entry.started_at <= entry.last_byte_at - 0.25
    lines = [json.loads(line) for line in (tmp_path / "llm.ndjson").read_text().splitlines()]
    assert lines[-1]["user_text"] == "log me SLEEP 0.3" and lines[-1]["last_byte_at"] == entry.last_byte_at
    with pytest.raises(TimeoutError, match="no matching request"):
        llm.wait_for_request(lambda r: r.user_text == "never sent", timeout=0.2)


def test_a_client_that_hangs_up_mid_reply_is_logged_as_aborted(llm: FakeLLM) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", llm.port, timeout=5)
    conn.request("POST", "/v1/messages", json.dumps(anthropic_body("abort me WAIT 5")))
    resp = conn.getresponse()
    assert resp.status == 200
    resp.fp.readline()
    conn.sock.close() if conn.sock else None
    resp.close()
    entry = llm.wait_for_request(lambda r: r.user_text == "abort me WAIT 5", timeout=4, finished=True)
    assert entry.aborted and entry.last_byte_at is not None and entry.last_byte_at - entry.started_at < 3


def test_runs_as_a_foreground_script(tmp_path: Path) -> None:
    log = tmp_path / "script.ndjson"
    with subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fake_llm.py"), "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("fake_llm listening on http://127.0.0.1:")
            url = line.split()[-1]
            _, raw = _request(url + "/v1/chat/completions", chat_body("from script") | {"stream": False})
            assert json.loads(raw)["choices"][0]["message"]["content"] == "ECHO: from script"
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
    assert json.loads(log.read_text().splitlines()[0])["user_text"] == "from script"
