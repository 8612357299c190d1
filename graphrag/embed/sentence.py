"""Sentence-transformers embedder (default: the bundled all-MiniLM-L6-v2, CPU, offline).

Example:
    ```python
    async def embed() -> None:
        embedder = SentenceTransformerEmbedder(EmbeddingSettings())
        vectors = await embedder.embed(["Marie Curie", "Warsaw"])
        print(vectors.shape)  # (2, 384)
    ```
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from graphrag.config import EmbeddingSettings
from graphrag.embed import default_model_path
from graphrag.errors import EmbeddingError
from graphrag.ports import EmbedKind

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class CacheInfo(NamedTuple):
    """Statistics of the query-embedding cache."""

    hits: int
    misses: int
    size: int
    capacity: int


class SentenceTransformerEmbedder:
    """:class:`~graphrag.ports.Embedder` backed by a local sentence-transformers model.

    The model loads on first use (thread-safe, once), from ``settings.model_path`` or the
    bundled MiniLM folder, with the Hugging Face hub switched off. Texts are sorted by length
    before batching so each batch pads little; vectors come back in input order, float32 and
    L2-normalised. Single query embeddings are kept in an LRU cache.

    Args:
        settings: Model folder, batch size, torch threads and query cache size.

    Example:
        ```python
        embedder = SentenceTransformerEmbedder(EmbeddingSettings(batch_size=64))
        embedder.embed_sync(["a", "b"]).shape  # (2, 384)
        ```
    """

    def __init__(self, settings: EmbeddingSettings) -> None:
        self._settings = settings
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # HF fast tokenizers are not safe to share
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def model_name(self) -> str:
        """The model's name: the folder name, or the upstream name of the bundled model."""
        path = self._settings.model_path
        return BUNDLED_MODEL_NAME if path is None else path.name

    @property
    def dim(self) -> int:
        """The vector dimension.

        Read from the model folder's configuration when the model is a plain transformer +
        pooling (+ normalize) stack, so commands that only open a store (stats, delete, export)
        do not pay for loading the model; otherwise the model is loaded.

        Raises:
            EmbeddingError: If the model cannot be loaded.
        """
        if self._model is None and (known := _declared_dim(self._settings)) is not None:
            return known
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None)  # renamed in s-t 6
        dim = getter() if getter is not None else model.get_sentence_embedding_dimension()
        if dim is None:  # pragma: no cover - every sentence-transformers model reports it
            msg = f"embedding model {self.model_name} does not report its dimension"
            raise EmbeddingError(msg)
        return int(dim)

    def _load(self) -> SentenceTransformer:
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> SentenceTransformer:
        path = default_model_path(self._settings.model_path)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        started = time.perf_counter()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # the library prints nothing: no "\rLoading weights" progress bar on stderr
            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

            torch.set_num_threads(self._settings.threads or os.cpu_count() or 1)
            model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # any loader failure means the folder is unusable
            msg = (
                f"could not load the embedding model from {path} ({type(exc).__name__}: {exc}); "
                "check that the folder holds a complete sentence-transformers model "
                "(modules.json, config.json, weights, tokenizer) or point "
                "GRAPHRAG_EMBEDDING__MODEL_PATH at one"
            )
            raise EmbeddingError(msg) from exc
        logger.info(
            "loaded embedding model %s from %s in %.1f s",
            self.model_name,
            path,
            time.perf_counter() - started,
        )
        return model

    def embed_sync(self, texts: Sequence[str], *, kind: EmbedKind = "passage") -> np.ndarray:
        """Embed texts (blocking).

        Args:
            texts: The texts; order is preserved in the result.
            kind: ``query``, ``passage`` or ``name`` (the same encoding; names always in
                float32, never bfloat16 autocast).

        Returns:
            A float32 array of shape ``(len(texts), dim)`` with unit-length rows.

        Raises:
            EmbeddingError: If the model cannot be loaded or fails on the input.
        """
        model = self._load()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        try:
            import torch

            precision = _precision(torch, kind, self._settings.precision)
            with self._run_lock, torch.inference_mode(), precision:
                parts = [
                    model.encode(
                        group,
                        batch_size=len(group),
                        convert_to_numpy=True,
                        normalize_embeddings=True,
                        show_progress_bar=False,
                    )
                    for group in _length_batches(ordered, self._settings.batch_size)
                ]
            vectors = np.concatenate(parts)
        except (RuntimeError, ValueError, TypeError) as exc:
            msg = f"embedding {len(texts)} {kind} texts with {self.model_name} failed: {exc}"
            raise EmbeddingError(msg) from exc
        out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[np.asarray(order)] = vectors
        return out

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "passage") -> np.ndarray:
        """Embed texts off the event loop; single queries are served from an LRU cache.

        Args:
            texts: The texts; order is preserved in the result.
            kind: ``query`` or ``passage``.

        Returns:
            A float32 array of shape ``(len(texts), dim)`` with unit-length rows.

        Raises:
            EmbeddingError: If the model cannot be loaded or fails on the input.
        """
        cacheable = kind == "query" and len(texts) == 1 and self._settings.cache_size > 0
        if not cacheable:
            return await asyncio.to_thread(self.embed_sync, texts, kind=kind)
        text = texts[0]
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._hits += 1
                self._cache.move_to_end(text)
                return hit[None, :].copy()
            self._misses += 1
        vectors = await asyncio.to_thread(self.embed_sync, texts, kind=kind)
        with self._cache_lock:
            self._cache[text] = vectors[0].copy()
            self._cache.move_to_end(text)
            while len(self._cache) > self._settings.cache_size:
                self._cache.popitem(last=False)
        return vectors

    def cache_info(self) -> CacheInfo:
        """Return the query cache's hits, misses, size and capacity."""
        with self._cache_lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self._settings.cache_size)


