"""The HTTP API end to end over real components (httpx ASGI transport, real store and models)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.conftest import Api, wait_for_job

QUESTION = "Which institute did the founder of the company that built the Lantern Bridge attend?"


def assert_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    """The reply is the one error shape with this status and code, and a request id."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert error["request_id"] == reply.headers["x-request-id"]
    assert "Traceback" not in reply.text
    return dict(error)


async def test_health_and_readiness_and_openapi(api: Api) -> None:
    health = await api.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["version"] == api.app.version
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"models": "loaded", "store": "ok"}
    schema = (await api.client.get("/openapi.json")).json()
    assert "/v1/query" in schema["paths"]
    assert "/v1/chat/completions" in schema["paths"]
    assert (await api.client.get("/docs")).status_code == 200


async def test_query_answers_with_citations(api: Api) -> None:
    reply = await api.client.post(
        "/v1/query", json={"question": QUESTION, "mode": "ppr"}, headers=api.auth()
    )
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["mode"] == "ppr"
    assert answer["kind"] == "extractive"
    assert answer["citations"]
    assert all(c["source"] for c in answer["citations"])
    assert answer["context"]["chunks"]
    assert reply.headers["x-request-id"]


async def test_retrieve_returns_context_only(api: Api) -> None:
    reply = await api.client.post(
        "/v1/retrieve",
        json={"question": "Lantern Bridge", "mode": "hybrid", "top_k": 3},
        headers=api.auth(),
    )
    assert reply.status_code == 200, reply.text
    context = reply.json()
    assert context["mode"] == "hybrid"
    assert 1 <= len(context["chunks"]) <= 3


