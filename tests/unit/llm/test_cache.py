"""The persistent reply cache: hits make no call, entries survive reopening and processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from graphrag.errors import LLMError
from graphrag.llm import (
    CachedChatModel,
    ChatMessage,
    ChatResult,
    LLMCache,
    ScriptedChatModel,
    Usage,
    UsageMeter,
    cache_key,
)

ASK = [ChatMessage.system("Be brief."), ChatMessage.user("Capital of France?")]


async def test_a_cache_hit_makes_no_call(tmp_path: Path) -> None:
    chat = ScriptedChatModel(["Paris."])
    model = CachedChatModel(chat, LLMCache(tmp_path / "c.db"))

    first = await model.complete(ASK, max_tokens=8, temperature=0.0)
    second = await model.complete(ASK, max_tokens=8, temperature=0.0)

    assert len(chat.calls) == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.text == "Paris."
    assert second.usage == first.usage
    assert (model.cache.hits, model.cache.misses) == (1, 1)


async def test_the_cache_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.db"
    first = CachedChatModel(ScriptedChatModel(["Paris."]), LLMCache(path))
    await first.complete(ASK, max_tokens=8, temperature=0.0)
    first.cache.close()

    rerun_chat = ScriptedChatModel([])
    rerun = CachedChatModel(rerun_chat, LLMCache(path))
    result = await rerun.complete(ASK, max_tokens=8, temperature=0.0)

    assert result.text == "Paris."
    assert result.cached
    assert rerun_chat.calls == []
    assert len(rerun.cache) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"max_tokens": 9},
        {"temperature": 0.5},
        {"json_mode": True},
        {"messages": [ChatMessage.user("Capital of France?")]},
    ],
)
async def test_anything_that_changes_the_reply_changes_the_key(
    tmp_path: Path, change: dict[str, object]
) -> None:
    chat = ScriptedChatModel(["a", "b"])
    model = CachedChatModel(chat, LLMCache(tmp_path / "c.db"))
    base: dict[str, object] = {"max_tokens": 8, "temperature": 0.0, "json_mode": False}
    await model.complete(ASK, **base)  # type: ignore[arg-type]

    args = {**base, **change}
    messages = args.pop("messages", ASK)
    result = await model.complete(messages, **args)  # type: ignore[arg-type]

    assert result.text == "b"
    assert len(chat.calls) == 2


def test_the_model_name_is_part_of_the_key() -> None:
    one = cache_key("a", ASK, max_tokens=8, temperature=0.0)
    assert one != cache_key("b", ASK, max_tokens=8, temperature=0.0)
    assert one == cache_key("a", list(ASK), max_tokens=8, temperature=0)


async def test_stream_and_complete_share_entries(tmp_path: Path) -> None:
    chat = ScriptedChatModel(["Paris is the capital."])
    model = CachedChatModel(chat, LLMCache(tmp_path / "c.db"))

    streamed = await model.stream(ASK, max_tokens=8, temperature=0.0).collect()
    completed = await model.complete(ASK, max_tokens=8, temperature=0.0)
    again = model.stream(ASK, max_tokens=8, temperature=0.0)
    pieces = [piece async for piece in again]

    assert len(chat.calls) == 1
    assert not streamed.cached
    assert completed.cached
    assert completed.text == "Paris is the capital."
    assert pieces == ["Paris is the capital."]
    assert again.result.cached


async def test_malformed_replies_are_cached_and_can_be_forgotten(tmp_path: Path) -> None:
    chat = ScriptedChatModel(['{"broken', '{"ok": true}'])
    model = CachedChatModel(chat, LLMCache(tmp_path / "c.db"))

    bad = await model.complete(ASK, max_tokens=8, temperature=0.0, json_mode=True)
    assert model.is_cached(ASK, max_tokens=8, temperature=0.0, json_mode=True)
    assert model.forget(ASK, max_tokens=8, temperature=0.0, json_mode=True)
    good = await model.complete(ASK, max_tokens=8, temperature=0.0, json_mode=True)

    assert (bad.text, good.text) == ('{"broken', '{"ok": true}')
    assert not model.forget(ASK, max_tokens=1, temperature=0.0)


async def test_errors_are_not_cached(tmp_path: Path) -> None:
    chat = ScriptedChatModel([LLMError("boom"), "ok"])
    model = CachedChatModel(chat, LLMCache(tmp_path / "c.db"))

    with pytest.raises(LLMError):
        await model.complete(ASK, max_tokens=8, temperature=0.0)
    assert (await model.complete(ASK, max_tokens=8, temperature=0.0)).text == "ok"


async def test_hits_are_booked_as_cached_and_free(tmp_path: Path) -> None:
    meter = UsageMeter()
    model = CachedChatModel(
        ScriptedChatModel(["one two"]), LLMCache(tmp_path / "c.db"), meter=meter
    )
    await model.complete(ASK, max_tokens=8, temperature=0.0)  # a miss: booked by the inner meter
    await model.complete(ASK, max_tokens=8, temperature=0.0)

    totals = meter.totals()
    assert (totals.calls, totals.cached_calls, totals.cost) == (0, 1, 0.0)
    assert totals.cached_tokens == 5 + 2  # words of the prompt and of the reply


def test_an_unusable_cache_file_names_the_settings(tmp_path: Path) -> None:
    bad = tmp_path / "cache.db"
    bad.write_bytes(b"this is not a sqlite database" * 100)
    cache = LLMCache(bad)

    with pytest.raises(LLMError, match="GRAPHRAG_LLM__CACHE_PATH") as caught:
        cache.get("k")
    assert "GRAPHRAG_LLM__CACHE=false" in str(caught.value)
    # a configuration error: an ingest stops cleanly instead of failing every document
    from graphrag.build import RUN_STOPS

    assert isinstance(caught.value, RUN_STOPS)


WRITER = """
import sys
from graphrag.llm.base import ChatResult, Usage
from graphrag.llm.cache import LLMCache
cache = LLMCache(sys.argv[1])
for i in range(200):
    cache.put(f"{sys.argv[2]}-{i}", "m", ChatResult(f"reply {i}", Usage(i, 1), "m"))
    cache.get(f"{sys.argv[2]}-{i // 2}")
