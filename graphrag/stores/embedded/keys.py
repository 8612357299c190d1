"""SQL of the resolution state in the embedded store (see :mod:`graphrag.resolution`).

Write functions run inside a transaction the caller opens; read functions take any
connection.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence

from graphrag.ids import normalize_name
from graphrag.models import Chunk, Vector
from graphrag.resolution.keys import initials, surface_rows
from graphrag.resolution.models import KeyInfo, KeyLink, ResolutionChange
from graphrag.stores.embedded import rows
from graphrag.stores.embedded.rows import batched, marks

# --------------------------------------------------------------------------- writes


def write_surfaces(conn: sqlite3.Connection, chunks: Sequence[Chunk]) -> None:
    """Count the keys of the chunks' extractions; register and mark the keys dirty."""
    surfaces: list[tuple[str, str, str, int]] = []
    keys: dict[str, tuple[str, str, str | None]] = {}
    for chunk in chunks:
        for row in surface_rows(chunk.extraction):
            surfaces.append((chunk.id, row.key, row.surface, row.n))
            keys[row.key] = (row.norm, row.type, initials(row.norm))
    if not surfaces:
        return
    conn.executemany(
        "INSERT INTO surfaces (chunk_id, key, surface, n) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (chunk_id, key, surface) DO UPDATE SET n = n + excluded.n",
        surfaces,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO keys (key, norm, type, initials) VALUES (?, ?, ?, ?)",
        [(k, norm, kind, abbr) for k, (norm, kind, abbr) in keys.items()],
    )
    conn.executemany("INSERT OR IGNORE INTO dirty_keys (key) VALUES (?)", [(k,) for k in keys])


def retract_surfaces(conn: sqlite3.Connection, chunk_ids: Sequence[str]) -> None:
    """Remove the key counts of chunks, marking their keys dirty."""
    for batch in batched(list(chunk_ids)):
        where = f"chunk_id IN ({marks(len(batch))})"
        conn.execute(
            "INSERT OR IGNORE INTO dirty_keys (key) "  # noqa: S608
            f"SELECT DISTINCT key FROM surfaces WHERE {where}",
            tuple(batch),
        )
        conn.execute(f"DELETE FROM surfaces WHERE {where}", tuple(batch))  # noqa: S608


def mark_dirty(conn: sqlite3.Connection, keys: Sequence[str]) -> None:
    """Mark known keys dirty."""
    for batch in batched(list(keys)):
        conn.execute(
            "INSERT OR IGNORE INTO dirty_keys (key) SELECT key FROM keys "  # noqa: S608
            f"WHERE key IN ({marks(len(batch))})",
            tuple(batch),
        )


def clear_dirty(conn: sqlite3.Connection, keys: Sequence[str]) -> None:
    """Unmark keys."""
    for batch in batched(list(keys)):
        conn.execute(f"DELETE FROM dirty_keys WHERE key IN ({marks(len(batch))})", tuple(batch))  # noqa: S608


def set_embeddings(conn: sqlite3.Connection, vectors: Mapping[str, Vector]) -> None:
    """Store key name embeddings."""
    conn.executemany(
        "UPDATE keys SET embedding = ? WHERE key = ?",
        [(rows.to_blob(v), k) for k, v in vectors.items()],
    )


def add_links(conn: sqlite3.Connection, links: Sequence[KeyLink], linked: Sequence[str]) -> None:
    """Store similarity links and mark keys as linked."""
    conn.executemany(
        "INSERT OR REPLACE INTO key_links (a, b, score) VALUES (?, ?, ?)",
        [(link.a, link.b, link.score) for link in links],
    )
    conn.executemany("UPDATE keys SET linked = 1 WHERE key = ?", [(k,) for k in linked])


def _refresh_entities(conn: sqlite3.Connection, change: ResolutionChange) -> None:
    for entity in change.entities:
        updated = conn.execute(
            "UPDATE entities SET name = ?, aliases = ?, "
            "embedding = coalesce(?, embedding) WHERE id = ?",
            (entity.name, rows.dumps(entity.aliases), rows.to_blob(entity.embedding), entity.id),
        ).rowcount
        if updated:
            replace_names(conn, entity.id, [entity.name, *entity.aliases])


