"""Workspace isolation: a tenant's documents, jobs, entities and keys stay in its workspace.

Workspace 'tenant-b' is created by an admin of the default workspace and gets one document
with a sentence nothing else contains. Readers of the default workspace must not reach it by
any route; readers of tenant-b must see it and nothing of the sample corpus; an API key made
in tenant-b opens tenant-b only; deleting the workspace shuts its tokens out and removes its
file; the default workspace cannot be deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api.conftest import Api, wait_for_job
from tests.api.test_api import assert_error

TENANT = "tenant-b"
SECRET_SENTENCE = "Quillon Vexmarrow founded the Zephyrine Glassworks in Ottarby in 1911."
MARKERS = ("Vexmarrow", "Zephyrine", "Ottarby")
SOURCE = "tenant-b:glassworks"
SAMPLE_QUESTION = "Who founded the company that built the Lantern Bridge?"


@dataclass
class Tenant:
    """What tenant-b holds, as its own reader sees it."""

    job_id: str
    document_id: str
    entity_ids: set[str]
    reader: dict[str, str]
    writer: dict[str, str]
    admin: dict[str, str]


async def make_tenant(api: Api) -> Tenant:
    """Create tenant-b and ingest the secret sentence into it with a tenant-b writer."""
    created = await api.client.post(
        "/v1/workspaces", json={"name": TENANT}, headers=api.auth("admin")
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == TENANT
    writer = api.auth("writer", workspace=TENANT)
    reader = api.auth("reader", workspace=TENANT)
    body = {"documents": [{"text": SECRET_SENTENCE, "source": SOURCE, "title": "Glassworks"}]}
    reply = await api.client.post("/v1/documents", json=body, headers=writer)
    assert reply.status_code == 202, reply.text
    job = await wait_for_job(api, reply.json()["id"], writer)
    assert job["status"] == "succeeded", job
    listed = (await api.client.get("/v1/documents", headers=reader)).json()
    (document,) = [d for d in listed["items"] if d["source"] == SOURCE]
    entities: set[str] = set()
    for name in ("Quillon Vexmarrow", "Zephyrine Glassworks"):
        found = (await api.client.get("/v1/entities", params={"q": name}, headers=reader)).json()
        entities |= {e["id"] for e in found["items"] if any(m in e["name"] for m in MARKERS)}
    assert entities, "the tenant's entities were not extracted; pick another sentence"
    return Tenant(
        job_id=job["id"],
        document_id=document["id"],
        entity_ids=entities,
        reader=reader,
        writer=writer,
        admin=api.auth("admin", workspace=TENANT),
    )


def tenant_files(api: Api) -> list[Path]:
    """The tenant's store files (``tenant-b.sqlite`` and its side files)."""
    return sorted(Path(api.settings.api.workspaces_dir).glob(f"{TENANT}*"))


def visible_text(answer: dict[str, Any]) -> str:
    """What an answer shows of the store: its text, citations and retrieved context."""
    context = answer.get("context") or answer
    parts = [answer.get("text", "")]
    parts += [f"{c['source']} {c['quote']}" for c in answer.get("citations", [])]
    parts += [f"{c['source']} {c['title']} {c['text']}" for c in context.get("chunks", [])]
    parts += [e["name"] for e in context.get("entities", [])]
    return "\n".join(parts)


async def test_default_reader_cannot_see_tenant_b(api: Api) -> None:
    tenant = await make_tenant(api)
    reader = api.auth("reader")

    listed = (await api.client.get("/v1/documents?limit=500", headers=reader)).json()
    assert SOURCE not in {d["source"] for d in listed["items"]}
    assert tenant.document_id not in {d["id"] for d in listed["items"]}
    contains = await api.client.get("/v1/documents", params={"contains": SOURCE}, headers=reader)
    assert contains.json()["items"] == []

    for path in ("/v1/query", "/v1/retrieve"):
        reply = await api.client.post(
            path, json={"question": "Who founded the Zephyrine Glassworks?"}, headers=reader
        )
        assert reply.status_code == 200, reply.text
        shown = visible_text(reply.json())
        assert not any(marker in shown for marker in MARKERS), shown
        assert SOURCE not in shown

    for name in ("Quillon Vexmarrow", "Zephyrine Glassworks", "Ottarby"):
        found = await api.client.get("/v1/entities", params={"q": name}, headers=reader)
        assert found.status_code == 200, found.text
        items = found.json()["items"]
        assert not {e["id"] for e in items} & tenant.entity_ids
        assert not any(marker in e["name"] for e in items for marker in MARKERS)

    assert_error(
        await api.client.get(f"/v1/jobs/{tenant.job_id}", headers=reader), 404, "not_found"
    )
    jobs = (await api.client.get("/v1/jobs?limit=200", headers=reader)).json()
    assert tenant.job_id not in {j["id"] for j in jobs["items"]}
    for path in (f"/v1/documents/{tenant.document_id}", *entity_paths(tenant)):
        assert_error(await api.client.get(path, headers=reader), 404, "not_found")

    writer = api.auth("writer")
    for method, path in (
        ("DELETE", f"/v1/documents/{tenant.document_id}"),
        ("POST", f"/v1/jobs/{tenant.job_id}/resume"),
    ):
        assert_error(await api.client.request(method, path, headers=writer), 404, "not_found")
    still = await api.client.get(f"/v1/documents/{tenant.document_id}", headers=tenant.reader)
    assert still.status_code == 200, still.text


