"""Citation checking: kept, removed and normalised ids; the same result streamed in pieces."""

from __future__ import annotations

import random

import pytest

from graphrag.answer.citations import (
    CitationFilter,
    best_sentence,
    check_citations,
    citing_sentences,
)


@pytest.mark.parametrize(
    ("reply", "text", "cited", "unknown"),
    [
        ("Paris [1] is big [7].  ", "Paris [1] is big.", [1], ["7"]),
        ("  Kessel built it [2][1].", "Kessel built it [2][1].", [2, 1], []),
        ("A [1,2] b [1; 9] c.", "A [1, 2] b [1] c.", [1, 2], ["9"]),
        ("[3] Paris [Source 2].", "Paris [2].", [2], ["3"]),
        ("See [sic] and [a [1] here.", "See [sic] and [a [1] here.", [1], []),
        ("[7] [8]", "", [], ["7", "8"]),
        ("Open bracket [1", "Open bracket [1", [], []),
        ("Line [1\nnext [2]", "Line [1\nnext [2]", [2], []),
        ("No citation at all.\n\n", "No citation at all.", [], []),
        ("Paris [0] [12345]", "Paris", [], ["0", "12345"]),
        ("A [Source: 98] b [sources 1 and 99] [1-2].", "A b [1] [1, 2].", [1, 2], ["98", "99"]),
    ],
)
def test_check_citations(reply: str, text: str, cited: list[int], unknown: list[str]) -> None:
    checked = check_citations(reply, {1, 2})
    assert checked.text == text
    assert checked.cited == cited
    assert checked.unknown == unknown


REPLIES = [
    "Tomas Brennick founded it [2] and studied at the Velmora Institute [2][5]. Done [1, 9].",
    "   [4] The context does not say.  ",
    "Weird [[1]] brackets [x] and [Chunk 3] and [ 1 ]\n\nend [2",
    "Ranges [1-3] [2\u20134] [Source: 98] [sources 1 and 99] [9999999999999999999999999] [Sour",
    "",
    "[9]",
]


@pytest.mark.parametrize("reply", REPLIES)
def test_a_stream_in_any_pieces_gives_the_whole_text(reply: str) -> None:
    expected = check_citations(reply, {1, 2, 3})
    rng = random.Random(7)
    for _ in range(30):
        cuts = sorted(rng.sample(range(len(reply) + 1), k=min(len(reply), rng.randint(0, 8))))
        pieces = [reply[a:b] for a, b in zip([0, *cuts], [*cuts, len(reply)], strict=True)]
        checker = CitationFilter({1, 2, 3})
        out = [checker.feed(p) for p in pieces] + [checker.finish()]
        assert "".join(out) == expected.text == checker.text
        assert checker.cited == expected.cited
        assert checker.unknown == expected.unknown


def test_text_is_held_back_only_while_it_may_become_a_citation() -> None:
    checker = CitationFilter({1})
    assert checker.feed("Paris ") == "Paris"
    assert checker.feed("[") == ""
    assert checker.feed("1] is") == " [1] is"
    assert checker.feed(" [x") == ""
    assert checker.feed("yz] ok ") == " [xyz] ok"
    assert checker.finish() == ""


def test_citing_sentences_map_ids_to_claims_without_markers() -> None:
    found = citing_sentences("Kessel built it [1]. It opened in 1983 [1, 2].")
    assert found == {1: ["Kessel built it.", "It opened in 1983."], 2: ["It opened in 1983."]}


def test_best_sentence_matches_the_claim_and_keeps_offsets() -> None:
    text = "The bridge is long. Tomas Brennick studied at the Velmora Institute. It rains."
    sentence = best_sentence(text, ["He studied at the Velmora Institute."])
    assert sentence is not None
    assert sentence.text == "Tomas Brennick studied at the Velmora Institute."
    assert text[sentence.start : sentence.end] == sentence.text
    first = best_sentence(text, ["nothing in common"])
    assert first is not None
    assert first.text == "The bridge is long."
    assert best_sentence("   ", ["x"]) is None
