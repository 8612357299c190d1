"""In-memory indexes of the embedded store, rebuilt lazily when the data changes.

* :class:`VectorMatrix`: the L2-normalised embeddings of chunks, entities, resolution keys or
  community summaries as one float32 matrix; a search is one matrix-vector product.
* :class:`GraphIndex`: integer-coded adjacency (CSR arrays) of relations and mentions, for
  traversal, graph chunk collection and subgraph extraction in a few milliseconds.
* :func:`fts_query`: turns free text into a safe FTS5 ``MATCH`` expression.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from graphrag.errors import StoreQueryError
from graphrag.models import Hit, Vector

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_WORD = re.compile(r"\w+")
_STOPWORD_TEXT = """
    a about above after again all also am an and any are as at be because been before
    being between both but by can could did do does doing during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me
    more most my no nor not of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom
    whose why will with would you your yours
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
MAX_QUERY_TERMS = 64


def fts_query(text: str) -> str | None:
    r"""Build an any-term FTS5 query from free text.

    Words (``\w+``) are lower-cased, stopwords dropped, duplicates removed; each word is
    double-quoted (a word never contains a quote, so FTS5 syntax cannot be injected) and the
    words are joined with ``OR``.

    Args:
        text: The user's query text.

    Returns:
        The ``MATCH`` expression, or ``None`` if no searchable word is left.

    Example:
        >>> fts_query("Who founded the Radium Institute?")
        '"founded" OR "radium" OR "institute"'
        >>> fts_query('radium NEAR("x" y)'), fts_query("the of")
        ('"radium" OR "near" OR "x" OR "y"', None)
    """
    words = [w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS]
    unique = list(dict.fromkeys(words))[:MAX_QUERY_TERMS]
    if not unique:
        return None
    return " OR ".join(f'"{w}"' for w in unique)


def as_query_vector(vector: Vector, dim: int) -> npt.NDArray[np.float32]:
    """Return a query vector as a normalised 1-D float32 array.

    Raises:
        StoreQueryError: If it does not have ``dim`` components.
    """
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim > 2 or array.size != dim or (array.ndim == 2 and array.shape[0] != 1):
        msg = (
            f"query vector has shape {array.shape} but the store holds {dim}-d vectors; "
            "embed the query with the store's embedding model"
        )
        raise StoreQueryError(msg)
    flat = array.reshape(-1)
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 0 else flat


@dataclass(frozen=True)
class VectorMatrix:
    """Normalised embeddings of one collection."""

    ids: list[str]
    matrix: npt.NDArray[np.float32]

    @classmethod
    def load(
        cls,
        conn: sqlite3.Connection,
        target: Literal["chunks", "entities", "keys", "communities"],
        dim: int,
    ) -> VectorMatrix:
        """Read every embedding of ``target`` (rows without one are skipped)."""
        column = "key" if target == "keys" else "id"
        sql = (
            f"SELECT {column}, embedding FROM {target} "  # noqa: S608
            "WHERE embedding IS NOT NULL ORDER BY rowid"
        )
        rows = conn.execute(sql).fetchall()
        ids = [str(r[0]) for r in rows]
        if not rows:
            return cls(ids=[], matrix=np.zeros((0, dim), dtype=np.float32))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        matrix = matrix.reshape(len(rows), dim).copy()
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return cls(ids=ids, matrix=matrix)

    def search(self, query: npt.NDArray[np.float32], k: int) -> list[Hit]:
        """Return the ``k`` most similar rows by dot product, best first."""
        n = len(self.ids)
        if k <= 0 or n == 0:
            return []
        # einsum runs single-threaded without BLAS: on small shared machines a multi-threaded
        # BLAS matvec is several times slower (thread hand-offs) than this memory-bound loop
        scores = np.einsum("ij,j->i", self.matrix, query)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.lexsort((top, -scores[top]))]
        return [Hit(id=self.ids[i], score=float(scores[i])) for i in top.tolist()]

    def search_many(self, queries: npt.NDArray[np.float32], k: int) -> list[list[Hit]]:
        """Return the ``k`` most similar rows for each query row, best first."""
        n = len(self.ids)
        if k <= 0 or n == 0:
            return [[] for _ in range(len(queries))]
        out: list[list[Hit]] = []
        for start in range(0, len(queries), _QUERY_BLOCK):
            scores = queries[start : start + _QUERY_BLOCK] @ self.matrix.T
            if k < n:
                top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            else:
                top = np.broadcast_to(np.arange(n), scores.shape)
            for row, cols in zip(scores, top, strict=True):
                ranked = cols[np.lexsort((cols, -row[cols]))]
                out.append([Hit(id=self.ids[i], score=float(row[i])) for i in ranked.tolist()])
        return out

    def search_threshold(
        self, queries: npt.NDArray[np.float32], threshold: float, k: int
    ) -> list[list[Hit]]:
        """Return, for each query row, up to ``k`` rows scoring at least ``threshold``.

        Exact: every row is compared. Hits are best first, ties by id.
        """
        out: list[list[Hit]] = []
        if len(self.ids) == 0 or k <= 0:
            return [[] for _ in range(len(queries))]
        for start in range(0, len(queries), _QUERY_BLOCK):
            scores = queries[start : start + _QUERY_BLOCK] @ self.matrix.T
            for row in scores:
                cols = np.nonzero(row >= threshold)[0]
                ranked = sorted(cols.tolist(), key=lambda i: (-float(row[i]), self.ids[i]))[:k]
                out.append([Hit(id=self.ids[i], score=float(row[i])) for i in ranked])
        return out


_QUERY_BLOCK = 512