def entity_paths(tenant: Tenant) -> list[str]:
    entity = sorted(tenant.entity_ids)[0]
    return [
        f"/v1/entities/{entity}",
        f"/v1/entities/{entity}/neighbourhood",
        f"/v1/paths?source={entity}&target={entity}",
    ]


async def test_tenant_b_reader_sees_its_document_and_not_the_sample_corpus(api: Api) -> None:
    tenant = await make_tenant(api)
    default_docs = (await api.client.get("/v1/documents?limit=500", headers=api.auth())).json()
    assert default_docs["total"] >= 9

    listed = (await api.client.get("/v1/documents?limit=500", headers=tenant.reader)).json()
    assert [d["source"] for d in listed["items"]] == [SOURCE]
    assert listed["total"] == 1
    stats = (await api.client.get("/v1/stats", headers=tenant.reader)).json()
    assert stats["documents"] == 1
    detail = await api.client.get(f"/v1/documents/{tenant.document_id}", headers=tenant.reader)
    assert detail.status_code == 200, detail.text
    assert SECRET_SENTENCE in " ".join(c["text"] for c in detail.json()["chunks"])
    job = await api.client.get(f"/v1/jobs/{tenant.job_id}", headers=tenant.reader)
    assert job.status_code == 200, job.text

    answer = await api.client.post(
        "/v1/query",
        json={"question": "Who founded the Zephyrine Glassworks?"},
        headers=tenant.reader,
    )
    assert answer.status_code == 200, answer.text
    assert {c["source"] for c in answer.json()["citations"]} <= {SOURCE}
    assert any(marker in visible_text(answer.json()) for marker in MARKERS)

    sample = await api.client.post(
        "/v1/query", json={"question": SAMPLE_QUESTION}, headers=tenant.reader
    )
    assert sample.status_code == 200, sample.text
    assert {c["source"] for c in sample.json()["citations"]} <= {SOURCE}
    bridge = await api.client.get("/v1/entities?q=Lantern Bridge", headers=tenant.reader)
    assert not any("Lantern" in e["name"] for e in bridge.json()["items"])
    for document in default_docs["items"][:3]:
        reply = await api.client.get(f"/v1/documents/{document['id']}", headers=tenant.reader)
        assert_error(reply, 404, "not_found")


