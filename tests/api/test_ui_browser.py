"""The web explorer end to end: headless Chromium (Debian's, driven by Playwright) against a
real `graphrag serve` process on a loopback port, over the analysed sample corpus.

One server and one browser serve the module. The tests ask a two-hop question (streamed
answer, citations, the graph with its bridge entity, expanding an entity, following a
citation), upload a file and watch its job, check that a reader gets no upload or delete
control and that the server refuses a reader's upload anyway, that document text is shown
as text (never run as HTML), and walk the Explore and Evaluation views. Screenshots go to
``test-artifacts/ui/`` (``GRAPHRAG_TEST_ARTIFACTS`` overrides the folder), with the time to
the first answer on screen in ``time_to_first_answer.json``.

The browser is never downloaded: Chromium comes from the system (``apt-get install
chromium``, done by ``scripts/test.sh`` when missing); without it these tests are skipped.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_serve_process import Server

pytestmark = pytest.mark.slow

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = Path(os.environ.get("GRAPHRAG_TEST_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("GRAPHRAG_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "ui"
QUESTIONS = (ROOT / "samples" / "questions.txt").read_text(encoding="utf-8").splitlines()
TWO_HOP = QUESTIONS[0]  # the founder of the company that built the Lantern Bridge
assert "Lantern Bridge" in TWO_HOP
TIMED_RUNS = 5
UPLOAD_TEXT = (
    "Harbour pilots of Velmora\n\n"
    "Ingrid Solberg trained the harbour pilots of Velmora for thirty years. "
    'Her manual <img src=x onerror="window.__xss=1"> was printed by the Kessel Press. '
    "<script>window.__xss=2</script> Pilots still learn the tides from it. "
    "The harbour master signs as \u202ereteP\u202c.\n"
)


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (bash scripts/setup.sh)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/test.sh does it)"
    return None


if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, analyzed_store: Path) -> Iterator[Server]:
    """`graphrag serve` over a copy of the analysed sample store (docs/eval for the eval view)."""
    tmp = tmp_path_factory.mktemp("ui-server")
    store = tmp / "default.db"
    shutil.copy(analyzed_store, store)
    running = Server(tmp, store)
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


class Explorer:
    """A browser tab on the explorer, signed in with one role; records console problems."""

    def __init__(self, browser: Browser, server: Server, role: str) -> None:
        self.server = server
        self.token = server.token(role)
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.goto(server.url + "/ui")
        self.page.fill("#token-input", self.token)
        self.page.click("#signin-form button[type=submit]")
        self.page.wait_for_selector("#view-ask:not([hidden])")
        assert self.page.text_content("#who-text") == f"p-{role} · {role} · workspace default"

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or message.type == "error":
            self.problems.append(f"console {message.type}: {text}")

    def go(self, view: str, ready: str) -> None:
        self.page.click(f"nav a[data-view={view}]")
        self.page.wait_for_selector(ready)

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def writer(browser: Browser, server: Server) -> Iterator[Explorer]:
    tab = Explorer(browser, server, "writer")
    yield tab
    tab.close()
    assert tab.problems == []


@pytest.fixture
def reader(browser: Browser, server: Server) -> Iterator[Explorer]:
    tab = Explorer(browser, server, "reader")
    yield tab
    tab.close()
    assert tab.problems == []


def _api(server: Server, method: str, path: str, role: str = "reader", **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {server.token(role)}"}
    reply = httpx.request(method, server.url + path, headers=headers, timeout=60, **kw)
    assert reply.status_code < 300, reply.text
    return reply.json()


FIRST_PAINT = """() => {
    const [start] = performance.getEntriesByName("ask-start");
    const [first] = performance.getEntriesByName("first-answer");
    return start && first ? first.startTime - start.startTime : null;
}"""
"""The page's own figure: from the Ask submit to the animation frame after the first answer
text was inserted (``performance`` marks set by api/ui/ask.js), in milliseconds."""


def _ask(tab: Explorer, question: str) -> tuple[float, float]:
    """Ask in the page; seconds to the first answer text on screen (test, page)."""
    page = tab.page
    page.fill("#question", question)
    page.select_option("#mode", "ppr")
    started = time.perf_counter()
    page.click("#ask-button")
    page.wait_for_selector("#answer:not(:empty)")
    first = time.perf_counter() - started
    page.wait_for_selector("#view-ask[data-state=done]", state="attached")
    in_page = page.evaluate(FIRST_PAINT)
    assert in_page is not None
    assert in_page > 0
    return first, in_page / 1000


def test_ask_streams_a_cited_answer_and_draws_the_graph_behind_it(writer: Explorer) -> None:
    page, server = writer.page, writer.server
    expected = _api(server, "POST", "/v1/query", json={"question": TWO_HOP, "mode": "ppr"})
    _ask(writer, TWO_HOP)  # warm: the server has answered this question once already
    timings = [_ask(writer, TWO_HOP) for _ in range(TIMED_RUNS)]
    _record_first_answer([t for t, _ in timings], [p for _, p in timings])

    # the answer: the API's text with its citation markers as links, the extractive note
    answer = page.text_content("#answer") or ""
    assert answer == expected["text"]
    assert "Lantern Bridge" in answer
    markers = page.eval_on_selector_all("#answer a.cite", "links => links.map(a => a.textContent)")
    assert markers == [f"[{c['marker']}]" for c in expected["citations"]]
    assert page.text_content("#answer-kind") == expected["kind"] == "extractive"
    assert "extractive" in (page.text_content("#answer-notes") or "")
    # citations: one link per citation, to its document and chunk
    links = page.eval_on_selector_all("#citations a.citation-link", "a => a.map(x => x.hash)")
    assert links == [f"#doc/{c['document_id']}/{c['chunk_id']}" for c in expected["citations"]]
    # every citation points into the retrieved context, and the answer quotes the bridge
    # (which sentences the extractive answerer picks is measured by `graphrag eval`)
    texts = {c["id"]: c["text"] for c in expected["context"]["chunks"]}
    assert {c["chunk_id"] for c in expected["citations"]} <= set(texts)
    assert any("Lantern Bridge" in texts[c["chunk_id"]] for c in expected["citations"])
    # the retrieved chunks with their scores, best first
    rows = page.locator("#chunks tbody tr")
    assert rows.count() == len(expected["context"]["chunks"]) == 10
    scores = [float(s) for s in page.locator("#chunks td.score").all_text_contents()]
    assert scores == sorted(scores, reverse=True)

    # the graph: question entities, bridge entities (inner steps of the paths), path ends
    paths = expected["context"]["paths"]
    bridges = {step for path in paths for step in path[1:-1]}
    assert bridges, f"the two-hop question found no path through a bridge entity: {paths}"
    shown = _graph_roles(page)
    assert "Lantern Bridge" in shown["question"]
    assert bridges <= shown["bridge"], (bridges, shown)
    drawn = page.evaluate(
        "() => window.graphragExplorer.ask.cy.nodes('.bridge').map(n => n.data('name'))"
    )
    assert bridges <= set(drawn)
    writer.shot("ask", full_page=False)

    # click the bridge entity on the canvas: it expands, and its details show
    bridge = sorted(bridges)[0]
    before = page.evaluate("() => window.graphragExplorer.ask.cy.nodes('.entity').length")
    _click_node(page, "ask", bridge)
    page.wait_for_selector("#ask-graph .entity-detail .expanded-count")
    assert page.text_content("#ask-graph .entity-name") == bridge
    after = page.evaluate("() => window.graphragExplorer.ask.cy.nodes('.entity').length")
    assert after > before
    assert page.locator("#ask-graph .entity-type").text_content()
    assert page.locator("#ask-graph .entity-aliases").text_content()
    assert "members" in (page.text_content("#ask-graph .entity-communities") or "")
    sentences = page.locator("#ask-graph .sentences li").all_text_contents()
    assert sentences
    assert any(bridge.lower() in s.lower() for s in sentences)
    writer.shot("graph-expanded", full_page=False)

    # follow the first citation: the document opens at the cited chunk, the quote marked
    first = expected["citations"][0]
    page.click("#citations a.citation-link >> nth=0")
    page.wait_for_selector("#view-document .chunk.focus")
    focus = page.locator("#view-document .chunk.focus")
    assert focus.get_attribute("data-chunk-id") == first["chunk_id"]
    assert focus.locator("mark").first.text_content() == first["quote"]
    assert focus.locator(".chip").count() > 0
    writer.shot("document")


def _graph_roles(page: Page) -> dict[str, set[str]]:
    items = page.eval_on_selector_all(
        "#ask-graph .node-item",
        "els => els.map(e => [e.dataset.role, e.querySelector('button').textContent])",
    )
    roles: dict[str, set[str]] = {}
    for role, name in items:
        roles.setdefault(role, set()).add(name)
    return roles


def _click_node(page: Page, graph: str, name: str) -> None:
    """Click an entity's node where cytoscape drew it on the canvas."""
    box = page.evaluate(
        """([graph, name]) => {
            const cy = window.graphragExplorer[graph].cy;
            const node = cy.nodes('.entity').filter(n => n.data('name') === name)[0];
            node.scrollIntoView?.();
            const rect = cy.container().getBoundingClientRect();
            const at = node.renderedPosition();
            return {x: rect.left + at.x, y: rect.top + at.y};
        }""",
        [graph, name],
    )
    page.mouse.click(box["x"], box["y"])


