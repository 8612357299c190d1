"""Sentence chunking and token counting: span exactness, limits, overlap, determinism."""

from __future__ import annotations

import itertools
import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from graphrag.config import ChunkingSettings
from graphrag.errors import EmbeddingError
from graphrag.ids import chunk_id
from graphrag.ingest.chunking import MAX_CHARS_PER_TOKEN, SentenceChunker
from graphrag.ingest.tokens import RegexTokenCounter, TokenCounter, TokenCounterLike
from graphrag.models import Chunk
from graphrag.ports import Chunker

WORDS = [
    *("graph", "entity", "relation", "Paris", "Marie", "Curie", "physics", "chemistry"),
    *("prize", "university", "born", "studied", "worked", "with", "the", "of", "in", "and"),
    *("a", "1867", "Warsaw", "radium", "polonium", "discovered"),
]


def make_text(seed: int, paragraphs: int = 4) -> str:
    rng = random.Random(seed)
    paras = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(1, 6)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(3, 30))]
            sentences.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
        paras.append(rng.choice([" ", "  "]).join(sentences))
    return rng.choice(["\n\n", "\n\n\n", "\n \n"]).join(paras)


@pytest.fixture(scope="module")
def counter() -> RegexTokenCounter:
    return RegexTokenCounter()


@pytest.fixture(scope="module")
def small(counter: RegexTokenCounter) -> SentenceChunker:
    return SentenceChunker(ChunkingSettings(max_tokens=24, overlap_tokens=8), counter)


def check_invariants(
    chunks: list[Chunk], text: str, doc_id: str, max_tokens: int, counter: TokenCounterLike
) -> None:
    assert chunks, "non-empty text must give chunks"
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert chunk.id == chunk_id(doc_id, ordinal)
        assert chunk.document_id == doc_id
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert 0 < chunk.token_count <= max_tokens
        assert chunk.token_count == counter.count(chunk.text)
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start, "chunks move forward"
        assert prev.end < nxt.end, "chunks move forward"
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert missing == [], "every non-space character is in some chunk"


def test_satisfies_chunker_port(small: SentenceChunker) -> None:
    assert isinstance(small, Chunker)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_empty_text_gives_no_chunks(small: SentenceChunker, text: str) -> None:
    assert small.chunk("d_x", text) == []


def test_short_text_is_one_chunk(counter: RegexTokenCounter) -> None:
    chunker = SentenceChunker(ChunkingSettings(), counter)
    text = "  Marie Curie was born in Warsaw. She studied in Paris.\n"
    [chunk] = chunker.chunk("d_1", text)
    assert chunk.text == "Marie Curie was born in Warsaw. She studied in Paris."
    assert (chunk.start, chunk.end) == (2, 55)
    assert chunk.token_count == 12


@pytest.mark.parametrize("seed", range(12))
def test_invariants_on_random_texts(
    small: SentenceChunker, counter: RegexTokenCounter, seed: int
) -> None:
    text = make_text(seed)
    check_invariants(small.chunk(f"d_{seed}", text), text, f"d_{seed}", 24, counter)


def test_chunks_hold_whole_sentences(small: SentenceChunker) -> None:
    sentences = [f"Sentence number {n} is here." for n in range(12)]  # 6 tokens each
    text = " ".join(sentences)
    chunks = small.chunk("d_s", text)
    assert len(chunks) > 2
    for chunk in chunks:
        parts = re.findall(r"Sentence number \d+ is here\.", chunk.text)
        assert " ".join(parts) == chunk.text


def test_overlap_is_whole_trailing_sentences(small: SentenceChunker) -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(12))
    chunks = small.chunk("d_o", text)
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start < prev.end, "consecutive chunks overlap"
        shared = text[nxt.start : prev.end]
        assert re.fullmatch(r"(Sentence number \d+ is here\.\s?)+", shared)
        assert RegexTokenCounter().count(shared) <= 8
        assert prev.text.endswith(shared)
        assert nxt.text.startswith(shared)


def test_no_overlap_when_disabled(counter: RegexTokenCounter) -> None:
    chunker = SentenceChunker(ChunkingSettings(max_tokens=24, overlap_tokens=0), counter)
    text = " ".join(f"Sentence number {n} is here." for n in range(12))
    chunks = chunker.chunk("d_n", text)
    assert all(a.end < b.start for a, b in itertools.pairwise(chunks))
    assert " ".join(c.text for c in chunks) == text


def test_long_sentence_is_split_between_words(small: SentenceChunker) -> None:
    words = [f"w{n}" for n in range(100)]
    text = "Intro sentence here. " + " ".join(words) + ". Outro sentence."
    chunks = small.chunk("d_l", text)
    check_invariants(chunks, text, "d_l", 24, RegexTokenCounter())
    seen = [w for c in chunks for w in re.findall(r"w\d+", c.text)]
    assert sorted(set(seen), key=lambda w: int(w[1:])) == words
    for chunk in chunks:  # cuts fall on whitespace, never inside a word
        assert chunk.start == 0 or text[chunk.start - 1].isspace()
        assert chunk.end == len(text) or text[chunk.end].isspace()


def test_giant_word_is_split_between_characters(small: SentenceChunker) -> None:
    text = "Short one. " + "a," * 60 + " Tail."
    chunks = small.chunk("d_g", text)
    check_invariants(chunks, text, "d_g", 24, RegexTokenCounter())
    assert len(chunks) >= 5


