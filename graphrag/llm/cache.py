"""The persistent reply cache: a rerun of the same calls makes no call to the model.

:class:`LLMCache` is one SQLite file (default ``.graphrag/llm_cache.db``) in WAL mode with a
busy timeout, so several processes (ingest workers, the API) can share it. The key is the
SHA-256 of the model name, the messages and the parameters that change a reply
(``max_tokens``, ``temperature``, ``json_mode``); the value is the reply text and the usage
of the call that produced it. :class:`CachedChatModel` puts it in front of any model.

Every reply is kept, malformed ones too (the model's output is data; the caller decides).
A caller that retries a malformed reply should change the prompt (e.g. add the parse
error), or drop the entry first with :meth:`CachedChatModel.forget`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import NotRequired, TypedDict, Unpack

from graphrag.llm.base import ChatMessage, ChatModel, ChatResult, ChatStream, Usage
from graphrag.llm.errors import LLMConfigError
from graphrag.llm.usage import UsageMeter

logger = logging.getLogger(__name__)

KEY_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    reply_model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    finish_reason TEXT,
    created_at REAL NOT NULL
)
"""


def cache_key(
    model: str,
    messages: Sequence[ChatMessage],
    *,
    max_tokens: int,
    temperature: float,
    json_mode: bool = False,
) -> str:
    """Return the cache key of a request: SHA-256 hex of model, messages and parameters.

    Example:
        >>> k = cache_key("m", [ChatMessage.user("hi")], max_tokens=8, temperature=0.0)
        >>> len(k), k == cache_key("m", [ChatMessage.user("hi")], max_tokens=8, temperature=0)
        (64, True)
    """
    payload = {
        "v": KEY_VERSION,
        "model": model,
        "messages": [[m.role, m.content] for m in messages],
        "max_tokens": int(max_tokens),
        "temperature": float(temperature),
        "json_mode": bool(json_mode),
    }
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class RequestParams(TypedDict):
    """The parameters of a request that change its reply, hence its key (:func:`cache_key`).

    ``json_mode`` may be left out (``False``).
    """

    max_tokens: int
    temperature: float
    json_mode: NotRequired[bool]


