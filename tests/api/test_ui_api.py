"""The routes the web explorer adds: who am I, top entities, mentions, chunk entities, the
evaluation results, and the page itself (CSP, files, switch).

A real app over a copy of the analysed sample store (ranks and communities), through httpx.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, api_settings

pytestmark = pytest.mark.slow

UI = Path(__file__).resolve().parents[2] / "api" / "ui"


@pytest.fixture
async def explorer(
    tmp_path: Path, analyzed_store: Path, embedder: Any, extractor: Any, analyzer: Any
) -> AsyncIterator[Api]:
    """An app over a copy of the analysed store, with an evaluation folder of two runs."""
    from api.app import create_app
    from graphrag.workspaces import WorkspaceManager

    home = tmp_path / "explorer"  # apart from the `api` fixture's files in tmp_path
    home.mkdir()
    store = home / "default.db"
    shutil.copy(analyzed_store, store)
    settings = api_settings(home, store, eval_dir=_eval_folder(home / "eval"))
    manager = WorkspaceManager(settings, embedder=embedder, extractor=extractor, analyzer=analyzer)
    app = create_app(settings, workspaces=manager)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client=client, settings=settings, app=app)


def _eval_folder(root: Path) -> Path:
    """Two eval outputs as `graphrag eval --out` writes them, a broken one and a stray file."""
    runs = (("musique", "2026-01-02T00:00:00", True), ("hotpot", "2026-01-03T00:00:00", False))
    for name, created, plot in runs:
        folder = root / name
        folder.mkdir(parents=True)
        results = {
            "dataset": f"{name}_train",
            "created_at": created,
            "questions": 100,
            "passages": 1000,
            "index": {"path": "/secret/server/path/index.db", "chunks": 12},
            "modes": [
                {"mode": "ppr", "recall": {"R@2": 0.5, "R@5": 0.7}, "latency_ms": {"p50": 40.0}}
            ],
        }
        (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
        if plot:
            (folder / "recall.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    (root / "broken").mkdir()
    (root / "broken" / "results.json").write_text("{not json", encoding="utf-8")
    (root / "notes.txt").write_text("not a run", encoding="utf-8")
    return root


async def test_me_names_the_callers_role_and_needs_credentials(explorer: Api) -> None:
    for role in ("reader", "writer", "admin"):
        reply = await explorer.client.get("/v1/me", headers=explorer.auth(role))
        assert reply.status_code == 200, reply.text
        assert reply.json() == {
            "subject": f"test-{role}",
            "role": role,
            "workspace": "default",
            "via": "jwt",
        }
    # an API key, sent as the explorer sends it (Authorization: Bearer grk_...)
    made = await explorer.client.post(
        "/v1/keys", json={"name": "explorer", "role": "writer"}, headers=explorer.auth("admin")
    )
    assert made.status_code == 201, made.text
    key = made.json()
    by_key = await explorer.client.get("/v1/me", headers={"Authorization": f"Bearer {key['key']}"})
    assert by_key.json() == {
        "subject": f"key:{key['id']}",
        "role": "writer",
        "workspace": "default",
        "via": "api_key",
    }
    denied = await explorer.client.get("/v1/me")
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "unauthorized"


async def test_top_entities_come_by_rank_after_an_analysis(explorer: Api, api: Api) -> None:
    reply = await explorer.client.get("/v1/entities/top?limit=5", headers=explorer.auth())
    assert reply.status_code == 200, reply.text
    items = reply.json()["items"]
    assert len(items) == 5
    ranks = [e["rank"] for e in items]
    assert ranks == sorted(ranks, reverse=True)
    assert all(r is not None and r > 0 for r in ranks)
    # the top five are the five highest ranks of all entities of the store
    rag = await explorer.app.state.workspaces.get("default")
    stats = await rag.stats()
    assert stats.entities > 100
    everyone = await rag.components.store.get_entities(await _all_entity_ids(rag))
    assert len(everyone) == stats.entities
    best = sorted((e.rank for e in everyone if e.rank is not None), reverse=True)[:5]
    assert ranks == best
    # before any analysis (the plain sample store): none, not an error
    plain = await api.client.get("/v1/entities/top", headers=api.auth())
    assert plain.status_code == 200
    assert plain.json()["items"] == []
    bad = await explorer.client.get("/v1/entities/top?limit=0", headers=explorer.auth())
    assert bad.status_code == 422


async def _all_entity_ids(rag: Any) -> list[str]:
    ids: list[str] = []
    async for graph in rag.components.store.iter_document_graphs():
        ids.extend(e.id for e in graph.entities)
    return sorted(set(ids))


async def _entity_id(api: Api, name: str) -> str:
    reply = await api.client.get("/v1/entities", params={"q": name}, headers=api.auth())
    hits = [e for e in reply.json()["items"] if e["name"] == name]
    assert hits, reply.text
    return str(hits[0]["id"])


async def test_entity_detail_names_its_communities_and_the_sentences_mentioning_it(
    explorer: Api,
) -> None:
    entity_id = await _entity_id(explorer, "Tomas Brennick")
    detail = (
        await explorer.client.get(f"/v1/entities/{entity_id}", headers=explorer.auth())
    ).json()
    assert detail["communities"], detail
    community = detail["communities"][0]
    assert community["size"] >= 2
    assert community["title"]
    reply = await explorer.client.get(
        f"/v1/entities/{entity_id}/mentions?limit=3", headers=explorer.auth()
    )
    assert reply.status_code == 200, reply.text
    found = reply.json()
    assert found["entity_id"] == entity_id
    assert found["chunks"] >= 2
    assert 1 <= len(found["sentences"]) <= 3
    for sentence in found["sentences"]:
        assert "Brennick" in sentence["sentence"]
        assert sentence["document_id"].startswith("d_")
        assert sentence["title"]
    missing = await explorer.client.get("/v1/entities/e_nope/mentions", headers=explorer.auth())
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_chunk_entities_map_every_chunk_of_a_document(explorer: Api) -> None:
    documents = (await explorer.client.get("/v1/documents", headers=explorer.auth())).json()
    doc = next(d for d in documents["items"] if d["source"].endswith("tomas_brennick.html"))
    detail = (
        await explorer.client.get(f"/v1/documents/{doc['id']}", headers=explorer.auth())
    ).json()
    reply = await explorer.client.get(
        f"/v1/documents/{doc['id']}/entities", headers=explorer.auth()
    )
    assert reply.status_code == 200, reply.text
    chunks = reply.json()["chunks"]
    assert set(chunks) == {c["id"] for c in detail["chunks"]}
    names = {e["name"] for refs in chunks.values() for e in refs}
    assert "Tomas Brennick" in names
    first = detail["chunks"][0]
    by_query = await explorer.client.get(
        "/v1/chunks/entities", params={"id": [first["id"], "c_unknown"]}, headers=explorer.auth()
    )
    assert by_query.status_code == 200, by_query.text
    assert by_query.json()["chunks"] == {first["id"]: chunks[first["id"]], "c_unknown": []}
    assert (
        await explorer.client.get("/v1/chunks/entities", headers=explorer.auth())
    ).status_code == 422
    many = {"id": [f"c_{i}" for i in range(101)]}
    too_many = await explorer.client.get(
        "/v1/chunks/entities", params=many, headers=explorer.auth()
    )
    assert too_many.status_code == 422
    for blank in ("", "   "):
        empty = await explorer.client.get(
            "/v1/chunks/entities", params={"id": blank}, headers=explorer.auth()
        )
        assert empty.status_code == 422, blank
        assert "empty chunk id" in empty.json()["error"]["message"]
    gone = await explorer.client.get("/v1/documents/d_nope/entities", headers=explorer.auth())
    assert gone.status_code == 404


async def test_eval_lists_runs_newest_first_without_server_paths(explorer: Api) -> None:
    reply = await explorer.client.get("/v1/eval", headers=explorer.auth())
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["note"] is None
    assert [r["name"] for r in body["runs"]] == ["hotpot", "musique"]  # the broken one skipped
    musique = body["runs"][1]
    assert musique["plot"] is True
    assert musique["modes"][0]["recall"]["R@5"] == 0.7
    assert "/secret/" not in reply.text
    plot = await explorer.client.get("/v1/eval/musique/recall.png", headers=explorer.auth())
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png"
    for name in ("hotpot", "broken", "nope", "..", "%2e%2e"):
        missing = await explorer.client.get(f"/v1/eval/{name}/recall.png", headers=explorer.auth())
        assert missing.status_code == 404, name
    assert (await explorer.client.get("/v1/eval")).status_code == 401
    assert (await explorer.client.get("/v1/eval/musique/recall.png")).status_code == 401


async def test_eval_without_results_says_how_to_get_them(api: Api, tmp_path: Path) -> None:
    api.settings.api.eval_dir = Path("/nonexistent/eval")
    reply = await api.client.get("/v1/eval", headers=api.auth())
    assert reply.status_code == 200
    assert reply.json()["runs"] == []
    assert "graphrag eval" in reply.json()["note"]
    assert "does not exist" in reply.json()["note"]
    stray = tmp_path / "a-file"
    stray.write_text("not a folder")
    api.settings.api.eval_dir = stray
    not_a_folder = await api.client.get("/v1/eval", headers=api.auth())
    assert "is not a folder" in not_a_folder.json()["note"]
    api.settings.api.eval_dir = tmp_path / "nothing-here"
    api.settings.api.eval_dir.mkdir()
    note = (await api.client.get("/v1/eval", headers=api.auth())).json()["note"]
    assert note.startswith("no evaluation results")


async def test_eval_links_out_of_the_folder_are_not_followed(api: Api, tmp_path: Path) -> None:
    """Hostile review: a link in api.eval_dir must not serve files from elsewhere."""
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "results.json").write_text(json.dumps({"dataset": "outside"}))
    (secret / "recall.png").write_bytes(b"secret bytes")
    root = tmp_path / "evals"
    (root / "linkpng").mkdir(parents=True)
    (root / "linkpng" / "results.json").write_text(json.dumps({"dataset": "lp"}))
    (root / "linkpng" / "recall.png").symlink_to(secret / "recall.png")
    (root / "linkdir").symlink_to(secret, target_is_directory=True)
    (root / "inner run").mkdir()  # a space in the name is fine
    (root / "inner run" / "results.json").write_text(json.dumps({"dataset": "inner"}))
    api.settings.api.eval_dir = root

    body = (await api.client.get("/v1/eval", headers=api.auth())).json()

    assert {r["name"]: r["plot"] for r in body["runs"]} == {"linkpng": False, "inner run": False}
    for name in ("linkpng", "linkdir"):
        plot = await api.client.get(f"/v1/eval/{name}/recall.png", headers=api.auth())
        assert plot.status_code == 404, name
        assert b"secret" not in plot.content


async def test_eval_skips_a_results_file_nested_too_deep(api: Api, tmp_path: Path) -> None:
    """Hostile review: one pathological results.json must not turn the list into a 500."""
    root = tmp_path / "evals"
    for name, text in (
        ("deep", '{"modes":' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("deepish", json.dumps({"dataset": "d", "modes": [{"mode": "x", "v": _nest(600)}]})),
        ("fine", json.dumps({"dataset": "fine", "modes": [{"mode": "ppr"}]})),
    ):
        (root / name).mkdir(parents=True)
        (root / name / "results.json").write_text(text)
    api.settings.api.eval_dir = root

    reply = await api.client.get("/v1/eval", headers=api.auth())

    assert reply.status_code == 200, reply.text
    runs = {r["name"]: r for r in reply.json()["runs"]}
    assert set(runs) == {"deepish", "fine"}
    assert runs["fine"]["modes"] == [{"mode": "ppr"}]
    assert runs["deepish"]["modes"][0]["mode"] == "x"  # kept, its deep tail cut off


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def test_the_page_is_served_with_a_strict_content_security_policy(explorer: Api) -> None:
    moved = await explorer.client.get("/ui")
    assert moved.status_code == 307
    assert moved.headers["location"] == "/ui/"
    page = await explorer.client.get("/ui/")
    assert page.status_code == 200
    for path in ("/ui/", "/ui/app.js"):  # link checkers and uptime probes send HEAD
        head = await explorer.client.head(path)
        assert head.status_code == 200, path
        assert head.headers["content-security-policy"] == page.headers["content-security-policy"]
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    script = await explorer.client.get("/ui/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == policy
    cached = await explorer.client.get(
        "/ui/app.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert cached.status_code == 304
    vendor = await explorer.client.get("/ui/vendor/cytoscape.min.js")
    assert vendor.status_code == 200
    for name in ("nope.js", "../routers/ui.py", "..%2Frouters%2Fui.py", "vendor/", "README.md"):
        missing = await explorer.client.get("/ui/" + name)
        assert missing.status_code == 404, name
        assert missing.json()["error"]["code"] == "not_found"


async def test_the_page_can_be_switched_off(explorer: Api) -> None:
    explorer.settings.api.ui = False
    for path in ("/ui", "/ui/", "/ui/app.js"):
        reply = await explorer.client.get(path)
        assert reply.status_code == 404, path
        assert "api.ui" in reply.json()["error"]["message"]


def test_the_cytoscape_style_hash_matches_the_vendored_script() -> None:
    from api.routers.ui import CYTOSCAPE_STYLE

    script = (UI / "vendor" / "cytoscape.min.js").read_text(encoding="utf-8")
    # the script builds "." + class + " { position: relative; }"; the policy hashes the result
    assert '"__________cytoscape_container"' in script
    assert '" { position: relative; }"' in script
    assert CYTOSCAPE_STYLE == ".__________cytoscape_container { position: relative; }"


def test_the_page_has_no_inline_script_style_or_html_sinks() -> None:
    html = (UI / "index.html").read_text(encoding="utf-8")
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"<script[^>]*>\s*[^<\s]", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=|<style", html), "inline style"
    for path in UI.glob("*.js"):
        code = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                     "new Function", "localStorage"):  # fmt: skip
            assert sink not in code, f"{path.name} uses {sink}"