print(len(cache))
"""


def test_two_processes_write_one_cache_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    cache = LLMCache(path)
    assert len(cache) == 400
    hit = cache.get("b-199")
    assert hit == ChatResult("reply 199", Usage(199, 1), "m", cached=True)


class _LockedAtFirst:
    """A connection whose first statements fail as SQLite does when another process is
    switching a new file to WAL at the same moment ("database is locked", no busy wait)."""

    def __init__(self, failures: int, message: str = "database is locked") -> None:
        self.failures, self.message = failures, message
        self.statements: list[str] = []

    def execute(self, sql: str) -> None:
        self.statements.append(sql)
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError(self.message)


def test_opening_a_new_cache_waits_out_another_process_switching_it_to_wal(
    tmp_path: Path,
) -> None:
    cache = LLMCache(tmp_path / "c.db", busy_timeout=5.0)
    conn = _LockedAtFirst(failures=3)
    cache._setup(conn)  # type: ignore[arg-type]
    assert conn.statements.count("PRAGMA journal_mode = WAL") == 4

    with pytest.raises(sqlite3.OperationalError, match="malformed"):  # not a busy error
        cache._setup(_LockedAtFirst(failures=1, message="database disk image is malformed"))  # type: ignore[arg-type]
    impatient = LLMCache(tmp_path / "d.db", busy_timeout=0.05)
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # gives up at the timeout
        impatient._setup(_LockedAtFirst(failures=1000))  # type: ignore[arg-type]


def test_many_pairs_of_processes_open_new_caches_at_once(tmp_path: Path) -> None:
    opener = (
        "import sys\nfrom graphrag.llm.cache import LLMCache\n"
        "from graphrag.llm.base import ChatResult, Usage\n"
        "LLMCache(sys.argv[1]).put(sys.argv[2], 'm', ChatResult('r', Usage(1, 1), 'm'))\n"
    )
    for round_ in range(6):
        path = tmp_path / f"new{round_}.db"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", opener, str(path), name],
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        assert len(LLMCache(path)) == 2
