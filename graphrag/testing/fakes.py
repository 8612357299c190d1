"""Deterministic fakes that implement the ports, for tests and offline demos.

Example:
    >>> embedder = HashEmbedder(dim=16)
    >>> embedder.embed_sync(["Marie Curie"]).shape
    (1, 16)
    >>> chat = ScriptedChatModel(["first answer"])
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterable, Sequence

import numpy as np

from graphrag.errors import InvalidArgumentError, LLMError
from graphrag.ports import EmbedKind

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """:class:`~graphrag.ports.Embedder` hashing words and character trigrams into a vector.

    Strings that share words or trigrams get similar vectors, identical strings get identical
    vectors, and nothing is loaded: good for tests that need plausible similarity, fast.

    Args:
        dim: The vector dimension.
        word_weight: Weight of a whole-word feature relative to a trigram feature.

    Example:
        >>> e = HashEmbedder(dim=64)
        >>> v = e.embed_sync(["Radium Institute", "Radium Institut", "Warsaw"])
        >>> bool(v[0] @ v[1] > v[0] @ v[2])
        True
    """

    def __init__(self, dim: int = 64, *, word_weight: float = 2.0) -> None:
        if dim < 2:
            msg = f"HashEmbedder dim must be at least 2, got {dim}"
            raise InvalidArgumentError(msg)
        self._dim = dim
        self._word_weight = word_weight
        self.calls: list[list[str]] = []

    @property
    def model_name(self) -> str:
        """``hash-embedder-v1``."""
        return "hash-embedder-v1"

    @property
    def dim(self) -> int:
        """The vector dimension."""
        return self._dim

    def _features(self, text: str) -> Iterable[tuple[str, float]]:
        lowered = " ".join(_WORD.findall(text.casefold()))
        if not lowered:
            yield "\x00empty", 1.0
            return
        for word in lowered.split():
            yield "w:" + word, self._word_weight
        padded = f" {lowered} "
        for i in range(len(padded) - 2):
            yield "t:" + padded[i : i + 3], 1.0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dim, dtype=np.float64)
        for feature, weight in self._features(text):
            h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
            sign = 1.0 if h & 1 else -1.0
            vector[(h >> 1) % self._dim] += sign * weight
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # features cancelled out: fall back to a fixed unit vector
            vector[0] = 1.0
            norm = 1.0
        return (vector / norm).astype(np.float32)

    def embed_sync(self, texts: Sequence[str], *, kind: EmbedKind = "passage") -> np.ndarray:
        """Embed texts (blocking, fast).

        Args:
            texts: The texts.
            kind: Ignored (queries and passages embed alike).

        Returns:
            A float32 array of shape ``(len(texts), dim)`` with unit-length rows.
        """
        self.calls.append(list(texts))
        if len(texts) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "passage") -> np.ndarray:
        """Embed texts; same as :meth:`embed_sync`."""
        return self.embed_sync(texts, kind=kind)


class ScriptedChatModel:
    """A chat model that replies with scripted responses, in order, and records the calls.

    A scripted response may be an exception instance, which is raised instead (to test
    error paths); malformed text (``"invalid json"``) tests parsers and retries.

    Args:
        responses: Replies (or exceptions) returned by successive :meth:`complete` calls.
        name: The model name reported by :attr:`model_name`.

    Example:
        >>> chat = ScriptedChatModel(["Paris [1]"])
        >>> asyncio.run(chat.complete([{"role": "user", "content": "Capital?"}]))
        'Paris [1]'
    """

    def __init__(self, responses: Sequence[str | Exception], *, name: str = "scripted") -> None:
        self._responses = list(responses)
        self._name = name
        self.calls: list[list[dict[str, str]]] = []

    @property
    def model_name(self) -> str:
        """The scripted model's name."""
        return self._name

    @property
    def remaining(self) -> int:
        """How many scripted responses are left."""
        return len(self._responses) - len(self.calls)

    async def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """Return the next scripted response.

        Args:
            messages: Chat messages (``{"role": ..., "content": ...}``); recorded in
                :attr:`calls`.

        Returns:
            The next scripted text.

        Raises:
            LLMError: When every scripted response has been used.
            Exception: A scripted exception, raised as given.
        """
        await asyncio.sleep(0)
        index = len(self.calls)
        self.calls.append([dict(message) for message in messages])
        if index >= len(self._responses):
            msg = (
                f"ScriptedChatModel {self._name!r} has no response left for call "
                f"{index + 1} ({len(self._responses)} scripted); script more responses"
            )
            raise LLMError(msg)
        response = self._responses[index]
        if isinstance(response, Exception):
            raise response
        return response