class LLMCache:
    """Replies by request key in one SQLite file, safe across threads and processes.

    The file is opened on first use (its folder created). Counters :attr:`hits` and
    :attr:`misses` are per instance.

    Args:
        path: The SQLite file.
        busy_timeout: Seconds to wait for another process's write.
    """

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=self._busy_timeout, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
                self._setup(conn)
            except (OSError, sqlite3.Error) as exc:
                raise self._error(exc) from exc
            self._conn = conn
        return self._conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL and create the table, waiting out another process doing the same.

        Two processes opening a new cache at once both try to change the journal mode; SQLite
        may answer "database is locked" at once (without the busy handler, to avoid a
        deadlock), so the setup is tried again for up to ``busy_timeout`` seconds.
        """
        deadline = time.monotonic() + self._busy_timeout
        pause = 0.02
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause * (1.0 + random.random()))
                pause = min(pause * 2, 0.5)

    def _error(self, exc: Exception) -> LLMConfigError:
        msg = (
            f"cannot use the LLM cache {self.path} ({exc}); fix GRAPHRAG_LLM__CACHE_PATH "
            "(a writable file) or set GRAPHRAG_LLM__CACHE=false"
        )
        return LLMConfigError(msg)  # a configuration problem: it stops a run, never one item

    def get(self, key: str) -> ChatResult | None:
        """Return the cached reply for ``key`` (marked ``cached``), or ``None``.

        Raises:
            LLMError: If the file cannot be read.
        """
        query = (
            "SELECT text, reply_model, prompt_tokens, completion_tokens, estimated, "
            "finish_reason FROM replies WHERE key = ?"
        )
        with self._lock:
            try:
                row = self._connect().execute(query, (key,)).fetchone()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        text, model, prompt, completion, estimated, finish = row
        usage = Usage(int(prompt), int(completion), estimated=bool(estimated))
        return ChatResult(text, usage, model, cached=True, finish_reason=finish)

    def put(self, key: str, model: str, result: ChatResult) -> None:
        """Store a reply under ``key`` (replacing an older one).

        Args:
            key: The request key (:func:`cache_key`).
            model: The configured model name of the request.
            result: The reply.

        Raises:
            LLMError: If the file cannot be written.
        """
        row = (
            key, model, result.text, result.model, result.usage.prompt_tokens,
            result.usage.completion_tokens, int(result.usage.estimated), result.finish_reason,
            time.time(),
        )  # fmt: skip
        with self._lock:
            try:
                self._connect().execute(
                    "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
                )
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def delete(self, key: str) -> bool:
        """Drop the reply under ``key``; return whether there was one."""
        with self._lock:
            try:
                cursor = self._connect().execute("DELETE FROM replies WHERE key = ?", (key,))
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            return cursor.rowcount > 0

    def __contains__(self, key: object) -> bool:
        with self._lock:
            try:
                sql = "SELECT 1 FROM replies WHERE key = ?"
                return self._connect().execute(sql, (key,)).fetchone() is not None
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def __len__(self) -> int:
        with self._lock:
            try:
                row = self._connect().execute("SELECT COUNT(*) FROM replies").fetchone()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        return int(row[0])

    def close(self) -> None:
        """Close the file (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class CachedChatModel:
    """Wraps a chat model with a persistent cache: a cached request makes no call.

    A stream and a completion of the same request share one entry (a cached reply streams
    as one piece). With a ``meter``, cache hits are booked as cached (no cost).

    Args:
        inner: The model that makes the calls on a miss.
        cache: The cache.
        meter: The run's meter, to count cache hits (optional).
    """

    def __init__(
        self, inner: ChatModel, cache: LLMCache, *, meter: UsageMeter | None = None
    ) -> None:
        self._inner = inner
        self.cache = cache
        self.meter = meter

    @property
    def model_name(self) -> str:
        """The inner model's name (part of every key)."""
        return self._inner.model_name

    def key(self, messages: Sequence[ChatMessage], **params: Unpack[RequestParams]) -> str:
        """Return the cache key of a request to this model (parameters as :meth:`complete`)."""
        return cache_key(self.model_name, messages, **params)

    def is_cached(self, messages: Sequence[ChatMessage], **params: Unpack[RequestParams]) -> bool:
        """Whether the reply to this request is cached (for dry-run estimates)."""
        return self.key(messages, **params) in self.cache

    def forget(self, messages: Sequence[ChatMessage], **params: Unpack[RequestParams]) -> bool:
        """Drop the cached reply of this request (e.g. one that failed to parse)."""
        return self.cache.delete(self.key(messages, **params))

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        json_mode: bool = False,
    ) -> ChatResult:
        """Return the cached reply, else call the inner model and cache its reply."""
        key = self.key(
            messages, max_tokens=max_tokens, temperature=temperature, json_mode=json_mode
        )
        hit = await asyncio.to_thread(self.cache.get, key)
        if hit is not None:
            return self._hit(hit)
        result = await self._inner.complete(
            messages, max_tokens=max_tokens, temperature=temperature, json_mode=json_mode
        )
        await asyncio.to_thread(self.cache.put, key, self.model_name, result)
        return result

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> ChatStream:
        """Stream the cached reply (one piece), else the inner stream, caching its reply.

        Only a finished stream is stored: a failed or cut-off inner stream raises (the
        OpenAI-compatible adapter raises :class:`~graphrag.llm.errors.LLMServerError` for a
        stream that ends without a finish reason), and a caller that stops early closes
        this stream before anything is written.
        """
        return ChatStream(self._stream(messages, max_tokens, temperature))

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float
    ) -> AsyncIterator[str | ChatResult]:
        key = self.key(messages, max_tokens=max_tokens, temperature=temperature)
        hit = await asyncio.to_thread(self.cache.get, key)
        if hit is not None:
            yield hit.text
            yield self._hit(hit)
            return
        inner = self._inner.stream(messages, max_tokens=max_tokens, temperature=temperature)
        async for piece in inner:
            yield piece
        result = inner.result  # raises unless the inner stream finished
        await asyncio.to_thread(self.cache.put, key, self.model_name, result)
        yield result

    def _hit(self, hit: ChatResult) -> ChatResult:
        if self.meter is not None:
            self.meter.record(hit)
        logger.debug("LLM cache hit (%d prompt tokens saved)", hit.usage.prompt_tokens)
        return hit

    async def check(self) -> None:
        """Check the inner model (never cached) and that the cache file is usable."""
        await asyncio.to_thread(len, self.cache)
        await self._inner.check()
