from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag.config import EmbeddingSettings
from graphrag.embed.sentence import BUNDLED_MODEL_NAME, SentenceTransformerEmbedder
from graphrag.errors import EmbeddingError
from graphrag.ports import Embedder

pytestmark = pytest.mark.slow


def test_embedder_implements_the_port(embedder: Any) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_name == BUNDLED_MODEL_NAME == "sentence-transformers/all-MiniLM-L6-v2"


def test_model_name_is_the_folder_name_and_needs_no_loading() -> None:
    custom = SentenceTransformerEmbedder(EmbeddingSettings(model_path=Path("/nowhere/my-model")))
    assert custom.model_name == "my-model"


async def test_vectors_are_unit_float32_rows(embedder: Any) -> None:
    vectors = await embedder.embed(["Marie Curie", "Warsaw is the capital of Poland."])
    assert embedder.dim == 384
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_texts_score_higher_than_unrelated_ones(embedder: Any) -> None:
    a, b, c = embedder.embed_sync(
        [
            "Marie Curie discovered radium.",
            "Radium was discovered by Marie Curie.",
            "The recipe needs two cups of flour.",
        ]
    )
    assert a @ b > 0.7
    assert a @ b > a @ c + 0.4


def test_order_is_preserved_after_length_sorting(embedder: Any) -> None:
    texts = [
        "A much longer passage about the history of the Radium Institute in Paris and its staff.",
        "short",
        "a medium length sentence",
        "",
        "short",
    ]
    together = embedder.embed_sync(texts)
    alone = np.stack([embedder.embed_sync([t])[0] for t in texts])
    # bfloat16 autocast (on CPUs with native bf16) makes padding change the last digits, so
    # compare by cosine: each row must match its own text, not a neighbour's
    similarity = together @ alone.T
    assert np.diag(similarity).min() > 0.999
    distinct = [0, 1, 2, 3]
    assert (similarity[np.ix_(distinct, distinct)].argmax(axis=1) == distinct).all()
    assert float(together[1] @ together[4]) > 0.9999


async def test_empty_input_gives_an_empty_matrix(embedder: Any) -> None:
    vectors = await embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


async def test_single_queries_are_cached(embedder: Any) -> None:
    question = "Who founded the Radium Institute? (cache test)"
    before = embedder.cache_info()
    first = await embedder.embed([question], kind="query")
    second = await embedder.embed([question], kind="query")
    after = embedder.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    np.testing.assert_array_equal(first, second)
    second[0, 0] = 42.0  # callers get copies: the cache is not corrupted
    third = await embedder.embed([question], kind="query")
    np.testing.assert_array_equal(first, third)


async def test_passages_and_batches_are_not_cached(embedder: Any) -> None:
    before = embedder.cache_info()
    await embedder.embed(["passage text (cache test)"], kind="passage")
    await embedder.embed(["q1 (cache test)", "q2 (cache test)"], kind="query")
    after = embedder.cache_info()
    assert (after.hits, after.misses, after.size) == (before.hits, before.misses, before.size)


async def test_query_cache_evicts_the_least_recently_used() -> None:
    small = SentenceTransformerEmbedder(EmbeddingSettings(cache_size=2))
    for text in ["one", "two", "one", "three"]:  # "two" is the least recently used
        await small.embed([text], kind="query")
    info = small.cache_info()
    assert (info.size, info.capacity, info.hits, info.misses) == (2, 2, 1, 3)
    await small.embed(["one"], kind="query")
    await small.embed(["two"], kind="query")
    info = small.cache_info()
    assert (info.hits, info.misses) == (2, 4)


def test_missing_model_folder_is_an_embedding_error(tmp_path: Path) -> None:
    missing = SentenceTransformerEmbedder(EmbeddingSettings(model_path=tmp_path / "nothing"))
    with pytest.raises(EmbeddingError, match=r"no config\.json"):
        missing.embed_sync(["x"])


def test_broken_model_folder_names_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    broken = SentenceTransformerEmbedder(EmbeddingSettings(model_path=folder))
    assert broken.model_name == "broken-model"
    with pytest.raises(
        EmbeddingError, match=r"could not load the embedding model from .*broken-model"
    ):
        _ = broken.dim
    with pytest.raises(EmbeddingError, match="GRAPHRAG_EMBEDDING__MODEL_PATH"):
        broken.embed_sync(["x"])


def test_bfloat16_vectors_stay_close_to_float32(embedder: Any) -> None:
    from graphrag.config import EmbeddingSettings
    from graphrag.embed.sentence import SentenceTransformerEmbedder

    texts = ["Marie Curie was born in Warsaw.", "The Radium Institute is in Paris."]
    fp32 = SentenceTransformerEmbedder(EmbeddingSettings(precision="float32"))
    bf16 = SentenceTransformerEmbedder(EmbeddingSettings(precision="bfloat16"))
    fp32._model = bf16._model = embedder._load()  # share the loaded weights
    a, b = fp32.embed_sync(texts), bf16.embed_sync(texts)
    assert (a * b).sum(axis=1).min() > 0.999


def test_dim_is_read_without_loading_the_model() -> None:
    from graphrag.config import EmbeddingSettings
    from graphrag.embed.sentence import SentenceTransformerEmbedder

    fresh = SentenceTransformerEmbedder(EmbeddingSettings())
    assert fresh.dim == 384
    assert fresh._model is None  # stats/delete/export do not pay for loading MiniLM


def test_on_auto_questions_and_names_are_float32_and_passages_follow_the_cpu(
    embedder: Any,
) -> None:
    from graphrag.config import EmbeddingSettings
    from graphrag.embed.sentence import SentenceTransformerEmbedder, cpu_has_bf16

    text = ["Which institute did the founder of the company that built the bridge attend?"]
    fp32 = SentenceTransformerEmbedder(EmbeddingSettings(precision="float32"))
    auto = SentenceTransformerEmbedder(EmbeddingSettings(precision="auto"))
    bf16 = SentenceTransformerEmbedder(EmbeddingSettings(precision="bfloat16"))
    fp32._model = auto._model = bf16._model = embedder._load()

    reference = fp32.embed_sync(text, kind="query")
    assert (auto.embed_sync(text, kind="query") == reference).all()
    assert (auto.embed_sync(text, kind="name") == reference).all()
    passage = auto.embed_sync(text, kind="passage")
    assert bool((passage == reference).all()) is (not cpu_has_bf16())
    forced = bf16.embed_sync(text, kind="query")  # an explicit bfloat16 applies to questions
    assert not bool((forced == reference).all())
    assert float((forced * reference).sum()) > 0.999
