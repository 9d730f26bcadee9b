"""The HTTP API against two real linked daemons, with a real HTTP client: every route that needs
no agent turn (those are in tests/agents_e2e/test_http_agents.py), auth, errors and their status
codes, a session owned by the other machine changed through this machine's API, /events over a
real SSE client, and the OpenAPI document checked by openapi-spec-validator."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from openapi_spec_validator import validate

from tests.harness import Daemon, free_port, uid
from tests.mesh.helpers import link, mesh_daemon, register, running, wait_converged, wait_linked
from tests.polling import eventually
from tests.web.helpers import client, enable_http, sse_events, token_of

BEEF = "beef0000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Daemon, Daemon, str, str]]:
    alpha, beta = mesh_daemon("alpha"), mesh_daemon("beta")
    alpha_url, beta_url = enable_http(alpha), enable_http(beta, token="beta-configured-token-0123456789")
    link(alpha, beta)
    with running(alpha, beta):
        wait_linked(alpha, "beta")
        register(alpha, uid(1), name="alpha-one", tags=["red"])
        register(alpha, uid(2), name="alpha-two")
        register(beta, uid(3), name="beta-three", tags=["blue"])
        register(beta, BEEF, name="beef")
        wait_converged(alpha, beta)
        yield alpha, beta, alpha_url, beta_url


@pytest.fixture()
def api(pair: tuple[Daemon, Daemon, str, str]) -> Iterator[httpx2.Client]:
    alpha, _, url, _ = pair
    with client(url, token_of(alpha)) as http:
        yield http


def error_of(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"what", "fix", "kind"}, body
    return body["error"]  # type: ignore[no-any-return]


def test_auth_is_required_on_every_route(pair: tuple[Daemon, Daemon, str, str]) -> None:
    alpha, beta, alpha_url, beta_url = pair
    token_file = alpha.home / "http.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert not (beta.home / "http.token").exists()  # beta's token is configured, none generated
    for token in (None, "wrong", token_of(alpha) + "x"):
        with client(alpha_url, token) as http:
            for method, path in (("GET", "/sessions"), ("GET", f"/sessions/{uid(1)}"), ("POST", "/sessions"),
                                 ("GET", "/openapi.json"), ("GET", "/events"), ("POST", "/mcp"),
                                 ("DELETE", f"/sessions/{uid(1)}"), ("GET", "/search?q=x")):
                response = http.request(method, path)
                assert response.status_code == 401, (token, method, path, response.text)
                assert error_of(response)["kind"] == "unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"
    with client(beta_url, token_of(alpha)) as http:
        assert http.get("/sessions").status_code == 401  # alpha's token is not beta's
    with client(beta_url, "beta-configured-token-0123456789") as http:
        assert http.get("/sessions").status_code == 200
    assert alpha.records()[uid(1)]["name"] == "alpha-one"  # nothing changed by the refused DELETE


def test_list_get_filters_and_prefix(api: httpx2.Client) -> None:
    listed = api.get("/sessions")
    assert listed.status_code == 200
    assert {r["uuid"] for r in listed.json()} >= {uid(1), uid(2), uid(3)}
    assert {r["uuid"] for r in api.get("/sessions", params={"machine": "beta"}).json()} == {uid(3), BEEF}
    assert [r["uuid"] for r in api.get("/sessions", params={"tag": "red"}).json()] == [uid(1)]
    assert [r["uuid"] for r in api.get("/sessions", params={"q": "TWO"}).json()] == [uid(2)]
    assert api.get("/sessions", params={"agent": "codex"}).json() == []
    one = api.get(f"/sessions/{uid(3)}")
    assert one.status_code == 200 and one.json()["machine"] == "beta" and one.json()["name"] == "beta-three"
    assert api.get("/sessions/beef").json()["uuid"] == BEEF  # a prefix, of a session beta owns
    # a prefix shared by every seeded session is ambiguous: 409, naming the candidates
    ambiguous = api.get("/sessions/00000000")
    assert ambiguous.status_code == 409 and error_of(ambiguous)["kind"] == "ambiguous"
    missing = api.get("/sessions/ffffffff")
    assert missing.status_code == 404 and error_of(missing)["kind"] == "unknown-session"


def test_bad_requests_are_400_and_change_nothing(api: httpx2.Client, pair: tuple[Daemon, Daemon, str, str]) -> None:
    alpha = pair[0]
    before = alpha.records()
    cases = [
        api.get("/sessions", params={"archived": "maybe"}),
        api.get("/sessions", params={"colour": "red"}),
        api.post("/sessions", content=b"{not json"),
        api.post("/sessions", json=["a list"]),
        api.post("/sessions", json={"agent": "claude", "colour": "red"}),
        api.post("/sessions", json={"agent": "nope", "work_dir": "/tmp"}),
        api.post("/sessions", json={"agent": "claude", "work_dir": "/tmp", "cwd": "/var"}),
        api.put(f"/sessions/{uid(1)}", json={"archived": "yes"}),
        api.put(f"/sessions/{uid(1)}", json={"owner": "me"}),
        api.post(f"/sessions/{uid(1)}/message", json={"message": "   "}),
        api.post(f"/sessions/{uid(1)}/message/stream", json={"message": ""}),
        api.get("/search"),
        api.get(f"/sessions/{uid(1)}/transcript", params={"n": "ten"}),
    ]
    for response in cases:
        assert response.status_code == 400, (response.request.url, response.text)
        error = error_of(response)
        assert error["kind"] == "usage" and error["what"] and error["fix"], error
    assert alpha.records() == before
    unknown = api.get("/nowhere")
    assert unknown.status_code == 404 and error_of(unknown)["kind"] == "not-found"
    assert api.patch("/sessions").status_code == 405


def test_put_and_delete_a_session_of_the_other_machine(api: httpx2.Client,
                                                        pair: tuple[Daemon, Daemon, str, str]) -> None:
    """beta owns uid(3): alpha's API forwards each mutation to beta, which writes it."""
    alpha, beta = pair[0], pair[1]
    changed = api.put(f"/sessions/{uid(3)}", json={"name": "renamed-by-http", "tags": ["green", "blue"],
                                                        "archived": True, "autoRename": True})
    assert changed.status_code == 200, changed.text
    record = beta.records()[uid(3)]
    assert record["name"] == "renamed-by-http" and sorted(record["tags"]) == ["blue", "green"]
    assert record["archived"] is True and record["autoRename"] is True
    assert changed.json()["uuid"] == uid(3)
    back = api.put(f"/sessions/{uid(3)}", json={"archived": False, "tags": []})
    assert back.status_code == 200 and beta.records()[uid(3)]["tags"] == []
    register(beta, uid(4), name="doomed")
    eventually(lambda: uid(4) in alpha.records(), 20, what="uid(4) replicated to alpha")
    deleted = api.delete(f"/sessions/{uid(4)}")
    assert deleted.status_code == 200, deleted.text
    assert beta.records().get(uid(4)) is None

    def gone_on_alpha() -> bool:
        response = api.get(f"/sessions/{uid(4)}")
        return response.status_code == 404 or bool(response.json().get("deleted"))

    eventually(gone_on_alpha, 20, what="the deletion replicated to alpha")


