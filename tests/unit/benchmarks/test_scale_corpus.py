"""The scale corpus generator (benchmarks/scale_corpus.py): renaming, determinism, output.

The pure parts run on hand-made sources; the end-to-end tests write tiny MuSiQue and HotpotQA
files, run the script's ``main`` with the real spaCy model and load the shards with the real
JSONL loader that ``graphrag ingest`` uses.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from graphrag.config import IngestSettings
from graphrag.errors import EvaluationError
from graphrag.ingest.loaders import load_file

ROOT = Path(__file__).resolve().parents[3]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scale_corpus", ROOT / "benchmarks" / "scale_corpus.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_corpus"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


sc = _load()

PASSAGES = [
    ("Marie Curie", "Marie Curie was a physicist born in Warsaw. She founded an institute."),
    ("Radium Institute", "The Radium Institute was founded by Marie Curie in Paris in 1920."),
    ("Pierre Curie", "Pierre Curie married Marie Curie in 1895. He taught physics in Paris."),
    ("Warsaw", "Warsaw is the capital of Poland. It lies on the Vistula river."),
    ("Zbigniew Kowalczyk", "Zbigniew Kowalczyk was a Polish painter. He lived in Warsaw."),
    ("Kowalczyk Gallery", "The Kowalczyk Gallery shows the paintings of Zbigniew Kowalczyk."),
]
ENTITIES = [
    ("Marie Curie", "PERSON"),
    ("Radium Institute", "ORG"),
    ("Pierre Curie", "PERSON"),
    ("Zbigniew Kowalczyk", "PERSON"),
    ("Kowalczyk Gallery", "ORG"),
    ("Warsaw", "GPE"),
    ("Paris", "GPE"),
    ("1920", "DATE"),
]


def sources() -> list[object]:
    return [sc.SourcePassage(f"toy:{i}", t, x) for i, (t, x) in enumerate(PASSAGES)]


def questions() -> list[object]:
    return [
        sc.SourceQuestion(
            "toy:q1", "Who founded the institute Curie worked at?", "Marie Curie", (), ("toy:1",)
        ),
        sc.SourceQuestion(
            "toy:q2",
            "In which city did the painter of the Kowalczyk Gallery live?",
            "Warsaw",
            (),
            ("toy:4", "toy:5"),
        ),
    ]


def build(**overrides: object) -> object:
    options = {"passages": 20, "question_count": 4, "seed": 3, "mix": 0.5, **overrides}
    return sc.generate(sources(), questions(), ENTITIES, **options)


# --- pure parts -----------------------------------------------------------------------------


def test_split_sentences_at_sentence_ends_only() -> None:
    text = 'He came in 1990. He left! Was it 3.5 km? "No," he said.'
    assert sc.split_sentences(text) == [
        "He came in 1990.",
        "He left!",
        "Was it 3.5 km?",
        '"No," he said.',
    ]
    assert sc.split_sentences("One. two") == ["One. two"]  # no capital: no break
    assert sc.split_sentences("  ") == []


def test_rename_replaces_whole_words_and_keeps_the_rest() -> None:
    mapping = {"Rogers": "Kalo"}
    assert sc.rename("Rogers's Rogerian theory, by Rogers.", mapping) == (
        "Kalo's Rogerian theory, by Kalo."
    )
    assert sc.rename("unchanged", {}) == "unchanged"


def test_rename_candidates_keep_ordinary_words_places_first_names_and_dates() -> None:
    entities = [
        ("Carl Rogers", "PERSON"),
        ("Carl Jung", "PERSON"),
        ("Carl Sagan", "PERSON"),
        ("American Institute of Physics", "ORG"),
        ("American", "NORP"),
        ("New York", "GPE"),
        ("New York Times", "ORG"),
        ("BBC", "ORG"),
        ("Louis XIV", "PERSON"),
        ("Acme Inc", "ORG"),
        ("June Carter", "PERSON"),
        ("June 1960", "DATE"),
        ("A", "PERSON"),
    ]
    vocabulary = {"of", "institute", "physics", "new", "times"}
    assert sc.rename_candidates(entities, vocabulary) == [
        "Acme",
        "BBC",
        "Carter",
        "Jung",
        "Louis",
        "Rogers",
        "Sagan",
    ]


def test_world_mapping_is_seeded_unique_and_keeps_world_zero() -> None:
    words = ["Curie", "Kowalczyk", "BBC"]
    assert sc.world_mapping(words, 1, 0, set()) == {}
    first = sc.world_mapping(words, 1, 1, set())
    assert first == sc.world_mapping(words, 1, 1, set())
    assert first != sc.world_mapping(words, 1, 2, set())
    assert first != sc.world_mapping(words, 2, 1, set())
    assert first["BBC"].isupper()
    assert len(first["BBC"]) == 3
    taken = {"curie"}
    second = sc.world_mapping(words, 1, 2, taken)
    assert len(set(second.values())) == 3
    assert {v.lower() for v in second.values()} <= taken  # drawn names are reserved


# --- generate -------------------------------------------------------------------------------


def test_generate_gives_the_asked_counts_and_keeps_world_zero_verbatim() -> None:
    corpus = build()
    assert len(corpus.passages) == 20
    assert len({p["id"] for p in corpus.passages}) == 20
    assert corpus.manifest["worlds"] == 4
    assert corpus.manifest["duplicate_texts"] == 0
    world0 = {p["origin"]: p for p in corpus.passages if p["world"] == 0}
    assert len(world0) == len(PASSAGES)
    assert world0["toy:0"]["text"] == f"{PASSAGES[0][0]}\n{PASSAGES[0][1]}"
    assert len(corpus.questions) == 4


def test_generate_renames_consistently_within_a_world() -> None:
    corpus = build()
    by_id = {p["id"]: p for p in corpus.passages}
    for passage in corpus.passages:
        if passage["world"] > 0:
            assert "Curie" not in passage["text"]
            assert "Kowalczyk" not in passage["text"]
            if "Warsaw" in PASSAGES[int(passage["origin"][4:])][1]:
                assert "Warsaw" in passage["text"]  # places are shared between worlds
    for question in corpus.questions:
        gold = [by_id[g] for g in question["gold"]]
        assert all(p["world"] == question["world"] for p in gold)
        if question["answer"] != "Warsaw":
            # the renamed answer is the renamed person named in the gold passage
            assert question["answer"] in gold[0]["text"]
    world1 = [p for p in corpus.passages if p["world"] == 1]
    names = {p["title"] for p in world1}
    assert any(p["text"].startswith(p["title"] + "\n") for p in world1)
    assert len(names) == len(PASSAGES)


def test_generate_is_deterministic_per_seed() -> None:
    assert build().passages == build().passages
    assert build().questions == build().questions
    assert build().passages != build(seed=4).passages


def test_a_partial_world_keeps_whole_gold_sets_first() -> None:
    corpus = build(passages=8, question_count=3)
    assert len(corpus.passages) == 8
    ids = {p["id"] for p in corpus.passages}
    assert all(set(q["gold"]) <= ids for q in corpus.questions)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"passages": 0}, "passages >= 1"),
        ({"mix": 1.5}, "0 <= mix <= 1"),
        ({"question_count": 50}, "more than the"),
    ],
)
def test_generate_refuses_bad_counts(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        build(**overrides)


def test_generate_needs_two_sources() -> None:
    with pytest.raises(EvaluationError, match="at least 2 source passages"):
        sc.generate(sources()[:1], [], ENTITIES, passages=5, question_count=0, seed=1)


# --- the script end to end (real spaCy, real loader) ------------------------------------------


def write_dev_sets(root: Path) -> list[Path]:
    musique = root / "toy_musique"
    musique.mkdir()
    corpus = [{"title": t, "text": x} for t, x in PASSAGES[:4]]
    (musique / "toy_musique_corpus.json").write_text(json.dumps(corpus), encoding="utf-8")
    record = {
        "id": "2hop__1",
        "question": "Who founded the institute where Pierre Curie's wife worked?",
        "answer": "Marie Curie",
        "answer_aliases": ["Curie"],
        "paragraphs": [
            {"title": t, "paragraph_text": x, "is_supporting": i in (1, 2)}
            for i, (t, x) in enumerate(PASSAGES[:4])
        ],
    }
    (musique / "toy_musique.json").write_text(json.dumps([record]), encoding="utf-8")
    hotpot = root / "toy_hotpot"
    hotpot.mkdir()
    sentences = {t: [s + " " for s in sc.split_sentences(x)] for t, x in PASSAGES[4:]}
    (hotpot / "toy_hotpot_corpus.json").write_text(json.dumps(sentences), encoding="utf-8")
    question = {
        "_id": "hp1",
        "question": "Where did the painter shown in the Kowalczyk Gallery live?",
        "answer": "Warsaw",
        "supporting_facts": [["Kowalczyk Gallery", 0], ["Zbigniew Kowalczyk", 1]],
        "context": [[t, s] for t, s in sentences.items()],
    }
    (hotpot / "toy_hotpot.json").write_text(json.dumps([question]), encoding="utf-8")
    return [musique, hotpot]


def run_main(sources_: list[Path], out: Path, *extra: str) -> int:
    argv = ["--out", str(out), "--passages", "20", "--questions", "3", "--seed", "5"]
    for path in sources_:
        argv += ["--source", str(path)]
    return int(sc.main([*argv, *extra]))


def test_main_writes_identical_ingestable_files_for_a_seed(tmp_path: Path) -> None:
    dev = write_dev_sets(tmp_path)
    assert run_main(dev, tmp_path / "a") == 0
    assert run_main(dev, tmp_path / "b") == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert [str(f) for f in files] == [
        "corpus/part-000.jsonl",
        "manifest.json",
        "questions.jsonl",
    ]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["passages"] == 20
    assert manifest["renamed_words"] >= 2  # Curie and Kowalczyk at least
    assert sorted(manifest["sources"]) == [
        "toy_hotpot.json",
        "toy_hotpot_corpus.json",
        "toy_musique.json",
        "toy_musique_corpus.json",
    ]
    documents = load_file(tmp_path / "a" / "corpus" / "part-000.jsonl", IngestSettings())
    assert len(documents) == 20
    assert all(d.text.startswith(d.title + "\n") for d in documents)
    assert all(d.source.rsplit("#", 1)[1].startswith("w") for d in documents)
    questions = (tmp_path / "a" / "questions.jsonl").read_text().splitlines()
    assert len(questions) == 3


def test_main_refuses_a_non_empty_out_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = write_dev_sets(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert run_main(dev, out) == 2
    assert "is not empty; pass --force" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
    assert run_main(dev, out, "--force") == 0
    assert not (out / "keep.txt").exists()


def test_main_names_a_missing_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main([tmp_path / "nowhere"], tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "nowhere" in err
    assert "no such dataset folder" in err