def _record_first_answer(wall: list[float], in_page: list[float]) -> None:
    """Write both figures: the page's marks, and the test's clock around Playwright's click
    and wait (an upper bound: it adds the click's checks and the selector polling)."""
    record = {
        "question": TWO_HOP,
        "mode": "ppr",
        "runs": len(wall),
        "page_ms": [round(1000 * t, 1) for t in in_page],
        "page_median_ms": round(1000 * statistics.median(in_page), 1),
        "playwright_ms": [round(1000 * t, 1) for t in wall],
        "playwright_median_ms": round(1000 * statistics.median(wall), 1),
        "loadavg": Path("/proc/loadavg").read_text(encoding="utf-8").strip(),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
    }
    (ARTIFACTS / "time_to_first_answer.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\ntime to first answer on screen: {record}")  # shown with -s


def test_upload_shows_the_jobs_progress_and_the_text_stays_text(
    writer: Explorer, tmp_path: Path
) -> None:
    page = writer.page
    writer.go("documents", "#docs-table tbody tr")
    before = page.locator("#docs-table tbody tr").count()
    upload = tmp_path / "harbour_pilots.txt"
    upload.write_text(UPLOAD_TEXT, encoding="utf-8")
    page.set_input_files("#upload-files", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#jobs .job[data-status]")
    page.wait_for_selector("#jobs .job[data-status=succeeded]", timeout=120_000)
    assert "1/1 inputs" in (page.text_content("#jobs .job") or "")
    page.wait_for_selector(f"#docs-table tbody tr:nth-child({before + 1})")
    row = page.locator("#docs-table tbody tr", has_text="upload://harbour_pilots.txt")
    assert row.count() == 1
    writer.shot("documents")

    # open it: the markup in the text is shown, not run
    row.locator("a").first.click()
    page.wait_for_selector("#view-document .chunk")
    text = page.text_content("#view-document .chunk-text") or ""
    assert '<img src=x onerror="window.__xss=1">' in text
    assert "<script>window.__xss=2</script>" in text
    assert page.evaluate("() => window.__xss === undefined")
    assert page.locator("#view-document img, #view-document script").count() == 0
    # a right-to-left override (which would show "reteP" as "Peter") is shown as a code
    assert "<U+202E>reteP<U+202C>" in text
    assert "\u202e" not in text
    chips = page.locator("#view-document .chip").all_text_contents()
    assert any("Ingrid Solberg" in c for c in chips), chips
    opened = page.evaluate("() => location.hash")

    # delete it (two clicks: the first asks to confirm)
    writer.go("documents", "#docs-table tbody tr")
    delete = page.locator("#docs-table tbody tr", has_text="upload://harbour_pilots.txt")
    delete.locator("button.delete").click()
    assert delete.locator("button.delete").text_content() == "Confirm delete"
    delete.locator("button.delete").click()
    page.wait_for_selector(
        "#docs-table tbody tr >> text=upload://harbour_pilots.txt", state="detached"
    )
    assert page.locator("#docs-table tbody tr").count() == before

    # back to the deleted document: the view says it is gone (not "Loading…" for ever)
    seen = len(writer.problems)
    page.evaluate("hash => { location.hash = hash }", opened)
    page.wait_for_selector("#view-document #document .error")
    assert "no document" in (page.text_content("#view-document #document .error") or "")
    expected = writer.problems[seen:]  # the browser logs the two 404 answers: expected here
    assert expected
    assert all("404" in problem for problem in expected), expected
    del writer.problems[seen:]


def test_a_reader_gets_no_write_controls_and_the_server_refuses_anyway(reader: Explorer) -> None:
    page = reader.page
    reader.go("documents", "#docs-table tbody tr")
    assert page.locator("#upload-form, #upload-files").count() == 0
    assert page.locator("#docs-table button.delete").count() == 0
    assert page.locator("#docs-table tbody tr").count() >= 9
    refused = page.evaluate(
        """async () => {
            const form = new FormData();
            form.append("files", new Blob(["Some text."]), "reader.txt");
            const reply = await fetch("/v1/documents", {method: "POST", body: form,
                headers: {Authorization: "Bearer " + sessionStorage.getItem("graphrag.token")}});
            return [reply.status, (await reply.json()).error.code];
        }"""
    )
    assert refused == [403, "forbidden"]
    # the browser logs the refused request; that one is expected
    reader.problems[:] = [p for p in reader.problems if "status of 403 (Forbidden)" not in p]
    # signing out forgets the token
    page.click("#sign-out")
    page.wait_for_selector("#view-signin:not([hidden])")
    assert page.evaluate("() => sessionStorage.getItem('graphrag.token')") is None


def test_explore_and_evaluation_views(reader: Explorer) -> None:
    page = reader.page
    reader.go("explore", "#top-entities li a")
    ranks = page.locator("#top-entities li").all_text_contents()
    assert len(ranks) == 15
    assert page.locator("#communities details.community").count() > 5
    page.fill("#entity-q", "Edda Vale")
    page.click("#entity-search button[type=submit]")
    page.wait_for_selector("#entity-results li a")
    page.locator("#entity-results li a", has_text="Edda Vale").first.click()
    page.wait_for_selector("#explore-graph .entity-detail .expanded-count")
    assert page.text_content("#explore-graph .entity-name") == "Edda Vale"
    names = page.evaluate(
        "() => window.graphragExplorer.explore.cy.nodes('.entity').map(n => n.data('name'))"
    )
    assert len(names) > 3
    reader.shot("explore")

    reader.go("eval", ".eval-run")
    runs = page.locator(".eval-run")
    assert runs.count() >= 1
    header = page.locator(".eval-table thead th").all_text_contents()
    assert {"mode", "R@2", "R@5", "R@10"} <= set(header)
    modes = page.locator(".eval-table tbody th").all_text_contents()
    assert "ppr" in modes
    page.wait_for_selector(".eval-run img.plot[src^='blob:']")
    loaded = page.eval_on_selector(
        ".eval-run img.plot", "img => img.decode().then(() => img.naturalWidth)"
    )
    assert loaded > 100
    reader.shot("evaluation", full_page=True)
