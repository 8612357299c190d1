"""The AQL of ``aql/``: loaded once, called through one typed method per file.

Every query is a file ``aql/<verb_noun>.aql`` that takes bind variables only; no Python code
builds AQL text. The methods run on any python-arango database handle, including a
:class:`~arango.database.TransactionDatabase` (stream transactions), and return plain rows;
:mod:`graphrag.stores.arango.mapping` turns them into models. Queries used inside stream
transactions return one row: python-arango fetches further cursor batches without the
transaction header.

Where the files come from (:func:`aql_folder`): ``aql/`` at the repository root is the one
place they live. A wheel carries them as package data at ``graphrag/_aql/`` (pyproject.toml
maps the build's ``graphrag._aql`` package to ``aql/``), read with :mod:`importlib.resources`;
a source checkout or an editable install reads ``aql/`` itself.

Shared blocks live once, in ``aql/fragments/<name>.aql``: a query file names one with a line
``// @include <name>``, replaced by the fragment's text when the files are loaded
(:mod:`graphrag.stores.arango.includes`), so :meth:`Queries.text` and the server get the
assembled query.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

from arango.cursor import Cursor
from arango.database import Database

from graphrag.errors import ConfigError
from graphrag.stores.arango.includes import FRAGMENTS, assemble
from graphrag.stores.arango.names import PROVENANCE_SAMPLE

Doc = dict[str, Any]

AQL_DIR = Path(__file__).resolve().parents[3] / "aql"
"""``aql/`` at the root of the source tree (a checkout or an editable install)."""

PACKAGED_AQL = "_aql"
"""Folder of the AQL files inside the installed ``graphrag`` package (wheels only)."""

CURSOR_BATCH = 1000


def aql_folder() -> Traversable:
    """Return the folder of the AQL files: the wheel's package data, else the checkout's ``aql/``.

    An installed wheel has ``graphrag/_aql/`` (built from ``aql/``); a source checkout or an
    editable install has no such folder and reads :data:`AQL_DIR`. The analyst queries are in
    the ``analyst`` subfolder of either.
    """
    packaged = resources.files("graphrag").joinpath(PACKAGED_AQL)
    return packaged if packaged.is_dir() else AQL_DIR


def _read_aql(entries: Iterable[Traversable]) -> dict[str, str]:
    """``{name: text}`` of the ``<name>.aql`` files among ``entries``."""
    return {
        f.name.removesuffix(".aql"): f.read_text(encoding="utf-8")
        for f in entries
        if f.name.endswith(".aql") and f.is_file()
    }


def _exact_target(target: str) -> str:
    """The collection part of an exact-search file name (``entities`` unless named)."""
    return target if target in ("chunks", "communities") else "entities"


class Queries:
    """The AQL files of one folder, read on first use, with one method per query.

    Args:
        folder: The folder holding ``*.aql`` (default :func:`aql_folder`): a path or any
            :class:`~importlib.resources.abc.Traversable`.
    """

    def __init__(self, folder: Traversable | None = None) -> None:
        self.folder: Traversable = folder if folder is not None else aql_folder()
        self._texts: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        found = self.folder.iterdir() if self.folder.is_dir() else iter(())
        files = sorted((f for f in found if f.name.endswith(".aql") and f.is_file()),
                       key=lambda f: f.name)  # fmt: skip
        if not files:
            msg = (
                f"no AQL query files in {self.folder}; install the package from its wheel "
                "(the files are in graphrag/_aql/), or run from a source checkout or an "
                "editable install (pip install -e .) that has aql/ next to graphrag/"
            )
            raise ConfigError(msg)
        parts = self.folder.joinpath(FRAGMENTS)
        fragments = _read_aql(parts.iterdir()) if parts.is_dir() else {}
        return {
            name: assemble(text, fragments, f"{name}.aql")
            for name, text in _read_aql(files).items()
        }

    def _all(self) -> dict[str, str]:
        if self._texts is None:
            with self._lock:
                if self._texts is None:
                    self._texts = self._load()
        return self._texts

    def names(self) -> list[str]:
        """Return the names of the query files (``aql/<name>.aql``), sorted.

        Raises:
            ConfigError: If the folder holds no query file.
        """
        return sorted(self._all())

    def text(self, name: str) -> str:
        """Return the text of ``aql/<name>.aql``, its ``// @include`` lines expanded.

        All files are read and assembled once, on first use.

        Raises:
            ConfigError: If the folder or the file is missing, or an include line of any
                file is malformed, names a missing fragment, loops or repeats a fragment.
        """
        texts = self._all()
        try:
            return texts[name]
        except KeyError:
            msg = f"AQL file {name}.aql is missing in {self.folder}; restore it from the repository"
            raise ConfigError(msg) from None

    def rows(self, db: Database, name: str, binds: Doc) -> list[Any]:
        """Run ``aql/<name>.aql`` with ``binds`` and return all result rows."""
        cursor = cast(
            Cursor, db.aql.execute(self.text(name), bind_vars=binds, batch_size=CURSOR_BATCH)
        )
        return list(cursor)

    def one(self, db: Database, name: str, binds: Doc) -> Any:
        """Run a query that returns exactly one row and return it."""
        found = self.rows(db, name, binds)
        return found[0] if found else None

    # ------------------------------------------------------------------ documents

    def get_documents(self, db: Database, keys: Sequence[str]) -> list[Doc]:
        """Documents by key (unknown keys skipped, any order)."""
        return self.rows(db, "get_documents", {"keys": list(keys)})

    def list_documents(self, db: Database, status: str | None, limit: int) -> list[Doc]:
        """Documents newest first, optionally by status."""
        return self.rows(db, "list_documents", {"status": status, "limit": limit})

    def list_document_keys(self, db: Database, status: str) -> list[str]:
        """Keys of the documents with ``status``, oldest first."""
        return self.rows(db, "list_document_keys", {"status": status})

    def set_document_status(
        self, db: Database, doc: Doc, status: str, error: str | None, now: str
    ) -> None:
        """Insert a stub document or update its status (chunk count kept)."""
        self.rows(
            db, "set_document_status", {"doc": doc, "status": status, "error": error, "now": now}
        )

    def export_document(self, db: Database, key: str) -> Doc | None:
        """Everything a document contributed (see ``export_document.aql``)."""
        found: Doc | None = self.one(db, "export_document", {"key": key})
        return found

    # ------------------------------------------------------------------ writes

    def retract_documents(self, db: Database, doc_keys: Sequence[str]) -> Doc:
        """Step 1 of a retraction: prune provenance of surviving entities and relations."""
        found: Doc = self.one(db, "retract_document", {"doc_keys": list(doc_keys)})
        return found

    def delete_documents(self, db: Database, doc_keys: Sequence[str], *, keep_chunks: bool) -> Doc:
        """Step 2 of a retraction: remove edges and orphans (and chunks and rows, unless kept)."""
        binds = {"doc_keys": list(doc_keys), "keep_chunks": keep_chunks}
        found: Doc = self.one(db, "delete_document", binds)
        return found

    def upsert_entities(self, db: Database, items: Sequence[Doc], *, overwrite: bool) -> Doc:
        """Insert or merge (or, with ``overwrite``, reset) entities; ``{written, inserted}``."""
        found: Doc = self.one(
            db,
            "upsert_entities",
            {"entities": list(items), "overwrite": overwrite, "sample": PROVENANCE_SAMPLE},
        )
        return found

    def mark_documents_derived(self, db: Database, keys: Sequence[str]) -> None:
        """The documents' mentions and relations are current again."""
        self.one(db, "mark_documents_derived", {"keys": list(keys)})

    def list_document_chunks(self, db: Database, keys: Sequence[str]) -> list[list[str]]:
        """``[document key, chunk key]`` of the documents' chunks (one row)."""
        return list(self.one(db, "list_document_chunks", {"keys": list(keys)}) or [])

    def finish_document(self, db: Database, key: str, chunk_count: int, now: str) -> int:
        """Record a document written in parts as done (one row: 1, or 0 if it is gone)."""
        binds = {"key": key, "chunk_count": chunk_count, "now": now}
        return int(self.one(db, "finish_document", binds) or 0)

    def list_existing_documents(self, db: Database, keys: Sequence[str]) -> list[str]:
        """The stored documents among ``keys`` (one row)."""
        return list(self.one(db, "list_existing_documents", {"keys": list(keys)}) or [])

    def upsert_relations(self, db: Database, items: Sequence[Doc]) -> Doc:
        """Insert or merge relations; returns ``{written, inserted}`` counts."""
        binds = {"relations": list(items), "sample": PROVENANCE_SAMPLE}
        found: Doc = self.one(db, "upsert_relations", binds)
        return found

    def insert_merges(self, db: Database, merges: Sequence[Doc]) -> int:
        """Insert merge records not stored yet; returns how many were new."""
        return int(self.one(db, "insert_merges", {"merges": list(merges)}) or 0)

    def count_existing(
        self, db: Database, entity_keys: Sequence[str], relation_keys: Sequence[str]
    ) -> Doc:
        """``{entities, relations}``: how many of the keys are stored."""
        binds = {"entity_keys": list(entity_keys), "relation_keys": list(relation_keys)}
        found: Doc = self.one(db, "count_existing", binds)
        return found

    def missing_entities(self, db: Database, keys: Sequence[str]) -> list[str]:
        """The keys that are not stored entities."""
        return list(self.one(db, "missing_entities", {"keys": list(keys)}) or [])

    def mark_merge_undone(self, db: Database, key: str, now: str) -> Doc | None:
        """Set ``undone_at`` (first time only); ``None`` if there is no such merge."""
        found: Doc | None = self.one(db, "mark_merge_undone", {"key": key, "now": now})
        return found

    # ------------------------------------------------------------------ reads

    def get_chunks(self, db: Database, keys: Sequence[str]) -> list[Doc]:
        """Chunks by key (unknown keys skipped, any order)."""
        return self.rows(db, "get_chunks", {"keys": list(keys)})

    def get_entities(
        self, db: Database, keys: Sequence[str], *, provenance: bool = True
    ) -> list[Doc]:
        """Entities by key (unknown keys skipped, any order).

        Without provenance and embeddings (``get_entities_bare``) when ``provenance`` is false.
        """
        name = "get_entities" if provenance else "get_entities_bare"
        return self.rows(db, name, {"keys": list(keys)})

    def find_entities(self, db: Database, names: Sequence[str]) -> list[Doc]:
        """``{name, ids}`` for each normalised name that matches entities."""
        return self.rows(db, "find_entities", {"names": list(names)})

    def search_vector(
        self, db: Database, target: str, query: list[float], k: int, nprobe: int
    ) -> list[Doc]:
        """``{id, score}`` of the ``k`` nearest chunks/entities through the vector index."""
        name = "search_chunks_vector" if target == "chunks" else "search_entities_vector"
        return self.rows(db, name, {"query": query, "k": k, "nprobe": nprobe})

    def search_exact(self, db: Database, target: str, query: list[float], k: int) -> list[Doc]:
        """``{id, score}`` of the ``k`` nearest chunks/entities/communities by a full scan."""
        return self.rows(db, f"search_{_exact_target(target)}_exact", {"query": query, "k": k})

    def search_vector_many(
        self, db: Database, target: str, queries: list[list[float]], k: int, nprobe: int
    ) -> list[list[Doc]]:
        """Per query vector, ``{id, score}`` of the ``k`` nearest through the vector index."""
        name = f"search_{'chunks' if target == 'chunks' else 'entities'}_vector_many"
        return self.rows(db, name, {"queries": queries, "k": k, "nprobe": nprobe})

    def search_exact_many(
        self, db: Database, target: str, queries: list[list[float]], k: int
    ) -> list[list[Doc]]:
        """Per query vector, ``{id, score}`` of the ``k`` nearest by a full scan."""
        name = f"search_{_exact_target(target)}_exact_many"
        return self.rows(db, name, {"queries": queries, "k": k})

    def search_bm25(self, db: Database, text: str, k: int) -> list[Doc]:
        """``{id, score}`` of the ``k`` best chunks by BM25 (ties in the server's order)."""
        return self.rows(db, "search_chunks_bm25", {"text": text, "k": k})

    def expand_entities(
        self,
        db: Database,
        *,
        seeds: list[Doc],
        hops: int,
        degree_cap: int,
        max_entities: int,
        max_relations: int,
        graph: str,
    ) -> Doc:
        """``{entities: [{id, score, path, seed}], relations: [edge]}`` around the seeds."""
        binds = {
            "seeds": seeds,
            "hops": hops,
            "degree_cap": degree_cap,
            "max_entities": max_entities,
            "max_relations": max_relations,
            "graph": graph,
        }
        found: Doc = self.one(db, "expand_entities", binds)
        return found

    def retrieve_candidates(self, db: Database, *, exact: bool, binds: Doc) -> Doc:
        """The one-round-trip candidates of ``local``/``hybrid`` retrieval.

        Args:
            db: The database handle.
            exact: Use COSINE_SIMILARITY scans instead of the vector indexes.
            binds: ``query, text, k_chunks, k_entities, seed_ids, hops, degree_cap,
                max_entities, max_relations, graph`` and, unless ``exact``, ``nprobe``.
        """
        name = "retrieve_candidates_exact" if exact else "retrieve_candidates"
        found: Doc = self.one(db, name, binds)
        return found

    def fetch_subgraph(
        self,
        db: Database,
        chunk_ids: Sequence[str],
        entity_ids: Sequence[str],
        degree_cap: int,
        include_relations: bool = True,
    ) -> Doc:
        """``{chunk_entity, entity_entity, counts}`` around the given nodes."""
        binds = {
            "chunk_ids": list(chunk_ids),
            "entity_ids": list(entity_ids),
            "degree_cap": degree_cap,
            "with_relations": include_relations,
        }
        found: Doc = self.one(db, "fetch_subgraph", binds)
        return found

    def stats(self, db: Database) -> Doc:
        """Object counts."""
        found: Doc = self.one(db, "stats", {})
        return found

    def list_merges(self, db: Database, alias_ids: Sequence[str] | None) -> list[Doc]:
        """Merge records oldest first, optionally by alias."""
        wanted = None if alias_ids is None else list(alias_ids)
        return self.rows(db, "list_merges", {"alias_ids": wanted})

    def all_relations(self, db: Database) -> list[Doc]:
        """Every relation edge without its evidence."""
        return self.rows(db, "all_relations", {})

    # ------------------------------------------------------------------ resolution

    def list_dirty_keys(self, db: Database, limit: int) -> list[str]:
        """Up to ``limit`` queued keys."""
        return [str(k) for k in self.rows(db, "list_dirty_keys", {"limit": limit})]

    def mark_keys_dirty(self, db: Database, keys: Sequence[str]) -> None:
        """Queue known keys."""
        self.rows(db, "mark_keys_dirty", {"keys": list(keys)})

    def clear_dirty_keys(self, db: Database, keys: Sequence[str]) -> None:
        """Take keys off the queue."""
        self.rows(db, "clear_dirty_keys", {"keys": list(keys)})

    def get_key_infos(self, db: Database, keys: Sequence[str]) -> list[Doc]:
        """Known keys with support and ``[surface, n]`` counts."""
        return self.rows(db, "get_key_infos", {"keys": list(keys)})

    def find_keys(self, db: Database, by: str, values: Sequence[str]) -> list[Doc]:
        """``{value, keys}`` by ``norm``, ``initials`` or ``entity_id``."""
        name = {"norm": "find_keys_by_norm", "initials": "find_keys_by_initials",
                "entity_id": "find_keys_of_entities"}[by]  # fmt: skip
        return self.rows(db, name, {"values": list(values)})

    def set_key_embeddings(self, db: Database, vectors: Sequence[Doc]) -> None:
        """Store ``{key, embedding}`` items."""
        self.rows(db, "set_key_embeddings", {"vectors": list(vectors)})

    def add_key_links(self, db: Database, links: Sequence[Doc], linked: Sequence[str]) -> None:
        """Store link documents and mark keys linked."""
        self.rows(db, "add_key_links", {"links": list(links), "linked": list(linked)})

    def list_key_links(self, db: Database, keys: Sequence[str]) -> list[Doc]:
        """``{a, b, score}`` of the links touching the keys."""
        return self.rows(db, "list_key_links", {"keys": list(keys)})

    def find_shared_documents(self, db: Database, pairs: Sequence[Sequence[str]]) -> list[Any]:
        """The ``[key, key]`` pairs mentioned in a common document."""
        return self.rows(db, "find_shared_documents", {"pairs": [list(p) for p in pairs]})

    def list_documents_of_keys(self, db: Database, keys: Sequence[str]) -> list[str]:
        """Documents whose chunks mention any of the keys."""
        return [str(d) for d in self.rows(db, "list_documents_of_keys", {"keys": list(keys)})]

    def list_pending_documents(self, db: Database, limit: int) -> list[str]:
        """Up to ``limit`` documents waiting to be derived again."""
        return [str(d) for d in self.rows(db, "list_pending_documents", {"limit": limit})]

    def set_key_entities(self, db: Database, assignments: Sequence[Doc]) -> None:
        """Record ``{key, entity_id}`` assignments (one row)."""
        self.one(db, "set_key_entities", {"assignments": list(assignments)})

    def remove_keys(self, db: Database, keys: Sequence[str]) -> None:
        """Drop keys and their links."""
        self.rows(db, "remove_keys", {"keys": list(keys)})

    def list_active_merges(self, db: Database, aliases: Sequence[str]) -> list[str]:
        """Keys of the active merge records of the aliases (one row)."""
        found = self.one(db, "list_active_merges", {"aliases": list(aliases)}) or []
        return [str(k) for k in found]

    def remove_merges(self, db: Database, keys: Sequence[str]) -> None:
        """Remove merge records by key (one row)."""
        self.one(db, "remove_merges", {"keys": list(keys)})

    def upsert_merges(self, db: Database, merges: Sequence[Doc]) -> None:
        """Insert merge records or update active ones (one row)."""
        self.one(db, "upsert_merges", {"merges": list(merges)})

    def refresh_entities(self, db: Database, items: Sequence[Doc]) -> None:
        """Set entities to their derived view (``{key, patch}`` items; one row)."""
        self.one(db, "refresh_entities", {"entities": list(items)})

    def mark_documents_pending(self, db: Database, keys: Sequence[str]) -> None:
        """Documents to derive again (one row)."""
        self.one(db, "mark_documents_pending", {"keys": list(keys)})

    def search_keys(
        self, db: Database, queries: list[list[float]], k: int, threshold: float,
        nprobe: int | None,
    ) -> list[list[Doc]]:  # fmt: skip
        """Per query vector, keys with a cosine of at least ``threshold`` (``nprobe``: ANN)."""
        binds: Doc = {"queries": queries, "k": k, "threshold": threshold}
        if nprobe is None:
            return self.rows(db, "search_keys_exact_many", binds)
        return self.rows(db, "search_keys_vector_many", {**binds, "nprobe": nprobe})

    def acquire_writer_lock(self, db: Database, owner: str, ttl_ms: int) -> Doc:
        """Take or renew the writer lease (server clock); ``{owner}`` after the attempt."""
        found: Doc = self.one(db, "acquire_writer_lock", {"owner": owner, "ttl": ttl_ms})
        return found

    def fence_writer_lock(self, db: Database, owner: str, ttl_ms: int) -> int:
        """Extend the lease inside a write transaction; 0 when it is not held any more."""
        return int(self.one(db, "fence_writer_lock", {"owner": owner, "ttl": ttl_ms}) or 0)

    def release_writer_lock(self, db: Database, owner: str) -> None:
        """Give the writer lease back (if held by ``owner``)."""
        self.rows(db, "release_writer_lock", {"owner": owner})

    def count_embeddings(self, db: Database, collection: str) -> int:
        """How many documents of ``collection`` carry an embedding."""
        return int(self.one(db, "count_embeddings", {"@collection": collection}) or 0)

    # ------------------------------------------------------------------ jobs, API keys

    def upsert_job(self, db: Database, doc: Doc) -> None:
        """Insert or replace a job document (``doc`` carries its ``_key``)."""
        self.rows(db, "upsert_job", {"job": doc})

    def get_job(self, db: Database, key: str) -> Doc | None:
        """The job with this key, or ``None``."""
        found: Doc | None = self.one(db, "get_job", {"key": key})
        return found

    def list_jobs(self, db: Database, status: str | None, offset: int, limit: int) -> list[Doc]:
        """Jobs newest first, optionally by status, one page."""
        binds = {"status": status, "offset": offset, "limit": limit}
        return self.rows(db, "list_jobs", binds)

    def claim_job(
        self, db: Database, key: str, worker: str, now: str, stale_before: str
    ) -> Doc | None:
        """Take a claimable job for ``worker``; the job as claimed, or ``None``."""
        binds = {"key": key, "worker": worker, "now": now, "stale_before": stale_before}
        found: Doc | None = self.one(db, "claim_job", binds)
        return found

    def save_api_key(self, db: Database, doc: Doc) -> None:
        """Insert or replace an API key document (``doc`` carries its ``_key``)."""
        self.rows(db, "save_api_key", {"record": doc})

    def find_api_key(self, db: Database, key_hash: str) -> Doc | None:
        """The API key record with this hash, or ``None``."""
        found: Doc | None = self.one(db, "find_api_key", {"key_hash": key_hash})
        return found

    def list_api_keys(self, db: Database) -> list[Doc]:
        """Every API key record, newest first."""
        return self.rows(db, "list_api_keys", {})
