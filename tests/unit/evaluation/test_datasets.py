from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graphrag.errors import EvaluationError
from graphrag.evaluation import load_dataset
from graphrag.ids import content_hash, document_id
from tests.conftest import SHARED_DATA

MUSIQUE_CORPUS = [
    {"title": "Alpha", "text": "Alpha was founded by Bob."},
    {"title": "Beta", "text": "Bob was born in Paris."},
    {"title": "Alpha", "text": "Alpha is also a letter."},  # duplicate title, other text
    {"title": "Gamma", "text": "Gamma is unrelated."},
]
MUSIQUE_QUESTIONS = [
    {
        "id": "2hop__1",
        "question": "Where was the founder of Alpha born?",
        "answer": "Paris",
        "paragraphs": [
            {
                "idx": 0,
                "title": "Alpha",
                "paragraph_text": "Alpha was founded by Bob.",
                "is_supporting": True,
            },
            {
                "idx": 1,
                "title": "Alpha",
                "paragraph_text": "Alpha is also a letter.",
                "is_supporting": False,
            },
            {
                "idx": 2,
                "title": "Beta",
                "paragraph_text": "Bob was born in Paris.",
                "is_supporting": True,
            },
        ],
    },
    {
        "id": "2hop__2",
        "question": "What is Gamma?",
        "answer": "unrelated",
        "paragraphs": [
            {
                "idx": 0,
                "title": "Gamma",
                "paragraph_text": "Gamma is unrelated.",
                "is_supporting": True,
            },
        ],
    },
]
HOTPOT_CORPUS = {
    "Lilu": ["Lilu is a demon.", " It is Akkadian."],
    "Gallu": ["Gallu is a demon of the underworld."],
    "Other": ["Nothing here."],
}
HOTPOT_QUESTIONS = [
    {
        "_id": "h1",
        "question": "If Gallu is a demon, Lilu is what?",
        "answer": "demon",
        "type": "bridge",
        "supporting_facts": [["Lilu", 0], ["Lilu", 1], ["Gallu", 0]],
        "context": [
            ["Lilu", ["Lilu is a demon.", " It is Akkadian."]],
            ["Other", ["Nothing here."]],
            ["Gallu", ["x"]],
        ],
    }
]


def _write(folder: Path, name: str, questions: Any, corpus: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(questions), encoding="utf-8")
    (folder / f"{name}_corpus.json").write_text(json.dumps(corpus), encoding="utf-8")
    return folder


def test_musique_folder_matches_gold_by_title_and_text(tmp_path: Path) -> None:
    folder = _write(tmp_path / "tiny_mq", "tiny_mq", MUSIQUE_QUESTIONS, MUSIQUE_CORPUS)
    ds = load_dataset(folder)
    assert ds.name == "tiny_mq"
    assert [p.title for p in ds.passages] == ["Alpha", "Beta", "Alpha", "Gamma"]
    first = ds.questions[0]
    assert first.id == "2hop__1"
    assert first.answer == "Paris"
    assert first.gold_titles_texts == [
        ("Alpha", "Alpha was founded by Bob."),
        ("Beta", "Bob was born in Paris."),
    ]
    # The duplicate title "Alpha" with the other text must not count as gold.
    assert first.gold_indexes == [0, 1]
    assert ds.gold_document_ids(first) == {document_id("tiny_mq:0"), document_id("tiny_mq:1")}


def test_questions_file_path_is_accepted(tmp_path: Path) -> None:
    folder = _write(tmp_path / "x", "tiny_mq", MUSIQUE_QUESTIONS, MUSIQUE_CORPUS)
    ds = load_dataset(folder / "tiny_mq.json")
    assert ds.name == "tiny_mq"
    assert len(ds.questions) == 2


def test_documents_have_stable_sources_and_title_prefixed_text(tmp_path: Path) -> None:
    ds = load_dataset(_write(tmp_path / "tiny_mq", "tiny_mq", MUSIQUE_QUESTIONS, MUSIQUE_CORPUS))
    docs = ds.documents()
    assert [d.source for d in docs] == [f"tiny_mq:{i}" for i in range(4)]
    assert docs[1].text == "Beta\nBob was born in Paris."
    assert docs[1].title == "Beta"
    assert docs[1].mime == "text/plain"
    assert docs[1].id == document_id("tiny_mq:1")
    assert docs[1].content_hash == content_hash(docs[1].text)
    assert load_dataset(tmp_path / "tiny_mq").documents()[1].id == docs[1].id


