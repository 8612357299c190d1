"""The bundled sample corpus loads with the project's loaders and supports its questions."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

from graphrag.config import IngestSettings, Settings
from graphrag.ingest.loaders import load_file
from graphrag.models import Document

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"
CORPUS = SAMPLES / "corpus"
QUESTIONS = SAMPLES / "questions.txt"

# file name -> number of documents the loader must produce
EXPECTED_FILES = {
    "velmora_history.md": 1,
    "brennick_vale.txt": 1,
    "tomas_brennick.html": 1,
    "edda_vale.pdf": 1,
    "museum.json": 3,
    "velmora_timeline.csv": 10,
    "kessel_energy.md": 1,
    "gullwing_ferries.txt": 1,
    "courier_lindqvist.html": 1,
}

# (fact, the only files whose text holds it): the hops of the sample questions
FACTS = [
    ("Calder Institute of Technology", {"tomas_brennick.html"}),
    ("Vale Foundation", {"edda_vale.pdf", "museum.json"}),
    ("University of Saltmere", {"edda_vale.pdf", "courier_lindqvist.html"}),
    ("Odile Marchetti", {"velmora_history.md", "velmora_timeline.csv"}),
    ("Rafael Moreno", {"gullwing_ferries.txt", "velmora_timeline.csv"}),
    ("Amara Lindqvist", {"kessel_energy.md", "courier_lindqvist.html"}),
]


def _load(name: str) -> list[Document]:
    return load_file(CORPUS / name, IngestSettings())


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[Document]]:
    return {name: _load(name) for name in EXPECTED_FILES}


def test_corpus_holds_exactly_the_documented_files() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED_FILES)


def test_corpus_covers_every_supported_format() -> None:
    suffixes = {Path(name).suffix for name in EXPECTED_FILES}
    assert suffixes == {".txt", ".md", ".html", ".json", ".csv", ".pdf"}


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_every_sample_file_loads(name: str) -> None:
    documents = _load(name)

    assert len(documents) == EXPECTED_FILES[name]
    for doc in documents:
        assert doc.text.strip(), f"{name}: a document with no text"
        assert doc.title.strip(), f"{name}: a document with no title"
        assert doc.source.startswith(str((CORPUS / name).resolve()))
    assert len({doc.id for doc in documents}) == len(documents), "document ids must be unique"


def test_documents_are_short_but_substantial(corpus: dict[str, list[Document]]) -> None:
    for name, documents in corpus.items():
        words = sum(len(doc.text.split()) for doc in documents)
        assert 150 <= words <= 600, f"{name} has {words} words; keep each file at 150-600"


def test_loading_is_deterministic(corpus: dict[str, list[Document]]) -> None:
    for name, documents in corpus.items():
        again = _load(name)
        assert [(d.id, d.content_hash) for d in again] == [
            (d.id, d.content_hash) for d in documents
        ], f"{name}: ids or content hashes changed between two loads"


def test_html_loader_keeps_text_and_drops_markup(corpus: dict[str, list[Document]]) -> None:
    (profile,) = corpus["courier_lindqvist.html"]
    assert "University of Saltmere" in profile.text
    assert "window.analytics" not in profile.text  # <script> content dropped
    assert "<p>" not in profile.text
    assert "&ldquo;" not in profile.text  # entities unescaped


def test_pdf_text_is_extracted(corpus: dict[str, list[Document]]) -> None:
    (pdf,) = corpus["edda_vale.pdf"]
    assert "Edda Vale" in pdf.text
    assert "cable system of the Lantern Bridge" in " ".join(pdf.text.split())


@pytest.mark.parametrize(("fact", "files"), FACTS)
def test_question_hops_live_in_the_documented_files(
    corpus: dict[str, list[Document]], fact: str, files: set[str]
) -> None:
    found = {
        name
        for name, documents in corpus.items()
        if any(fact in " ".join(doc.text.split()) for doc in documents)
    }
    assert found == files


def test_two_hop_answers_are_not_in_the_bridge_documents(
    corpus: dict[str, list[Document]],
) -> None:
    def text(name: str) -> str:
        return " ".join(" ".join(doc.text.split()) for doc in corpus[name])

    # the company that built the bridge does not name its founder's institute ...
    assert "Lantern Bridge" in text("brennick_vale.txt")
    assert "Calder" not in text("brennick_vale.txt")
    # ... and the founder's biography does not name the bridge
    assert "Lantern Bridge" not in text("tomas_brennick.html")
    # the cooperative's page names the chair but not her university
    assert "Gannet Point" in text("kessel_energy.md")
    assert "Saltmere" not in text("kessel_energy.md")
    assert "Gannet Point" not in text("courier_lindqvist.html")
    # the foundation's founder does not give the museum's opening date
    assert "1991" not in text("edda_vale.pdf")
    assert "12 May 1991" in text("museum.json")


def test_questions_file_lists_questions() -> None:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    questions = [line.strip() for line in lines if line.strip()]

    assert 5 <= len(questions) <= 6
    assert len(questions) == len(lines), "no blank lines: the demo reads one question per line"
    for question in questions:
        assert question.endswith("?"), question
        assert len(question) < 200


def _load_pdf_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_sample_pdf", ROOT / "scripts" / "make_sample_pdf.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_pdf_is_what_the_script_writes(tmp_path: Path) -> None:
    script = _load_pdf_script()
    main: Callable[[list[str]], int] = script.main
    out = tmp_path / "edda_vale.pdf"

    assert main([str(out)]) == 0
    assert out.read_bytes() == (CORPUS / "edda_vale.pdf").read_bytes()


def test_pdf_script_rejects_text_it_cannot_encode() -> None:
    script = _load_pdf_script()
    with pytest.raises(UnicodeEncodeError):
        script.build_pdf("Café", "", ["x"])


def _setting_variables(model: type[BaseModel], prefix: str) -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _setting_variables(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_configuration_doc_lists_every_setting() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    variables = _setting_variables(Settings, "GRAPHRAG_")

    assert len(variables) > 40
    missing = [v for v in variables if f"`{v}`" not in doc]
    assert not missing, f"docs/configuration.md does not document {missing}"