def _csr(
    rows: IntArray, cols: IntArray, weights: FloatArray, n: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Sort edges by (row, -weight, col) and return ``(indptr, cols, weights)``."""
    order = np.lexsort((cols, -weights, rows))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols[order], weights[order]


def gather(indptr: IntArray, nodes: IntArray, cap: int | None = None) -> tuple[IntArray, IntArray]:
    """Return the CSR positions of the (capped) rows of ``nodes`` and each position's node."""
    starts = indptr[nodes]
    counts = indptr[nodes + 1] - starts
    if cap is not None:
        counts = np.minimum(counts, cap)
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    positions = offsets + np.arange(total, dtype=np.int64)
    return positions, np.repeat(nodes, counts)


@dataclass(frozen=True)
class GraphIndex:
    """Integer-coded relations and mentions of the whole store.

    Attributes:
        entity_ids / chunk_ids: Position -> id.
        rel_ids, rel_src, rel_dst, rel_weight: One entry per relation (weight = evidence sum).
        adj_ptr, adj_nbr, adj_w: Undirected entity adjacency, parallel relations summed,
            each row sorted by weight (descending).
        ent_ptr, ent_chunk, ent_w: Chunks mentioning each entity, most spans first, then by
            chunk id (chunk positions follow the ids).
        chk_ptr, chk_ent, chk_w: Entities mentioned by each chunk.
        inc_ptr, inc_rel: Relations incident to each entity (either end).
    """

    entity_ids: list[str]
    entity_pos: dict[str, int]
    chunk_ids: list[str]
    chunk_pos: dict[str, int]
    rel_ids: list[str]
    rel_src: IntArray
    rel_dst: IntArray
    rel_weight: FloatArray
    adj_ptr: IntArray
    adj_nbr: IntArray
    adj_w: FloatArray
    ent_ptr: IntArray
    ent_chunk: IntArray
    ent_w: FloatArray
    chk_ptr: IntArray
    chk_ent: IntArray
    chk_w: FloatArray
    inc_ptr: IntArray
    inc_rel: IntArray

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> GraphIndex:
        """Read relations and mentions (call inside one read transaction)."""
        entity_ids = [str(r[0]) for r in conn.execute("SELECT id FROM entities ORDER BY rowid")]
        # chunk positions in id order: an entity's chunks (ent_*) are then ordered by most
        # spans, then chunk id, as the ArangoDB queries sort them (``m._from``)
        chunk_ids = [str(r[0]) for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
        entity_pos = {e: i for i, e in enumerate(entity_ids)}
        chunk_pos = {c: i for i, c in enumerate(chunk_ids)}
        rel_rows = conn.execute(
            "SELECT r.id, r.source_id, r.target_id, COALESCE((SELECT sum(e.weight) "
            "FROM evidence e WHERE e.relation_id = r.id), 0.0) FROM relations r ORDER BY r.rowid"
        ).fetchall()
        rel_src = np.array([entity_pos[r[1]] for r in rel_rows], dtype=np.int64)
        rel_dst = np.array([entity_pos[r[2]] for r in rel_rows], dtype=np.int64)
        rel_weight = np.array([float(r[3]) for r in rel_rows], dtype=np.float64)
        adj = _adjacency(rel_src, rel_dst, rel_weight, len(entity_ids))
        positions = np.arange(rel_src.size, dtype=np.int64)
        inc_ptr, inc_rel, _ = _csr(
            np.concatenate([rel_src, rel_dst]),
            np.concatenate([positions, positions]),
            np.zeros(2 * rel_src.size),
            len(entity_ids),
        )
        men_rows = conn.execute(
            "SELECT chunk_id, entity_id, max(json_array_length(spans), 1) FROM mentions"
        ).fetchall()
        m_chunk = np.array([chunk_pos[r[0]] for r in men_rows], dtype=np.int64)
        m_ent = np.array([entity_pos[r[1]] for r in men_rows], dtype=np.int64)
        m_w = np.array([float(r[2]) for r in men_rows], dtype=np.float64)
        ent = _csr(m_ent, m_chunk, m_w, len(entity_ids))
        chk = _csr(m_chunk, m_ent, m_w, len(chunk_ids))
        return cls(
            entity_ids, entity_pos, chunk_ids, chunk_pos,
            [str(r[0]) for r in rel_rows], rel_src, rel_dst, rel_weight,
            *adj, *ent, *chk, inc_ptr, inc_rel,
        )  # fmt: skip

    def entity_positions(self, ids: list[str]) -> IntArray:
        """Return the positions of known entity ids (unknown ids dropped, order kept)."""
        return np.array([self.entity_pos[i] for i in ids if i in self.entity_pos], dtype=np.int64)

    def chunk_positions(self, ids: list[str]) -> IntArray:
        """Return the positions of known chunk ids (unknown ids dropped, order kept)."""
        return np.array([self.chunk_pos[i] for i in ids if i in self.chunk_pos], dtype=np.int64)

    def mention_counts(self, entities: IntArray) -> IntArray:
        """Return the number of chunks mentioning each entity."""
        return self.ent_ptr[entities + 1] - self.ent_ptr[entities]


def _adjacency(
    src: IntArray, dst: IntArray, weight: FloatArray, n: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Symmetrise relations, sum parallel edges and drop self loops; return a CSR."""
    keep = src != dst
    rows = np.concatenate([src[keep], dst[keep]])
    cols = np.concatenate([dst[keep], src[keep]])
    weights = np.concatenate([weight[keep], weight[keep]])
    if rows.size:
        pair = rows * n + cols
        unique, inverse = np.unique(pair, return_inverse=True)
        weights = np.bincount(inverse, weights=weights).astype(np.float64)
        rows, cols = unique // n, unique % n
    return _csr(rows, cols, weights, n)