_PLAIN_MODULES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
}


def _declared_dim(settings: EmbeddingSettings) -> int | None:
    """The output dimension from ``modules.json`` + the pooling config, if unambiguous."""
    try:
        folder = default_model_path(settings.model_path)
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if {m["type"] for m in modules} - _PLAIN_MODULES:
            return None  # a Dense or other layer may change the dimension
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((folder / pooling["path"] / "config.json").read_text("utf-8"))
        return int(config["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, StopIteration, TypeError, EmbeddingError):
        return None


def cpu_has_bf16() -> bool:
    """Whether the CPU has native bfloat16 dot products (AVX512-BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False


def _precision(torch: Any, kind: EmbedKind, setting: str) -> contextlib.AbstractContextManager[Any]:
    """The precision context of one embedding call.

    Names are always embedded in float32: they decide merges by a cosine threshold, and
    float32 keeps their vectors the same whatever the batch (bfloat16 varies by about 1e-3
    with the batch's padding). Questions are embedded in float32 on ``auto``: one short text
    gains nothing from bfloat16 and pays for the casts (p50 29 -> 20 ms per musique_train
    question on the 2-core AVX512-BF16 machine, ``benchmarks/global_search.py``).
    """
    if kind == "name" or (kind == "query" and setting == "auto"):
        return contextlib.nullcontext()
    return _autocast(torch, setting)


def _autocast(torch: Any, precision: str) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast when asked for, or on ``auto`` when the CPU computes it natively.

    On CPUs with AVX512-BF16 this is about 1.45x faster for MiniLM, and the vectors stay
    within cosine 0.9999 of float32 (measured on the MuSiQue passages).
    """
    use = precision == "bfloat16" or (precision == "auto" and cpu_has_bf16())
    if use:
        return cast(
            contextlib.AbstractContextManager[Any], torch.autocast("cpu", dtype=torch.bfloat16)
        )
    return contextlib.nullcontext()


_BATCH_CHARS = 8_000  # characters per forward pass: long passages go 16 at a time, names 100+
_MAX_TEXT_CHARS = 2_000  # the model reads at most 256 tokens: longer texts cost no more


def _length_batches(ordered: Sequence[str], max_items: int) -> list[list[str]]:
    """Split length-sorted texts into batches of about :data:`_BATCH_CHARS` characters.

    On CPU, attention cost grows with the padded length, so short texts are fastest in large
    batches and long passages in small ones (measured on 2 cores: passages 54/s in batches of
    16 against 42/s in batches of 64).
    """
    batches: list[list[str]] = []
    current: list[str] = []
    for text in ordered:
        longest = min(max(len(text), 1), _MAX_TEXT_CHARS)
        if current and ((len(current) + 1) * longest > _BATCH_CHARS or len(current) >= max_items):
            batches.append(current)
            current = []
        current.append(text)
    if current:
        batches.append(current)
    return batches