async def test_stream_sends_context_deltas_citations_done(api: Api) -> None:
    async with api.client.stream(
        "POST", "/v1/query/stream", json={"question": QUESTION}, headers=api.auth()
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        raw = "".join([part async for part in reply.aiter_text()])
    events = parse_sse(raw)
    names = [name for name, _ in events]
    assert names[0] == "context"
    assert names[-1] == "done"
    assert "delta" in names
    assert "citation" in names
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text == events[-1][1]["text"]


def parse_sse(raw: str) -> list[tuple[str, Any]]:
    """Parse a Server-Sent Events body: every event has one event and one data line."""
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(lines) == {"event", "data"}, block
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_bad_stream_request_is_refused_before_streaming(api: Api) -> None:
    reply = await api.client.post("/v1/query/stream", json={"question": "   "}, headers=api.auth())
    assert_error(reply, 422, "invalid_query")


async def test_documents_list_get_and_entities(api: Api) -> None:
    headers = api.auth()
    page = (await api.client.get("/v1/documents?limit=3", headers=headers)).json()
    assert page["total"] >= 9
    assert len(page["items"]) == 3
    first = page["items"][0]["id"]
    detail = (await api.client.get(f"/v1/documents/{first}", headers=headers)).json()
    assert detail["document"]["id"] == first
    assert detail["chunks"]
    found = (await api.client.get("/v1/entities?q=Lantern Bridge", headers=headers)).json()
    bridge = found["items"][0]
    entity = (await api.client.get(f"/v1/entities/{bridge['id']}", headers=headers)).json()
    assert entity["entity"]["name"] == bridge["name"]
    view = (
        await api.client.get(f"/v1/entities/{bridge['id']}/neighbourhood?hops=2", headers=headers)
    ).json()
    node_ids = {n["id"] for n in view["nodes"]}
    assert bridge["id"] in node_ids
    assert all(e["source"] in node_ids and e["target"] in node_ids for e in view["edges"])
    assert all(e["label"] for e in view["edges"])
    other = next(n["id"] for n in view["nodes"] if n["id"] != bridge["id"])
    paths = (
        await api.client.get(
            f"/v1/paths?source={bridge['id']}&target={other}&max_hops=2", headers=headers
        )
    ).json()
    assert paths["paths"]
    assert (await api.client.get("/v1/communities", headers=headers)).json() == {"communities": []}
    stats = (await api.client.get("/v1/stats", headers=headers)).json()
    assert stats["documents"] == page["total"]


async def test_upload_files_and_texts_as_jobs_then_delete(api: Api) -> None:
    writer = api.auth("writer")
    before = (await api.client.get("/v1/stats", headers=writer)).json()
    files = [
        ("files", ("harbour.txt", b"Ingrid Halvorsen founded the Port of Norrvik.", "text/plain")),
        ("files", ("../../etc/evil.md", b"# Evil\n\nNo path escapes the spool.", "text/markdown")),
    ]
    reply = await api.client.post("/v1/documents", files=files, headers=writer)
    assert reply.status_code == 202, reply.text
    job = await wait_for_job(api, reply.json()["id"], writer)
    assert job["status"] == "succeeded", job
    assert [f["status"] for f in job["files"]] == ["done", "done"]
    assert [f["name"] for f in job["files"]] == ["harbour.txt", "evil.md"]
    texts = {"documents": [{"text": "Mira Sandvik designed the Orchid Tower.", "title": "Orchid"}]}
    reply = await api.client.post("/v1/documents", json=texts, headers=writer)
    job = await wait_for_job(api, reply.json()["id"], writer)
    assert job["status"] == "succeeded", job
    after = (await api.client.get("/v1/stats", headers=writer)).json()
    assert after["documents"] == before["documents"] + 3
    listed = (
        await api.client.get("/v1/documents?contains=upload://harbour", headers=writer)
    ).json()
    assert [d["source"] for d in listed["items"]] == ["upload://harbour.txt"]
    assert listed["items"][0]["title"] == "harbour"
    assert "0000-" not in str(listed["items"][0]["metadata"])
    doc_id = listed["items"][0]["id"]
    deleted = await api.client.delete(f"/v1/documents/{doc_id}", headers=writer)
    assert deleted.status_code == 200, deleted.text
    assert (await api.client.get(f"/v1/documents/{doc_id}", headers=writer)).status_code == 404
    audit = Path(api.settings.api.audit_log).read_text(encoding="utf-8")  # noqa: ASYNC240
    assert '"action":"document.upload"' in audit.replace(" ", "")
    assert '"action":"document.delete"' in audit.replace(" ", "")


async def test_failed_file_is_reported_per_file(api: Api) -> None:
    writer = api.auth("writer")
    files = [
        ("files", ("good.txt", b"Edda Vale founded the Vale Foundation in Velmora.", "text/plain")),
        ("files", ("broken.json", b'{"title": "Broken", "text": ', "application/json")),
    ]
    reply = await api.client.post("/v1/documents", files=files, headers=writer)
    job = await wait_for_job(api, reply.json()["id"], writer)
    assert job["status"] == "succeeded"
    states = {f["name"]: (f["status"], f["error"]) for f in job["files"]}
    assert states["good.txt"] == ("done", None)
    assert states["broken.json"][0] == "failed"
    assert "broken.json" in states["broken.json"][1]
    assert "spool" not in states["broken.json"][1]
    assert job["error"] == "1 of 2 input(s) failed; see files"


async def test_merges_list_and_undo_unknown(api: Api) -> None:
    merges = (await api.client.get("/v1/merges", headers=api.auth())).json()
    assert merges["total"] >= merges["active"] >= 0
    reply = await api.client.post("/v1/merges/x_unknown/undo", headers=api.auth("writer"))
    assert_error(reply, 404, "not_found")


async def test_metrics_count_requests_by_route(api: Api) -> None:
    await api.client.get("/v1/documents/d_unknown", headers=api.auth())
    text = (await api.client.get("/metrics")).text
    assert 'route="/v1/documents/{document_id}"' in text
    assert "graphrag_http_request_seconds_bucket" in text
    assert 'graphrag_jobs{state="queued"}' in text