async def test_api_key_of_tenant_b_opens_only_tenant_b(api: Api) -> None:
    tenant = await make_tenant(api)
    made = await api.client.post(
        "/v1/keys", json={"name": "tenant-b robot", "role": "writer"}, headers=tenant.admin
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert key.startswith(f"grk_{TENANT}_")
    by_key = {"X-API-Key": key}

    listed = (await api.client.get("/v1/documents", headers=by_key)).json()
    assert [d["source"] for d in listed["items"]] == [SOURCE]
    default_doc = (await api.client.get("/v1/documents?limit=1", headers=api.auth())).json()
    other_id = default_doc["items"][0]["id"]
    assert_error(
        await api.client.get(f"/v1/documents/{other_id}", headers=by_key), 404, "not_found"
    )
    assert_error(
        await api.client.delete(f"/v1/documents/{other_id}", headers=by_key), 404, "not_found"
    )

    # The key is unknown to the default workspace, even when it claims to be one of its own.
    forged = key.replace(f"grk_{TENANT}_", "grk_default_", 1)
    assert_error(
        await api.client.get("/v1/stats", headers={"X-API-Key": forged}), 401, "unauthorized"
    )
    keys_default = (await api.client.get("/v1/keys", headers=api.auth("admin"))).json()
    assert made.json()["id"] not in {k["id"] for k in keys_default}
    keys_tenant = (await api.client.get("/v1/keys", headers=tenant.admin)).json()
    assert made.json()["id"] in {k["id"] for k in keys_tenant}
    # A default-workspace admin cannot revoke it (not in their store) ...
    assert_error(
        await api.client.delete(f"/v1/keys/{made.json()['id']}", headers=api.auth("admin")),
        404,
        "not_found",
    )
    assert (await api.client.get("/v1/stats", headers=by_key)).status_code == 200
    # ... and a tenant-b admin cannot manage workspaces.
    assert_error(await api.client.get("/v1/workspaces", headers=tenant.admin), 403, "forbidden")
    assert_error(
        await api.client.delete("/v1/workspaces/default", headers=tenant.admin), 403, "forbidden"
    )


async def test_audit_of_tenant_b_shows_only_its_events(api: Api) -> None:
    await make_tenant(api)
    theirs = (await api.client.get("/v1/audit", headers=api.auth("admin", workspace=TENANT))).json()
    assert theirs["events"], "the tenant's upload was not audited"
    assert {e["workspace"] for e in theirs["events"]} == {TENANT}
    assert "document.upload" in {e["action"] for e in theirs["events"]}
    ours = (await api.client.get("/v1/audit", headers=api.auth("admin"))).json()
    assert {e["workspace"] for e in ours["events"]} == {api.settings.api.default_workspace}
    assert "workspace.create" in {e["action"] for e in ours["events"]}


async def test_deleting_tenant_b_shuts_its_tokens_out_and_removes_its_file(api: Api) -> None:
    tenant = await make_tenant(api)
    made = await api.client.post("/v1/keys", json={"name": "doomed"}, headers=tenant.admin)
    key = {"X-API-Key": made.json()["key"]}
    assert tenant_files(api), "the workspace file was not where expected"
    listed = (await api.client.get("/v1/workspaces", headers=api.auth("admin"))).json()
    assert TENANT in {w["name"] for w in listed}

    reply = await api.client.delete(f"/v1/workspaces/{TENANT}", headers=api.auth("admin"))
    assert reply.status_code == 204, reply.text

    for headers in (tenant.reader, tenant.writer, tenant.admin):
        for path in ("/v1/documents", "/v1/stats", f"/v1/jobs/{tenant.job_id}"):
            assert_error(await api.client.get(path, headers=headers), 404, "not_found")
    upload = {"documents": [{"text": "Nothing may be written into a deleted workspace."}]}
    assert_error(
        await api.client.post("/v1/documents", json=upload, headers=tenant.writer),
        404,
        "not_found",
    )
    assert_error(await api.client.get("/v1/stats", headers=key), 401, "unauthorized")
    assert tenant_files(api) == []
    listed = (await api.client.get("/v1/workspaces", headers=api.auth("admin"))).json()
    assert TENANT not in {w["name"] for w in listed}
    again = await api.client.delete(f"/v1/workspaces/{TENANT}", headers=api.auth("admin"))
    assert_error(again, 404, "not_found")
    # The default workspace is untouched.
    stats = (await api.client.get("/v1/stats", headers=api.auth())).json()
    assert stats["documents"] >= 9


async def test_recreated_workspace_starts_empty(api: Api) -> None:
    tenant = await make_tenant(api)
    admin = api.auth("admin")
    assert (await api.client.delete(f"/v1/workspaces/{TENANT}", headers=admin)).status_code == 204
    again = await api.client.post("/v1/workspaces", json={"name": TENANT}, headers=admin)
    assert again.status_code == 201, again.text
    listed = (await api.client.get("/v1/documents", headers=tenant.reader)).json()
    assert listed["items"] == []
    assert_error(
        await api.client.get(f"/v1/jobs/{tenant.job_id}", headers=tenant.reader), 404, "not_found"
    )


async def test_default_workspace_cannot_be_deleted(api: Api) -> None:
    default = api.settings.api.default_workspace
    reply = await api.client.delete(f"/v1/workspaces/{default}", headers=api.auth("admin"))
    assert 400 <= reply.status_code < 500, reply.text
    assert set(reply.json()) == {"error"}
    assert "Traceback" not in reply.text
    stats = await api.client.get("/v1/stats", headers=api.auth())
    assert stats.status_code == 200
    assert stats.json()["documents"] >= 9


async def test_job_scan_survives_a_deleted_workspace(api: Api) -> None:
    await make_tenant(api)  # its job makes the runner watch tenant-b
    reply = await api.client.delete(f"/v1/workspaces/{TENANT}", headers=api.auth("admin"))
    assert reply.status_code == 204, reply.text
    await api.app.state.jobs.scan()  # what the job poller runs every 30 s
