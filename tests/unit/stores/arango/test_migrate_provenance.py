"""The schema 4 -> 5 provenance conversion: its paging loop and the AQL it runs.

No server runs here, so ``migrate_provenance.aql`` is checked as text and its paging is played
by a fake that answers like the query's contract (docs/design/provenance.md): at most
``limit`` unconverted documents with a key after ``after_*``, in key order.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from arango.database import StandardDatabase  # noqa: TID251

from graphrag.stores.arango import names as n
from graphrag.stores.arango import schema
from graphrag.stores.arango.mapping import evidence_key, evidence_rows
from graphrag.stores.arango.queries import AQL_DIR

Doc = dict[str, Any]


class _ConvertingDb:
    """Relations and entities of a version 4 store; the query converts a page of each."""

    def __init__(self, relations: int, entities: int) -> None:
        self.relations = {f"r{i:05d}": False for i in range(relations)}
        self.entities = {f"e{i:05d}": False for i in range(entities)}
        self.calls: list[Doc] = []
        self.on_call: Any = None
        owner = self

        class _Aql:
            def execute(self, text: str, bind_vars: Doc, **_: Any) -> list[Doc]:
                assert "migrate_provenance" in text or "SHA1" in text
                owner.calls.append(dict(bind_vars))
                if owner.on_call is not None:
                    owner.on_call(len(owner.calls))
                return [owner.convert(bind_vars)]

        self.aql = _Aql()

    def convert(self, b: Doc) -> Doc:
        row: Doc = {}
        for kind, docs in (("relation", self.relations), ("entity", self.entities)):
            page = sorted(k for k, done in docs.items() if k > b[f"after_{kind}"] and not done)
            page = page[: b["limit"]]
            for key in page:
                docs[key] = True
            row[f"{kind}s"] = len(page)
            row[f"last_{kind}"] = page[-1] if page else None
        return row


def test_conversion_pages_by_key_and_ends_with_a_pass_that_finds_nothing(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(schema, "MIGRATION_BATCH", 10)
    db = _ConvertingDb(relations=25, entities=7)

    total = schema.migrate_provenance(cast(StandardDatabase, db))

    assert total == 32
    assert all(db.relations.values())
    assert all(db.entities.values())
    # first pass: pages after "", r00009, r00019 (the last page is short: pass over), then a
    # second pass from "" that converts nothing
    assert [(c["after_relation"], c["after_entity"]) for c in db.calls] == [
        ("", ""), ("r00009", "e00006"), ("r00019", "e00006"), ("", ""),
    ]  # fmt: skip
    assert {c["limit"] for c in db.calls} == {10}
    assert {c["sample"] for c in db.calls} == {n.PROVENANCE_SAMPLE}


def test_conversion_picks_up_what_an_older_writer_added_behind_its_cursor(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(schema, "MIGRATION_BATCH", 10)
    db = _ConvertingDb(relations=15, entities=0)

    def old_writer(call: int) -> None:
        if call == 2:  # after the first page: an old writer gives r00001 an evidence array again
            db.relations["r00001"] = False

    db.on_call = old_writer

    total = schema.migrate_provenance(cast(StandardDatabase, db))

    assert all(db.relations.values())
    assert total == 16  # r00001 twice
    assert [c["after_relation"] for c in db.calls] == ["", "r00009", "", ""]


def test_evidence_keys_are_bounded_hashes_that_do_not_collide_on_dashes() -> None:
    long_id = "x" * 250
    key = evidence_key(long_id, long_id, 3)
    assert key.startswith("ev_")
    assert len(key) == 35
    # "a-b" + "c" and "a" + "b-c" joined with dashes were the same key before
    assert evidence_key("a-b", "c", 0) != evidence_key("a", "b-c", 0)
    digest = hashlib.sha1(b"rel/chunk/2", usedforsecurity=False).hexdigest()[:32]
    assert evidence_key("rel", "chunk", 2) == f"ev_{digest}"
    rows = evidence_rows("rel", [{"chunk_id": "chunk", "sentence": "s", "weight": 1.0}] * 3)
    assert [r["_key"] for r in rows] == [evidence_key("rel", "chunk", i) for i in range(3)]


def test_the_conversion_query_computes_the_same_keys_and_exact_counts() -> None:
    text = (AQL_DIR / "migrate_provenance.aql").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    # the key: "ev_" + SUBSTRING(SHA1(relation/chunk/position), 0, 32), as evidence_key
    assert 'CONCAT("ev_", SUBSTRING(SHA1(CONCAT(rel._key, "/", ev.chunk_id, "/", i)), 0, 32))' in (
        code
    )
    # paged by key through the primary index, not rescanned from the start
    for kind, var in (("relation", "rel"), ("entity", "ent")):
        assert f"FILTER {var}._key > @after_{kind}" in code
        assert f"SORT {var}._key" in code
    # counts from the stored evidence and the mentions edges, not from the arrays alone
    assert "FOR ev IN evidence\n        FILTER ev.relation == rel._key" in code
    assert "LENGTH(FOR m IN mentions FILTER m._to == vertex RETURN 1)" in code
    assert "COLLECT WITH COUNT" not in code
    # evidence is read (in rels) before the INSERT into it, as AQL requires
    assert code.index("FOR ev IN evidence") < code.index("INTO evidence")