def test_paragraph_break_is_a_sentence_boundary(counter: RegexTokenCounter) -> None:
    chunker = SentenceChunker(ChunkingSettings(max_tokens=16, overlap_tokens=0), counter)
    first = "one two three four five six seven eight nine ten"
    second = "eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen"
    chunks = chunker.chunk("d_p", f"{first}\n\n{second}")
    assert [c.text for c in chunks] == [first, second]


def test_deterministic(counter: RegexTokenCounter) -> None:
    text = make_text(99, paragraphs=8)
    settings = ChunkingSettings(max_tokens=32, overlap_tokens=10)
    one = SentenceChunker(settings, counter).chunk("d_det", text)
    two = SentenceChunker(settings, counter).chunk("d_det", text)
    assert [c.model_dump() for c in one] == [c.model_dump() for c in two]
    other = SentenceChunker(settings, counter).chunk("d_other", text)
    assert {c.id for c in one}.isdisjoint({c.id for c in other})


def test_regex_counter() -> None:
    counter = RegexTokenCounter()
    assert counter.count("Hello, world! It's 2024.") == 9  # Hello , world ! It ' s 2024 .
    assert counter.count_many(["a b", "", "?!"]) == [2, 0, 2]
    assert isinstance(counter, TokenCounterLike)


# --- the real word-piece counter -------------------------------------------------------------


@pytest.fixture(scope="module")
def wordpiece() -> TokenCounter:
    return TokenCounter()


@pytest.mark.slow
def test_token_counter_counts_wordpieces(wordpiece: TokenCounter) -> None:
    assert isinstance(wordpiece, TokenCounterLike)
    assert wordpiece.count("hello") == 1  # no [CLS]/[SEP]
    assert wordpiece.count("GraphRAG builds graphs.") == 5
    assert wordpiece.count("") == 0
    long_text = "word " * 400
    assert wordpiece.count(long_text) == 400  # tokenizer.json truncation is switched off
    assert wordpiece.count_many(["hello world", "", long_text]) == [2, 0, 400]
    assert wordpiece.count_many([]) == []


@pytest.mark.slow
def test_token_counter_is_thread_safe(wordpiece: TokenCounter) -> None:
    texts = [make_text(seed, paragraphs=1) for seed in range(40)]
    expected = wordpiece.count_many(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(wordpiece.count, texts))
    assert got == expected
    fresh = TokenCounter()  # concurrent first use loads the tokenizer once
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(fresh.count, texts)) == expected


@pytest.mark.slow
def test_chunking_with_wordpiece_counter(wordpiece: TokenCounter) -> None:
    chunker = SentenceChunker(ChunkingSettings(max_tokens=32, overlap_tokens=8), wordpiece)
    text = "\n\n".join(make_text(seed) for seed in range(3)) + "\n\nÜnïcödé façade, naïve café."
    text += " 東京は日本の首都です。" * 20
    check_invariants(chunker.chunk("d_wp", text), text, "d_wp", 32, wordpiece)


def test_token_counter_without_tokenizer_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    counter = TokenCounter(tmp_path)  # nothing is loaded yet
    with pytest.raises(EmbeddingError, match=r"tokenizer\.json"):
        counter.count("text")


def test_token_counter_with_corrupt_tokenizer_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EmbeddingError, match="cannot load tokenizer"):
        TokenCounter(tmp_path).count_many(["text"])


# --- over-long tokens (audit) ----------------------------------------------------------------


def test_giant_token_is_cut_at_the_character_cap(counter: RegexTokenCounter) -> None:
    chunker = SentenceChunker(ChunkingSettings(max_tokens=16, overlap_tokens=4), counter)
    text = "Intro sentence. " + "x" * 200_000 + " Outro."
    chunks = chunker.chunk("d_x", text)
    check_invariants(chunks, text, "d_x", 16, counter)
    assert max(len(c.text) for c in chunks) <= 16 * MAX_CHARS_PER_TOKEN
    assert sum(1 for c in chunks if set(c.text) == {"x"}) >= 200_000 // (16 * 100)


def test_whitespace_gaps_count_against_the_character_cap(counter: RegexTokenCounter) -> None:
    chunker = SentenceChunker(ChunkingSettings(max_tokens=16, overlap_tokens=4), counter)
    text = "alpha" + " " * 5_000 + "beta" + "\n" * 3_000 + "gamma"
    chunks = chunker.chunk("d_ws", text)
    assert [c.text for c in chunks] == ["alpha", "beta", "gamma"]


@pytest.mark.slow
def test_audit_token_of_1_6_million_characters_fits_spacy(wordpiece: TokenCounter) -> None:
    chunker = SentenceChunker(ChunkingSettings(), wordpiece)
    text = "x" * 1_600_000
    chunks = chunker.chunk("d_giant", text)
    assert "".join(c.text for c in chunks) == text
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert max(len(c.text) for c in chunks) <= ChunkingSettings().max_tokens * MAX_CHARS_PER_TOKEN
    assert max(len(c.text) for c in chunks) < 1_000_000  # spaCy's max_length
    assert all(0 < c.token_count <= ChunkingSettings().max_tokens for c in chunks)
