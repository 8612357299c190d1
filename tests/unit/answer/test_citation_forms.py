"""Every bracketed citation-like form is checked: kept, expanded or removed and reported.

The context has 9 sources. Each form is checked on a whole reply, through
:class:`CitationFilter` cut at every position (a piece may end inside ``[Sour``), and
through the LLM answerer, streamed and not, where unknown ids end up in the notes.
"""

from __future__ import annotations

import random

import pytest

from graphrag.answer import LLMAnswerer
from graphrag.answer.citations import (
    MAX_RANGE,
    CheckedText,
    CitationFilter,
    check_citations,
    citing_sentences,
)
from tests.unit.answer.llm_helpers import context, scripted_stack

VALID = frozenset(range(1, 10))
HUGE = "9999999999999999999999999"

# (reply, checked text, cited, unknown)
FORMS = [
    ("It is Paris [Source: 98].", "It is Paris.", [], ["98"]),
    ("It is Paris [source:98] now.", "It is Paris now.", [], ["98"]),
    (f"It is Paris [{HUGE}].", "It is Paris.", [], [HUGE]),
    (f"It is Paris [Source: {HUGE}].", "It is Paris.", [], [HUGE]),
    ("It is Paris [sources 1 and 99].", "It is Paris [1].", [1], ["99"]),
    ("It is Paris [Sources 1, 2, and 99].", "It is Paris [1, 2].", [1, 2], ["99"]),
    ("It is Paris [Source 1 and Source 3].", "It is Paris [1, 3].", [1, 3], []),
    ("It is Paris [1 & 2].", "It is Paris [1, 2].", [1, 2], []),
    ("It is Paris [1-3].", "It is Paris [1, 2, 3].", [1, 2, 3], []),
    ("It is Paris [1\u20135].", "It is Paris [1, 2, 3, 4, 5].", [1, 2, 3, 4, 5], []),
    ("It is Paris [2 \u2014 3].", "It is Paris [2, 3].", [2, 3], []),
    ("It is Paris [Sources: 8-11].", "It is Paris [8, 9].", [8, 9], ["10", "11"]),
    ("It is Paris [1-3, 99].", "It is Paris [1, 2, 3].", [1, 2, 3], ["99"]),
    ("It is Paris [90-95].", "It is Paris.", [], ["90", "91", "92", "93", "94", "95"]),
    ("It is Paris [1-500].", "It is Paris.", [], ["1-500"]),
    ("It is Paris [3-1].", "It is Paris.", [], ["3-1"]),
    ("It is Paris [99, 1-500, 2].", "It is Paris [2].", [2], ["99", "1-500"]),
    (f"It is Paris [1-{HUGE}].", "It is Paris.", [], [f"1-{HUGE}"]),
    # already handled before, kept as they were
    ("It is Paris [1, 99].", "It is Paris [1].", [1], ["99"]),
    ("It is Paris [Source 99].", "It is Paris.", [], ["99"]),
    ("It is Paris [ 99 ].", "It is Paris.", [], ["99"]),
    ("It is Paris [0].", "It is Paris.", [], ["0"]),
    ("It is Paris [10].", "It is Paris.", [], ["10"]),
    ("It is Paris [doc 99].", "It is Paris.", [], ["99"]),
    ("It is Paris [Document 2].", "It is Paris [2].", [2], []),
    ("It is Paris [chunk 02].", "It is Paris [2].", [2], []),
    # not citations: kept as written
    ("It is Paris [sic].", "It is Paris [sic].", [], []),
    ("It is [2-methyl] Paris [Sour.", "It is [2-methyl] Paris [Sour.", [], []),
    ("It is Paris [Sources].", "It is Paris [Sources].", [], []),
    ("It is Paris [1 2].", "It is Paris [1 2].", [], []),
]


def pieces_of(reply: str, cuts: list[int]) -> list[str]:
    return [reply[a:b] for a, b in zip([0, *cuts], [*cuts, len(reply)], strict=True)]


def streamed(pieces: list[str], valid: frozenset[int] = VALID) -> CheckedText:
    checker = CitationFilter(valid)
    out = [checker.feed(p) for p in pieces] + [checker.finish()]
    assert "".join(out) == checker.text
    return CheckedText(checker.text, list(checker.cited), list(checker.unknown))


@pytest.mark.parametrize(("reply", "text", "cited", "unknown"), FORMS)
def test_every_citation_form_is_checked(
    reply: str, text: str, cited: list[int], unknown: list[str]
) -> None:
    assert check_citations(reply, VALID) == CheckedText(text, cited, unknown)