def test_slice_keeps_question_context_and_sources(tmp_path: Path) -> None:
    ds = load_dataset(_write(tmp_path / "tiny_mq", "tiny_mq", MUSIQUE_QUESTIONS, MUSIQUE_CORPUS))
    part = ds.slice(1)
    assert [q.id for q in part.questions] == ["2hop__1"]
    assert sorted(p.index for p in part.passages) == [0, 1, 2]  # Gamma dropped
    assert {d.source for d in part.documents()} == {"tiny_mq:0", "tiny_mq:1", "tiny_mq:2"}
    assert ds.slice(None) is ds
    assert ds.slice(50) is ds
    with pytest.raises(EvaluationError, match="at least 1"):
        ds.slice(0)


def test_hotpot_dict_corpus(tmp_path: Path) -> None:
    ds = load_dataset(_write(tmp_path / "tiny_hp", "tiny_hp", HOTPOT_QUESTIONS, HOTPOT_CORPUS))
    assert [p.text for p in ds.passages] == [
        "Lilu is a demon. It is Akkadian.",
        "Gallu is a demon of the underworld.",
        "Nothing here.",
    ]
    q = ds.questions[0]
    assert q.id == "h1"
    assert q.gold_titles_texts == [
        ("Lilu", "Lilu is a demon. It is Akkadian."),
        ("Gallu", "Gallu is a demon of the underworld."),
    ]
    assert q.gold_indexes == [0, 1]
    assert q.context_indexes == [0, 2, 1]


@pytest.mark.parametrize(
    ("questions", "corpus", "match"),
    [
        ("not json", None, "cannot be read as UTF-8 JSON"),
        ({"id": 1}, MUSIQUE_CORPUS, "expected a JSON list of question records"),
        ([{"question": "q", "paragraphs": []}], MUSIQUE_CORPUS, "record 0 lacks id"),
        (MUSIQUE_QUESTIONS, "a string", "expected a JSON list of"),
        (MUSIQUE_QUESTIONS, [{"title": "A"}], "entry 0 must be an object"),
        (MUSIQUE_QUESTIONS, MUSIQUE_CORPUS[:1], "is not in the corpus"),
        (
            [{"id": "q", "question": "?", "paragraphs": [{"title": "Alpha"}]}],
            MUSIQUE_CORPUS,
            "paragraph needs title, paragraph_text and is_supporting",
        ),
        ([{"id": "q", "question": "?", "paragraphs": []}], MUSIQUE_CORPUS, "no gold passage"),
        ([], MUSIQUE_CORPUS, "holds no questions"),
        (HOTPOT_QUESTIONS, {"Lilu": "not a list"}, "must be a list of sentence strings"),
        (HOTPOT_QUESTIONS, {"Lilu": ["x"]}, "gold title 'Gallu' not in corpus"),
        (MUSIQUE_QUESTIONS, HOTPOT_CORPUS, "lacks _id"),
    ],
)
def test_malformed_files_raise_evaluation_error_naming_the_file(
    tmp_path: Path, questions: Any, corpus: Any, match: str
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    q_path = folder / "bad.json"
    q_path.write_text(questions if isinstance(questions, str) else json.dumps(questions))
    (folder / "bad_corpus.json").write_text(json.dumps(corpus))
    with pytest.raises(EvaluationError, match=match) as info:
        load_dataset(folder)
    assert "bad" in str(info.value)


def test_missing_paths_raise(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="no such dataset"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "lonely.json").write_text("[]")
    with pytest.raises(EvaluationError, match=r"lonely_corpus\.json: corpus file missing"):
        load_dataset(tmp_path / "lonely.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EvaluationError, match="expected one questions file"):
        load_dataset(empty)


@pytest.mark.skipif(not (SHARED_DATA / "musique_train").is_dir(), reason="no dev data")
def test_real_musique_dev_set() -> None:
    ds = load_dataset(SHARED_DATA / "musique_train")
    assert ds.name == "musique_train"
    assert len(ds.passages) == 1890
    assert len(ds.questions) == 100
    assert sum(len(q.gold_indexes) for q in ds.questions) == 237
    assert all(2 <= len(q.gold_indexes) <= 4 for q in ds.questions)
    sources = {d.source for d in ds.documents()}
    assert len(sources) == 1890  # titles repeat, sources never do
    part = ds.slice(10)
    assert len(part.questions) == 10
    assert 0 < len(part.passages) <= 200


@pytest.mark.skipif(not (SHARED_DATA / "hotpotqa_train").is_dir(), reason="no dev data")
def test_real_hotpotqa_dev_set() -> None:
    ds = load_dataset(SHARED_DATA / "hotpotqa_train" / "hotpotqa_train.json")
    assert len(ds.passages) == 994
    assert len(ds.questions) == 100
    assert all(len(q.gold_indexes) == 2 for q in ds.questions)
    gold_doc = ds.documents()[ds.questions[0].gold_indexes[0]]
    assert gold_doc.text.startswith(ds.questions[0].gold_titles_texts[0][0] + "\n")
