from __future__ import annotations

import numpy as np
import pytest

from graphrag.errors import LLMError
from graphrag.ports import Embedder
from graphrag.testing import HashEmbedder, ScriptedChatModel


def test_hash_embedder_implements_the_embedder_port() -> None:
    embedder = HashEmbedder(dim=16)
    assert isinstance(embedder, Embedder)
    assert embedder.model_name == "hash-embedder-v1"
    assert embedder.dim == 16


async def test_hash_embedder_vectors_are_unit_float32_rows_in_order() -> None:
    embedder = HashEmbedder(dim=32)
    texts = ["Marie Curie", "Warsaw", "", "!!!"]
    vectors = await embedder.embed(texts)
    assert vectors.shape == (4, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors[1], embedder.embed_sync(["Warsaw"])[0])


def test_hash_embedder_is_deterministic_across_instances() -> None:
    first = HashEmbedder(dim=64).embed_sync(["Radium Institute"])
    second = HashEmbedder(dim=64).embed_sync(["Radium Institute"])
    np.testing.assert_array_equal(first, second)


def test_hash_embedder_similar_strings_are_closer_than_unrelated_ones() -> None:
    vectors = HashEmbedder(dim=64).embed_sync(
        ["Radium Institute", "the Radium Institute in Paris", "banana bread recipe"]
    )
    assert vectors[0] @ vectors[1] > 0.5
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_hash_embedder_ignores_case_and_punctuation() -> None:
    vectors = HashEmbedder(dim=32).embed_sync(["Marie Curie", "marie curie!"])
    assert float(vectors[0] @ vectors[1]) == pytest.approx(1.0, abs=1e-6)


def test_hash_embedder_empty_input_has_dim_columns() -> None:
    assert HashEmbedder(dim=8).embed_sync([]).shape == (0, 8)


def test_hash_embedder_rejects_a_useless_dimension() -> None:
    with pytest.raises(ValueError, match="dim must be at least 2"):
        HashEmbedder(dim=1)


async def test_scripted_chat_model_replies_in_order_and_records_calls() -> None:
    chat = ScriptedChatModel(["first", "second"])
    messages = [{"role": "user", "content": "hello"}]
    assert await chat.complete(messages) == "first"
    assert await chat.complete([{"role": "user", "content": "again"}]) == "second"
    assert chat.calls == [messages, [{"role": "user", "content": "again"}]]
    assert chat.remaining == 0


async def test_scripted_chat_model_raises_llm_error_when_exhausted() -> None:
    chat = ScriptedChatModel(["only"], name="tiny")
    await chat.complete([])
    with pytest.raises(LLMError, match=r"'tiny' has no response left for call 2 \(1 scripted\)"):
        await chat.complete([])


async def test_scripted_chat_model_raises_scripted_exceptions() -> None:
    chat = ScriptedChatModel([LLMError("rate limited"), "ok"])
    with pytest.raises(LLMError, match="rate limited"):
        await chat.complete([{"role": "user", "content": "x"}])
    assert await chat.complete([]) == "ok"
    assert len(chat.calls) == 2


async def test_scripted_chat_model_copies_messages() -> None:
    chat = ScriptedChatModel(["ok"])
    message = {"role": "user", "content": "original"}
    await chat.complete([message])
    message["content"] = "changed later"
    assert chat.calls[0][0]["content"] == "original"