def test_transcript_and_search(api: httpx2.Client) -> None:
    # uid(1) was registered without a transcript on disk: the op's own error, as 409
    none = api.get(f"/sessions/{uid(1)}/transcript")
    assert none.status_code == 409 and "no transcript" in error_of(none)["what"]
    found = api.get("/search", params={"q": "nothing-matches-this", "limit": "5"})
    assert found.status_code == 200, found.text
    assert isinstance(found.json(), (list, dict))


def test_events_stream_over_sse(pair: tuple[Daemon, Daemon, str, str]) -> None:
    alpha, beta, alpha_url, _ = pair
    seen: list[tuple[str, dict[str, Any]]] = []
    ready = threading.Event()

    def read() -> None:
        with client(alpha_url, token_of(alpha)) as http:
            for name, data in sse_events(http, "GET", "/events", params={"n": "50", "kinds": "session-created"}):
                ready.set()
                seen.append((name, data))
                if name == "session-created" and data.get("uuid") == uid(5):
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # The backlog (the sessions the fixture registered) arrives first: then the stream is open.
    assert ready.wait(20), "no backlog event on /events"
    assert seen[0][0] == "session-created" and seen[0][1]["uuid"]
    register(beta, uid(5), name="evented")  # created on beta: alpha hears of it by replication
    reader.join(timeout=30)
    assert not reader.is_alive(), seen
    name, data = seen[-1]
    assert name == "session-created" and data["machine"] == "beta" and data["name"] == "evented", seen


def test_openapi_document_is_valid_and_follows_the_op_table(api: httpx2.Client) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    validate(doc)
    paths = doc["paths"]
    assert set(paths) >= {"/sessions", "/sessions/{id}", "/sessions/{id}/message", "/sessions/{id}/message/stream",
                          "/sessions/{id}/transcript", "/search", "/events", "/openapi.json"}
    create = paths["/sessions"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["properties"]
    # the body fields carry the `new` op's own argument schemas (description included)
    assert body["message"]["description"] == "The first message." and create["x-sesh-op"] == "new"
    listing = {p["name"]: p for p in paths["/sessions"]["get"]["parameters"]}
    assert listing["archived"]["schema"] == {"type": "boolean", "default": False}
    assert set(paths["/sessions/{id}/message"]["post"]["responses"]) >= {"200", "400", "401", "404", "409", "504"}


def test_daemon_start_http_flag_and_a_busy_address() -> None:
    """`sesh daemon start --http ADDR` turns the door on without config.toml; an address already in
    use fails the start with one sesh: line and no daemon left running."""
    daemon = Daemon("flagged")
    port = free_port()
    try:
        started = daemon.sesh("daemon", "start", "--http", f"127.0.0.1:{port}")
        assert started.code == 0, started.err
        with client(f"http://127.0.0.1:{port}", token_of(daemon)) as http:
            assert http.get("/sessions").json() == []
        assert daemon.sesh("daemon", "stop").code == 0
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", port))
            holder.listen(1)
            refused = daemon.sesh("daemon", "run", "--http", f"127.0.0.1:{port}", timeout=30)
        assert refused.code == 1, refused.err
        assert refused.err.strip().splitlines()[-1].startswith(f"sesh: cannot listen for HTTP on 127.0.0.1:{port}")
        assert daemon.sesh("daemon", "status").code == 4  # nothing answers
    finally:
        daemon.sesh("daemon", "stop")