@pytest.mark.parametrize(("reply", "text", "cited", "unknown"), FORMS)
def test_every_citation_form_is_checked_when_streamed_in_any_pieces(
    reply: str, text: str, cited: list[int], unknown: list[str]
) -> None:
    expected = CheckedText(text, cited, unknown)
    for cut in range(len(reply) + 1):  # every single cut, e.g. "It is Paris [Sour" + "ce: 98]."
        assert streamed(pieces_of(reply, [cut])) == expected, cut
    assert streamed(list(reply)) == expected  # one character at a time
    rng = random.Random(3)
    for _ in range(20):
        cuts = sorted(rng.sample(range(len(reply) + 1), k=rng.randint(1, 6)))
        assert streamed(pieces_of(reply, cuts)) == expected, cuts


def test_a_piece_ending_inside_a_citation_word_is_held_back() -> None:
    checker = CitationFilter(VALID)
    assert checker.feed("Paris [Sour") == "Paris"
    assert checker.feed("ce: 98] is") == " is"
    assert checker.feed(" big [sources 1 a") == " big"
    assert checker.feed("nd 99].") == " [1]."
    assert checker.finish() == ""
    assert checker.text == "Paris is big [1]."
    assert (checker.cited, checker.unknown) == ([1], ["98", "99"])


def test_a_long_citation_is_held_back_but_long_plain_text_is_not() -> None:
    checker = CitationFilter(VALID)
    digits = "9" * 300
    assert checker.feed(f"Paris [Source: 1, {digits}") == "Paris"
    assert checker.feed("].") == " [1]."
    assert checker.unknown == [f"{'9' * 12}...(300 digits)"]
    plain = CitationFilter(VALID)
    words = "[a remark that is not a citation and goes on for quite a while"
    assert plain.feed(words) == words  # plain text is let go after 40 characters


@pytest.mark.parametrize("length", [25, 1000, 4500])  # 4500: more than int() reads
def test_huge_numbers_never_crash(length: int) -> None:
    number = "7" * length
    checked = check_citations(f"Paris [1, {number}] [{number}-{number}].", VALID)
    assert checked.text == "Paris [1]."
    assert checked.cited == [1]
    assert len(checked.unknown) == 2
    assert all(label.startswith("7777") for label in checked.unknown)


def test_a_range_as_long_as_the_sources_is_expanded() -> None:
    many = frozenset(range(1, 31))
    assert check_citations("A [1-25].", many).cited == list(range(1, 26))
    assert check_citations(f"A [1-{MAX_RANGE}].", VALID).unknown == [
        str(n) for n in range(10, MAX_RANGE + 1)
    ]
    assert check_citations(f"A [1-{MAX_RANGE + 1}].", VALID).unknown == [f"1-{MAX_RANGE + 1}"]


def test_citing_sentences_reads_every_form() -> None:
    found = citing_sentences("Kessel built it [Source: 1]. It opened [sources 2 and 3]. Big [1-2].")
    assert found == {
        1: ["Kessel built it.", "Big."],
        2: ["It opened.", "Big."],
        3: ["It opened."],
    }
    assert citing_sentences(f"Huge [{HUGE}] and [1-500].") == {}


NINE = [f"Fact number {n} is about the Lantern Bridge." for n in range(1, 10)]
REPLY = (
    f"The bridge is old [Source: 98] and long [{HUGE}] and wide [sources 1 and 99]. "
    "It has lamps [1-3] and a deck [4\u20135]."
)
TEXT = "The bridge is old and long and wide [1]. It has lamps [1, 2, 3] and a deck [4, 5]."


@pytest.mark.parametrize("stream", [False, True])
async def test_the_answerer_reports_every_removed_form(stream: bool) -> None:
    model, _ = scripted_stack([REPLY])
    answerer = LLMAnswerer(model)
    if stream:
        reply = answerer.stream("q", context(NINE))
        pieces = [piece async for piece in reply]
        answer = reply.answer
        assert "".join(pieces) == answer.text
    else:
        answer = await answerer.answer("q", context(NINE))

    assert answer.text == TEXT
    assert [c.marker for c in answer.citations] == [1, 2, 3, 4, 5]
    assert answer.notes[0] == (
        f"Removed citation(s) [98] [{HUGE}] [99]: the context has no such source (it has [1]-[9])."
    )
