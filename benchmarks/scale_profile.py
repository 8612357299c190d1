"""Profiling helpers of the scale benchmark: cProfile with thread work inline, summaries.

``asyncio.to_thread`` work (spaCy on the question, the PageRank walk, SQLite, MiniLM) normally
runs in worker threads that cProfile does not see; :func:`inline_threads` runs it in the
calling thread for the profiled pass. :func:`summarise` turns a profile into own-time shares
per library, the top functions by own time and graphrag's functions by cumulative time.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def inline_threads() -> Iterator[None]:
    """Run ``asyncio.to_thread`` work in the calling thread (so cProfile sees it)."""
    original = asyncio.to_thread

    async def inline(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    asyncio.to_thread = inline  # type: ignore[assignment]
    try:
        yield
    finally:
        asyncio.to_thread = original


BUCKETS = (
    ("embedding model (torch)", ("torch", "transformers", "sentence_transformers", "tokenizers")),
    ("spaCy", ("spacy", "thinc", "srsly", "cymem", "preshed")),
    ("SQLite", ("sqlite3",)),
    ("numpy/scipy", ("numpy", "scipy")),
    ("networkx", ("networkx",)),
    ("pydantic", ("pydantic",)),
    ("graphrag (Python)", ("/graphrag/",)),
    ("asyncio", ("asyncio",)),
)


def _bucket(file: str, func: str) -> str:
    where = f"{file} {func}"
    for name, markers in BUCKETS:
        if any(m in where for m in markers):
            return name
    return "other"


def summarise(profiler: cProfile.Profile) -> dict[str, Any]:
    """Own time per library, the top functions by own time, graphrag's by cumulative time."""
    table: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values()) or 1.0
    buckets: Counter[str] = Counter()
    for (file, _, func), row in table.items():
        buckets[_bucket(file, func)] += row[2]

    def entry(key: tuple[str, int, str], row: tuple[Any, ...]) -> dict[str, Any]:
        return {
            "function": f"{_short(key[0])}:{key[1]}:{key[2]}",
            "own_pct": round(100.0 * row[2] / total, 1),
            "cumulative_pct": round(100.0 * row[3] / total, 1),
            "calls": row[1],
        }

    by_own = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)
    ours = sorted(
        ((k, v) for k, v in table.items() if "/graphrag/" in k[0]),
        key=lambda kv: kv[1][3],
        reverse=True,
    )
    return {
        "profiled_seconds": round(total, 2),
        "own_pct_by_library": {k: round(100.0 * v / total, 1) for k, v in buckets.most_common()},
        "top_own": [entry(k, v) for k, v in by_own[:25]],
        "top_graphrag_cumulative": [entry(k, v) for k, v in ours[:20]],
    }


def _short(file: str) -> str:
    for marker in ("/site-packages/", str(ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file