def replace_names(conn: sqlite3.Connection, entity_id: str, names: Sequence[str]) -> None:
    """Replace the normalised names an entity is found by."""
    conn.execute("DELETE FROM entity_names WHERE entity_id = ?", (entity_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO entity_names (norm, entity_id) VALUES (?, ?)",
        [(n, entity_id) for n in {normalize_name(name) for name in names} if n],
    )


def apply(conn: sqlite3.Connection, change: ResolutionChange) -> int:
    """Apply a resolution pass (inside a transaction); return the new merge records."""
    conn.executemany(
        "UPDATE keys SET entity_id = ? WHERE key = ?",
        [(eid, k) for k, eid in change.assignments.items()],
    )
    for batch in batched(change.removed):
        where = marks(len(batch))
        conn.execute(f"DELETE FROM key_links WHERE a IN ({where})", tuple(batch))  # noqa: S608
        conn.execute(f"DELETE FROM key_links WHERE b IN ({where})", tuple(batch))  # noqa: S608
        conn.execute(f"DELETE FROM keys WHERE key IN ({where})", tuple(batch))  # noqa: S608
    keep = {m.id for m in change.merges}
    active = {
        str(r[0])
        for batch in batched(change.region)
        for r in conn.execute(
            f"SELECT id FROM merges WHERE undone_at IS NULL AND alias_id IN ({marks(len(batch))})",  # noqa: S608
            tuple(batch),
        )
    }
    for batch in batched(sorted(active - keep)):
        conn.execute(f"DELETE FROM merges WHERE id IN ({marks(len(batch))})", tuple(batch))  # noqa: S608
    # a record that stays keeps its creation time; name, method and score follow the pass
    conn.executemany(
        f"INSERT INTO merges ({rows.MERGE_COLUMNS}) VALUES ({marks(9)}) "  # noqa: S608
        "ON CONFLICT (id) DO UPDATE SET alias_name = excluded.alias_name, "
        "alias_type = excluded.alias_type, score = excluded.score, method = excluded.method "
        "WHERE undone_at IS NULL",
        [rows.merge_row(m) for m in change.merges],
    )
    new = len(keep - active)
    _refresh_entities(conn, change)
    for batch in batched(change.documents):
        conn.execute(
            f"UPDATE documents SET derived = 0 WHERE id IN ({marks(len(batch))})",  # noqa: S608
            tuple(batch),
        )
    return new


# --------------------------------------------------------------------------- reads


def dirty(conn: sqlite3.Connection, limit: int) -> list[str]:
    """Up to ``limit`` dirty keys, in key order."""
    found = conn.execute("SELECT key FROM dirty_keys ORDER BY key LIMIT ?", (limit,))
    return [str(r[0]) for r in found]


def infos(conn: sqlite3.Connection, keys: Sequence[str]) -> list[KeyInfo]:
    """The known keys among ``keys`` with their support and surface counts."""
    found: dict[str, KeyInfo] = {}
    for batch in batched(list(dict.fromkeys(keys))):
        params = tuple(batch)
        where = f"key IN ({marks(len(batch))})"
        sql = f"SELECT key, norm, type, entity_id, linked, embedding FROM keys WHERE {where}"  # noqa: S608
        for key, norm, kind, eid, linked, blob in conn.execute(sql, params):
            found[key] = KeyInfo(key=key, norm=norm, type=kind, entity_id=eid,
                                 linked=bool(linked), embedding=rows.from_blob(blob))  # fmt: skip
        sql = f"SELECT key, count(DISTINCT chunk_id) FROM surfaces WHERE {where} GROUP BY key"  # noqa: S608
        for key, support in conn.execute(sql, params):
            if key in found:
                found[key].support = int(support)
        sql = f"SELECT key, surface, sum(n) FROM surfaces WHERE {where} GROUP BY key, surface"  # noqa: S608
        for key, surface, n in conn.execute(sql, params):
            if key in found:
                found[key].surfaces[surface] = int(n)
    return [found[k] for k in keys if k in found]


def _grouped(conn: sqlite3.Connection, sql: str, values: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for batch in batched(list(dict.fromkeys(values))):
        for value, key in conn.execute(sql.format(marks=marks(len(batch))), tuple(batch)):
            out[str(value)].append(str(key))
    return dict(out)


def by_norm(conn: sqlite3.Connection, norms: Sequence[str]) -> dict[str, list[str]]:
    """Normalised name -> keys."""
    return _grouped(conn, "SELECT norm, key FROM keys WHERE norm IN ({marks}) ORDER BY key", norms)


def by_initials(conn: sqlite3.Connection, values: Sequence[str]) -> dict[str, list[str]]:
    """Acronym -> multi-word keys with those initials."""
    sql = "SELECT initials, key FROM keys WHERE initials IN ({marks}) ORDER BY key"
    return _grouped(conn, sql, values)


def of_entities(conn: sqlite3.Connection, entity_ids: Sequence[str]) -> dict[str, list[str]]:
    """Entity id -> keys resolving to it."""
    sql = "SELECT entity_id, key FROM keys WHERE entity_id IN ({marks}) ORDER BY key"
    return _grouped(conn, sql, entity_ids)


def links(conn: sqlite3.Connection, keys: Sequence[str]) -> list[KeyLink]:
    """Links touching any of ``keys``."""
    found: dict[tuple[str, str], KeyLink] = {}
    for batch in batched(list(dict.fromkeys(keys))):
        for column in ("a", "b"):
            sql = f"SELECT a, b, score FROM key_links WHERE {column} IN ({marks(len(batch))})"  # noqa: S608
            for a, b, score in conn.execute(sql, tuple(batch)):
                found[(a, b)] = KeyLink(a=a, b=b, score=float(score))
    return [found[k] for k in sorted(found)]


def shared(conn: sqlite3.Connection, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The pairs of keys mentioned in a common document."""
    out: set[tuple[str, str]] = set()
    for first, second in pairs:
        row = conn.execute(
            "SELECT 1 FROM surfaces s1 JOIN chunks c1 ON c1.id = s1.chunk_id "
            "WHERE s1.key = ? AND EXISTS (SELECT 1 FROM surfaces s2 "
            "JOIN chunks c2 ON c2.id = s2.chunk_id "
            "WHERE s2.key = ? AND c2.document_id = c1.document_id) LIMIT 1",
            (first, second),
        ).fetchone()
        if row is not None:
            out.add((first, second))
    return out


def documents_of(conn: sqlite3.Connection, keys: Sequence[str]) -> list[str]:
    """Documents whose chunks mention any of ``keys``."""
    found: set[str] = set()
    for batch in batched(list(dict.fromkeys(keys))):
        sql = (
            "SELECT DISTINCT c.document_id FROM surfaces s JOIN chunks c ON c.id = s.chunk_id "  # noqa: S608
            f"WHERE s.key IN ({marks(len(batch))})"
        )
        found.update(str(r[0]) for r in conn.execute(sql, tuple(batch)))
    return sorted(found)


def pending(conn: sqlite3.Connection, limit: int) -> list[str]:
    """Up to ``limit`` documents waiting to be derived again (not those still being written)."""
    found = conn.execute(
        "SELECT id FROM documents WHERE derived = 0 AND status = 'done' ORDER BY id LIMIT ?",
        (limit,),
    )
    return [str(r[0]) for r in found]


def resolution_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Keys, dirty keys and pending documents."""
    return {
        "keys": int(conn.execute("SELECT count(*) FROM keys").fetchone()[0]),
        "dirty_keys": int(conn.execute("SELECT count(*) FROM dirty_keys").fetchone()[0]),
        "pending_documents": int(
            conn.execute(
                "SELECT count(*) FROM documents WHERE derived = 0 AND status = 'done'"
            ).fetchone()[0]
        ),
    }
