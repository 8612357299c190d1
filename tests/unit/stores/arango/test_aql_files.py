"""The AQL files: they and the queries assembled from them pass aql-lint, the typed methods
bind exactly what each assembled query uses, shared blocks live once in ``aql/fragments/``
(``// @include`` lines, expanded on load), and no Python builds AQL."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag.errors import ConfigError
from graphrag.stores.arango.includes import FRAGMENTS, marker_name
from graphrag.stores.arango.queries import AQL_DIR, Queries

ROOT = Path(__file__).resolve().parents[4]
LINT = ROOT.parent / "shared" / "tools" / "aql-lint"
PACKAGE = ROOT / "graphrag" / "stores" / "arango"
needs_lint = pytest.mark.skipif(
    not LINT.exists(), reason=f"aql-lint not found at {LINT} (shared tools missing)"
)


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LINT), *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def lint_binds() -> dict[str, set[str]]:
    if not LINT.exists():
        pytest.skip(f"aql-lint not found at {LINT}")
    done = lint("--list-binds", str(AQL_DIR))
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    return {
        Path(path).resolve().relative_to(AQL_DIR).as_posix(): set(v["values"])
        | set(v["collections"])
        for path, v in listed.items()
    }


def _list_binds(folder: Path) -> dict[str, set[str]]:
    done = lint("--list-binds", str(folder))
    assert done.returncode == 0, done.stderr
    return {
        Path(path).resolve().relative_to(folder.resolve()).as_posix(): set(v["values"])
        | set(v["collections"])
        for path, v in json.loads(done.stdout).items()
    }


@pytest.fixture(scope="module")
def assembled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every query as the server gets it (includes expanded), one file per query."""
    folder = tmp_path_factory.mktemp("assembled")
    queries = Queries()
    for name in queries.names():
        (folder / f"{name}.aql").write_text(queries.text(name), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def assembled_binds(assembled_dir: Path) -> dict[str, set[str]]:
    """Bind parameters of every assembled query, by file name (``<name>.aql``)."""
    if not LINT.exists():
        pytest.skip(f"aql-lint not found at {LINT}")
    return _list_binds(assembled_dir)


@needs_lint
def test_every_assembled_query_passes_aql_lint(assembled_dir: Path) -> None:
    """The @params lines of a file and of its fragments together declare the query's binds."""
    done = lint("-q", str(assembled_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.stem for p in assembled_dir.glob("*.aql")) == sorted(
        p.stem for p in AQL_DIR.glob("*.aql")
    )


@needs_lint
def test_every_aql_file_passes_aql_lint() -> None:
    done = lint("-q", str(AQL_DIR))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout


@needs_lint
def test_lint_catches_a_format_placeholder(tmp_path: Path) -> None:
    bad = tmp_path / "bad_query.aql"
    bad.write_text("FOR d IN {collection} RETURN d\n")
    assert lint("-q", str(bad)).returncode == 1


class _Cursor(list[Any]):
    pass


class _Row(dict[str, Any]):
    """A canned row that also reads as a count (``insert_merges``, ``count_embeddings``)."""

    def __int__(self) -> int:
        return 1


class RecordingAQL:
    """Stands in for ``db.aql``: records (query, bind_vars) and returns canned rows."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def execute(self, query: str, *, bind_vars: dict[str, Any], batch_size: int) -> _Cursor:
        self.calls.append((query, dict(bind_vars)))
        return _Cursor([_Row(key="x", inserted=True)])


class RecordingDb:
    def __init__(self) -> None:
        self.aql = RecordingAQL()


def _invocations(q: Queries, db: Any) -> None:
    """Call every typed query method once with plausible arguments."""
    vec = list(np.ones(4) / 2.0)
    q.get_documents(db, ["d_1"])
    q.list_documents(db, "done", 10)
    q.list_document_keys(db, "done")
    q.set_document_status(db, {"_key": "d_1"}, "failed", "boom", "2026-01-01T00:00:00+00:00")
    q.export_document(db, "d_1")
    q.retract_documents(db, ["d_1"])
    q.delete_documents(db, ["d_1"], keep_chunks=False)
    q.upsert_entities(db, [{"doc": {"_key": "e_1"}, "merge_aliases": []}], overwrite=True)
    q.mark_documents_derived(db, ["d_1"])
    q.upsert_relations(db, [{"_key": "r_1"}])
    q.insert_merges(db, [{"_key": "x_1"}])
    q.missing_entities(db, ["e_1"])
    q.count_existing(db, ["e_1"], ["r_1"])
    q.mark_merge_undone(db, "x_1", "2026-01-01T00:00:00+00:00")
    q.get_chunks(db, ["c_1"])
    q.get_entities(db, ["e_1"])
    q.get_entities(db, ["e_1"], provenance=False)
    q.find_entities(db, ["curie"])
    for target in ("chunks", "entities"):
        q.search_vector(db, target, vec, 5, 16)
        q.search_exact(db, target, vec, 5)
        q.search_vector_many(db, target, [vec], 5, 16)
        q.search_exact_many(db, target, [vec], 5)
    q.search_exact(db, "communities", vec, 5)  # communities: exact scans only
    q.search_exact_many(db, "communities", [vec], 5)
    q.expand_entities(
        db, seeds=[], hops=2, degree_cap=5, max_entities=10, max_relations=10, graph="kg"
    )
    common = {
        "query": vec,
        "text": "radium",
        "k_chunks": 5,
        "k_entities": 5,
        "seed_ids": [],
        "hops": 2,
        "degree_cap": 5,
        "max_entities": 10,
        "max_relations": 10,
        "graph": "kg",
    }
    q.retrieve_candidates(db, exact=True, binds=common)
    q.retrieve_candidates(db, exact=False, binds={**common, "nprobe": 16})
    q.fetch_subgraph(db, ["c_1"], ["e_1"], 5)
    q.stats(db)
    q.list_merges(db, None)
    q.all_relations(db)
    q.count_embeddings(db, "chunks")
    q.list_dirty_keys(db, 10)
    q.mark_keys_dirty(db, ["e_1"])
    q.clear_dirty_keys(db, ["e_1"])
    q.get_key_infos(db, ["e_1"])
    for by in ("norm", "initials", "entity_id"):
        q.find_keys(db, by, ["x"])
    q.set_key_embeddings(db, [{"key": "e_1", "embedding": vec}])
    q.add_key_links(db, [{"_key": "l_1", "a": "e_1", "b": "e_2", "score": 0.97}], ["e_1"])
    q.list_key_links(db, ["e_1"])
    q.find_shared_documents(db, [("e_1", "e_2")])
    q.list_documents_of_keys(db, ["e_1"])
    q.list_pending_documents(db, 10)
    q.set_key_entities(db, [{"key": "e_1", "entity_id": "e_2"}])
    q.remove_keys(db, ["e_1"])
    q.list_active_merges(db, ["e_1"])
    q.remove_merges(db, ["x_1"])
    q.upsert_merges(db, [{"_key": "x_1"}])
    q.refresh_entities(db, [{"key": "e_1", "patch": {"name": "X"}}])
    q.mark_documents_pending(db, ["d_1"])
    q.search_keys(db, [vec], 5, 0.95, None)
    q.search_keys(db, [vec], 5, 0.95, 16)
    q.acquire_writer_lock(db, "me", 60000)
    q.fence_writer_lock(db, "me", 60000)
    q.list_document_chunks(db, ["d_1"])
    q.list_existing_documents(db, ["d_1"])
    q.finish_document(db, "d_1", 3, "2026-01-01T00:00:00+00:00")
    q.release_writer_lock(db, "me")
    now = "2026-01-01T00:00:00.000000+00:00"
    q.upsert_job(db, {"_key": "j_1", "status": "queued"})
    q.get_job(db, "j_1")
    q.list_jobs(db, None, 0, 50)
    q.claim_job(db, "j_1", "host:1", now, now)
    q.save_api_key(db, {"_key": "k_1", "key_hash": "ab"})
    q.find_api_key(db, "ab")
    q.list_api_keys(db)


def _direct_calls() -> dict[str, set[str]]:
    """``queries.one/rows(db, "<file>", {literal binds})`` calls in the other package modules.

    Modules besides queries.py (e.g. analysis.py) may run a file directly; their bind dicts
    must be literals so that this test can compare their keys with the file's binds.
    """
    found: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        if path.name == "queries.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"one", "rows"}
                and len(node.args) == 3
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                continue
            binds = node.args[2]
            assert isinstance(binds, ast.Dict), f"{path.name}:{node.lineno}: binds not a literal"
            keys = {k.value for k in binds.keys if isinstance(k, ast.Constant)}
            assert len(keys) == len(binds.keys), f"{path.name}:{node.lineno}: computed keys"
            found[f"{node.args[1].value}.aql"] = {str(k) for k in keys}
    return found


def test_each_method_binds_exactly_what_its_file_uses(
    assembled_binds: dict[str, set[str]],
) -> None:
    queries = Queries()
    db = RecordingDb()
    _invocations(queries, db)
    by_text = {queries.text(p.stem): p.name for p in AQL_DIR.glob("*.aql")}
    used: set[str] = set()
    for text, binds in db.aql.calls:
        name = by_text[text]
        used.add(name)
        assert set(binds) == assembled_binds[name], name
    for name, keys in _direct_calls().items():
        assert name in assembled_binds, f"{name} is run but missing in aql/"
        assert keys == assembled_binds[name], name
        used.add(name)
    every = {p.name for p in AQL_DIR.glob("*.aql")}
    assert used == every, f"AQL files without a method: {sorted(every - used)}"


CANDIDATES = (
    "retrieve_candidates.aql",
    "retrieve_candidates_exact.aql",
    "retrieve_candidates_exact_chunks.aql",
    "retrieve_candidates_exact_entities.aql",
)


def test_candidates_binds_differ_only_by_nprobe(assembled_binds: dict[str, set[str]]) -> None:
    approx = assembled_binds["retrieve_candidates.aql"]
    exact = assembled_binds["retrieve_candidates_exact.aql"]
    assert approx - exact == {"nprobe"}
    assert exact <= approx
    for mixed in CANDIDATES[2:]:
        assert assembled_binds[mixed] == approx, mixed


def _subquery(name: str, start: str) -> str:
    text = (AQL_DIR / name).read_text()
    begin = text.index(start)
    return text[begin : text.index("\n)\n", begin)]


def test_mixed_candidates_use_the_index_of_one_collection_only() -> None:
    def uses_index(name: str, part: str) -> bool:
        return "APPROX_NEAR_COSINE" in _subquery(name, part)

    chunks, entities = "LET vector_chunks = (", "LET knn_entities = ("
    expected = {  # file: (chunks through the index, entities through the index)
        "retrieve_candidates.aql": (True, True),
        "retrieve_candidates_exact.aql": (False, False),
        "retrieve_candidates_exact_chunks.aql": (False, True),
        "retrieve_candidates_exact_entities.aql": (True, False),
    }
    for name, modes in expected.items():
        assert (uses_index(name, chunks), uses_index(name, entities)) == modes, name
    texts = {name: Queries().text(name.removesuffix(".aql")) for name in CANDIDATES}
    body = {name: text.split("LET knn_entities")[1] for name, text in texts.items()}
    approx_seeds = body["retrieve_candidates.aql"]
    assert (
        body["retrieve_candidates_exact_entities.aql"].split("LET asked")[1]
        == (approx_seeds.split("LET asked")[1])
    )
    assert body["retrieve_candidates_exact_chunks.aql"] == approx_seeds


def test_no_query_waits_for_the_view_but_the_test_sync() -> None:
    """waitForSync is for tests only (ArangoSearch docs: it can stall queries)."""
    waiting = sorted(
        p.relative_to(AQL_DIR).as_posix()
        for p in AQL_DIR.rglob("*.aql")
        if "waitForSync"
        in "\n".join(
            line for line in p.read_text().splitlines() if not line.lstrip().startswith("//")
        )
    )
    assert waiting == ["sync_chunks_view.aql"]
    sync = (AQL_DIR / "sync_chunks_view.aql").read_text()
    assert "OPTIONS { waitForSync: true }" in sync


def test_bm25_queries_sort_by_the_optimised_expression_alone() -> None:
    """optimizeTopK: SORT must be exactly the scorer DESC, then LIMIT (ties in Python)."""
    from graphrag.stores.arango.indexes import BM25_TOP_K, text_index_definition

    assert text_index_definition()["optimizeTopK"] == [BM25_TOP_K] == ["BM25(@doc) DESC"]
    queries = {"search_chunks_bm25.aql": "LIMIT @k"} | dict.fromkeys(CANDIDATES, "LIMIT @k_chunks")
    for name, limit in queries.items():
        text = Queries().text(name.removesuffix(".aql"))
        part = text[text.index("FOR c IN chunks_view") :]
        lines = [line.strip() for line in part.splitlines()]
        assert lines[1] == 'SEARCH c.text IN TOKENS(@text, "text_en")', name
        assert lines[2:4] == ["SORT BM25(c) DESC", limit], name
        assert "FOR flag" not in text, name  # no enclosing loop around the view


RETRIEVAL = ("expand_entities.aql", "fetch_subgraph.aql", *CANDIDATES)
"""The retrieval queries; with ``aql/fragments/`` they must not repeat blocks of code."""


def _code_lines(text: str) -> list[str]:
    return [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("//")
    ]


def _without_knn(text: str) -> str:
    """A candidates file without its two kNN blocks (what tells the four variants apart)."""
    for start in ("LET vector_chunks = (", "LET knn_entities = ("):
        begin = text.index(start)
        text = text[:begin] + text[text.index("\n)\n", begin) + 3 :]
    return text


def test_the_expansion_lives_once_in_its_fragment() -> None:
    fragment = (AQL_DIR / FRAGMENTS / "expansion.aql").read_text().rstrip("\n")
    candidates = (AQL_DIR / FRAGMENTS / "candidates.aql").read_text().rstrip("\n")
    assert "LIMIT @degree_cap" in fragment
    assert 'edgeCollections: ["relations"]' in fragment
    raw = {p.relative_to(AQL_DIR).as_posix(): p.read_text() for p in AQL_DIR.rglob("*.aql")}
    assert [n for n, t in raw.items() if "LET reach_rows" in t] == ["fragments/expansion.aql"]
    queries = Queries()
    for name in ("expand_entities.aql", *CANDIDATES):
        text = queries.text(name.removesuffix(".aql"))
        assert text.count(fragment) == 1, name
        assert text.count("LET reach_rows = (") == 1, name
        assert text.count("// ---- begin fragments/expansion.aql ----") == 1, name
        if name in CANDIDATES:
            assert text.count(candidates.split("// @include expansion")[0]) == 1, name
            assert text.count("LET graph_rows = (") == 1, name
            assert _code_lines(text)[-2:] == ["graph_chunks: graph_chunks", "}"], name
    for name in queries.names():
        assert not [ln for ln in queries.text(name).splitlines() if marker_name(ln, name)], name


def test_a_candidates_file_is_its_two_knn_blocks_and_the_shared_rest() -> None:
    for name in CANDIDATES:
        code = _code_lines(_without_knn((AQL_DIR / name).read_text()))
        assert code == [], name
        assert (AQL_DIR / name).read_text().rstrip().endswith("// @include candidates"), name


def test_no_block_of_code_is_repeated_in_the_retrieval_queries() -> None:
    """No run of five code lines appears in two of the files (comments and kNN blocks aside)."""
    files = {name: (AQL_DIR / name).read_text() for name in RETRIEVAL}
    files |= {f"{FRAGMENTS}/{p.name}": p.read_text() for p in (AQL_DIR / FRAGMENTS).glob("*.aql")}
    runs: dict[tuple[str, ...], set[str]] = {}
    for name, text in files.items():
        lines = _code_lines(_without_knn(text) if name in CANDIDATES else text)
        for i in range(len(lines) - 4):
            runs.setdefault(tuple(lines[i : i + 5]), set()).add(name)
    repeated = {run: names for run, names in runs.items() if len(names) > 1}
    assert repeated == {}


def test_candidates_and_subgraph_cap_the_mentions_per_entity_alike() -> None:
    """At most @degree_cap mentions per entity: most spans first, then by chunk."""
    cap = "SORT MAX([LENGTH(m.spans), 1]) DESC, m._from\nLIMIT @degree_cap\nRETURN m._from"
    for name in ("fetch_subgraph.aql", f"{FRAGMENTS}/candidates.aql"):
        assert cap in "\n".join(_code_lines((AQL_DIR / name).read_text())), name
    for name in CANDIDATES:
        code = "\n".join(_code_lines(Queries().text(name.removesuffix(".aql"))))
        assert code.count("FOR m IN mentions") == 1, name
        assert code.count(cap) == 1, name


def test_queries_loaded_raw_have_no_include_lines() -> None:
    """The analyst queries are read as they are (pipelines/analyst_queries.py)."""
    for path in (AQL_DIR / "analyst").glob("*.aql"):
        assert not [ln for ln in path.read_text().splitlines() if marker_name(ln, path.name)]


def test_vector_queries_have_the_index_pattern() -> None:
    """APPROX_NEAR_COSINE needs SORT ... DESC and LIMIT, with no FILTER before the LIMIT."""
    for name in ("search_chunks_vector.aql", "search_entities_vector.aql"):
        text = (AQL_DIR / name).read_text()
        assert "APPROX_NEAR_COSINE" in text
        assert "SORT score DESC" in text
        assert "LIMIT @k" in text
        assert "FILTER" not in text.split("LIMIT")[0]
    exact = (AQL_DIR / "retrieve_candidates_exact.aql").read_text()
    assert "APPROX_NEAR" not in exact
    assert "COSINE_SIMILARITY" in exact


def test_missing_aql_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no AQL query files"):
        Queries(tmp_path).text("stats")
    (tmp_path / "stats.aql").write_text("RETURN 1\n")
    with pytest.raises(ConfigError, match=r"get_chunks\.aql is missing"):
        Queries(tmp_path).text("get_chunks")


_AQL_STATEMENT = re.compile(
    r"\b(FOR\s+\w+(\s*,\s*\w+)*\s+IN\b|RETURN\s+[\w{(\[]|UPSERT\s*\{|REMOVE\s+\w+\s+IN\b|"
    r"INSERT\s+\w+\s+INTO\b|COLLECT\s+\w+\s*=)"
)


def _is_docstring(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    if not isinstance(parent, ast.Expr):
        return False
    owner = parents.get(parent)
    body = getattr(owner, "body", None)
    return bool(body) and body[0] is parent  # type: ignore[index]


def _aql_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if _AQL_STATEMENT.search(text):
                found.append(f"{path.name}:{node.lineno}: f-string {text[:60]!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _is_docstring(node, parents) or isinstance(parents.get(node), ast.JoinedStr):
                continue
            if _AQL_STATEMENT.search(node.value):
                found.append(f"{path.name}:{node.lineno}: string {node.value[:60]!r}")
    return found


def test_no_python_code_builds_aql() -> None:
    files = [*PACKAGE.glob("*.py"), ROOT / "graphrag" / "operations" / "migrate.py"]
    offenders = [hit for path in files for hit in _aql_strings(path)]
    assert offenders == []


def test_the_aql_detector_sees_fstrings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('coll = "x"\nq = f"FOR d IN {coll} RETURN d"\nr = "FOR d IN x RETURN d"\n')
    assert len(_aql_strings(sample)) == 2


def test_analyst_queries_document_their_bind_parameters(lint_binds: dict[str, set[str]]) -> None:
    from pipelines.analyst_queries import load_analyst_queries

    queries = load_analyst_queries()
    assert len(queries) == 6
    by_name = {q["name"]: q for q in queries}
    for path in sorted((AQL_DIR / "analyst").glob("*.aql")):
        saved = by_name["KG: " + path.stem.replace("_", " ")]
        assert set(saved["parameter"]) == lint_binds[f"analyst/{path.name}"], path.name
        assert saved["value"] == path.read_text()


def test_analyst_export_is_importable_json(tmp_path: Path) -> None:
    from pipelines.analyst_queries import export_queries

    out = tmp_path / "queries.json"
    assert export_queries(out) == 6
    loaded = json.loads(out.read_text())
    assert all(set(q) == {"name", "value", "parameter"} for q in loaded)
    assert all(isinstance(q["parameter"], dict) and q["parameter"] for q in loaded)


def test_analyst_header_without_default_is_rejected(tmp_path: Path) -> None:
    from pipelines.analyst_queries import load_analyst_queries

    (tmp_path / "q.aql").write_text("// @params: limit\nFOR d IN documents LIMIT @limit RETURN d\n")
    with pytest.raises(ConfigError, match="limit"):
        load_analyst_queries(tmp_path)


def test_saved_queries_merge_by_name() -> None:
    from graphrag.stores.arango.users import merge_saved_queries

    current = [{"name": "mine", "value": "RETURN 1", "parameter": {}}, {"name": "KG: a"}]
    new = [{"name": "KG: a", "value": "RETURN 2", "parameter": {}}]
    merged = merge_saved_queries(current, new)
    assert [q["name"] for q in merged] == ["mine", "KG: a"]
    assert merged[1]["value"] == "RETURN 2"


def test_communities_are_searched_exactly_and_get_no_vector_index() -> None:
    from graphrag.stores.arango.names import COMMUNITIES, EXACT_VECTOR_TARGETS, VECTOR_TARGETS

    assert COMMUNITIES not in VECTOR_TARGETS
    assert COMMUNITIES in EXACT_VECTOR_TARGETS
    db = RecordingDb()
    Queries().search_exact(db, "communities", [0.5, 0.5], 3)
    [(text, binds)] = db.aql.calls
    assert "FOR com IN communities" in text
    assert "COSINE_SIMILARITY" in text
    assert "APPROX_NEAR" not in text
    assert binds == {"query": [0.5, 0.5], "k": 3}


def test_no_query_reads_the_unbounded_provenance_arrays_of_schema_version_4() -> None:
    """Provenance is derived from mentions and evidence (docs/design/provenance.md).

    Only the conversion reads the old arrays; the writes may only drop them (``null``).
    """
    code = re.compile(r"\.source_ids\b|\.evidence\b(?!_)|source_ids\[\*\]")
    offenders = []
    for path in sorted(AQL_DIR.rglob("*.aql")):
        if path.name == "migrate_provenance.aql":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.lstrip().startswith("//") and code.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
