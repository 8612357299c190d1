"""Readers of multi-hop retrieval datasets in the HippoRAG formats.

Two layouts are accepted, detected from the files themselves:

* **MuSiQue** (list format): the questions file is a list of records with ``paragraphs``
  (``title``, ``paragraph_text``, ``is_supporting``); the corpus ``<name>_corpus.json`` is a
  list of ``{title, text}``. Gold passages are matched by ``(title, paragraph_text) ==
  (title, text)``.
* **HotpotQA** (dict corpus): the questions file holds distractor records with
  ``supporting_facts`` and ``context``; the corpus is an object ``{title: [sentences]}`` and a
  passage's text is ``"".join(sentences)``. Gold passages are the titles in
  ``supporting_facts``.

Every passage becomes a :class:`~graphrag.models.Document` whose source is
``f"{dataset}:{index}"`` (``index`` in the full corpus), so re-indexing a dataset is
idempotent and a slice keeps the same ids as the full set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphrag.errors import EvaluationError
from graphrag.ids import content_hash, document_id
from graphrag.models import Document

__all__ = [
    "EvalDataset",
    "EvalQuestion",
    "Passage",
    "load_dataset",
]

_CORPUS_SUFFIX = "_corpus.json"


@dataclass(frozen=True)
class Passage:
    """One retrieval unit of a dataset corpus.

    Attributes:
        title: The passage title (not unique in MuSiQue).
        text: The passage text without the title.
        index: Position in the full corpus file; part of the document source.
    """

    title: str
    text: str
    index: int = -1


@dataclass(frozen=True)
class EvalQuestion:
    """A question with its gold supporting passages.

    Attributes:
        id: The dataset's question id.
        question: The question text.
        gold_titles_texts: ``(title, text)`` of every gold passage.
        gold_indexes: Corpus indexes of the gold passages (same order).
        answer: The reference answer, if the dataset has one.
        context_indexes: Corpus indexes of the passages the dataset lists with the question
            (gold and distractors), used to cut a small corpus for a slice.
        aliases: Other accepted forms of the answer (MuSiQue's ``answer_aliases``; none in
            HotpotQA).
    """

    id: str
    question: str
    gold_titles_texts: list[tuple[str, str]]
    gold_indexes: list[int] = field(default_factory=list)
    answer: str | None = None
    context_indexes: list[int] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    @property
    def gold_answers(self) -> list[str]:
        """The reference answer and its aliases (empty when the dataset has no answer)."""
        answers = [self.answer, *self.aliases] if self.answer else list(self.aliases)
        return [a for a in dict.fromkeys(answers) if a and a.strip()]


@dataclass
class EvalDataset:
    """A corpus of passages and questions with gold passages.

    Example:
        ```python
        dataset = load_dataset("../shared/data/musique_train").slice(10)
        documents = dataset.documents()  # one text document per passage
        ```
    """

    name: str
    passages: list[Passage]
    questions: list[EvalQuestion]

    def source_of(self, passage: Passage) -> str:
        """Return the stable document source of a passage (``"<name>:<index>"``)."""
        return f"{self.name}:{passage.index}"

    def documents(self) -> list[Document]:
        """Return the passages as text documents (text = title, newline, passage text)."""
        docs: list[Document] = []
        for passage in self.passages:
            source = self.source_of(passage)
            text = f"{passage.title}\n{passage.text}"
            docs.append(
                Document(
                    id=document_id(source),
                    source=source,
                    title=passage.title,
                    mime="text/plain",
                    content_hash=content_hash(text),
                    text=text,
                    metadata={"dataset": self.name, "index": passage.index},
                )
            )
        return docs

    def gold_document_ids(self, question: EvalQuestion) -> set[str]:
        """Return the document ids of a question's gold passages."""
        return {document_id(f"{self.name}:{index}") for index in question.gold_indexes}

    def slice(self, limit: int | None) -> EvalDataset:
        """Return the first ``limit`` questions with only the passages they list.

        The corpus is cut to the gold and distractor passages of the kept questions (or, for
        questions without a listed context, their gold passages), so a slice indexes fast and
        keeps the documents' sources of the full set.

        Args:
            limit: Number of questions to keep; ``None`` keeps the whole dataset.

        Returns:
            A new dataset (``self`` if ``limit`` is ``None`` or not smaller).
        """
        if limit is None or limit >= len(self.questions):
            return self
        if limit < 1:
            msg = f"limit must be at least 1 (got {limit})"
            raise EvaluationError(msg)
        questions = self.questions[:limit]
        keep: set[int] = set()
        for question in questions:
            keep.update(question.context_indexes or question.gold_indexes)
        passages = [p for p in self.passages if p.index in keep]
        return EvalDataset(name=self.name, passages=passages, questions=questions)


def load_dataset(path: Path | str) -> EvalDataset:
    """Read a dataset folder or questions file in the MuSiQue or HotpotQA format.

    Args:
        path: The dataset folder (holding ``<name>.json`` and ``<name>_corpus.json``) or the
            questions JSON file (the corpus is the sibling ``<stem>_corpus.json``).

    Returns:
        The dataset; its name is the questions file's stem.

    Raises:
        EvaluationError: If a file is missing, is not JSON or does not have the expected
            shape; the message names the file and what was expected.
    """
    questions_path, corpus_path = _locate(Path(path))
    raw_questions = _read_json(questions_path)
    raw_corpus = _read_json(corpus_path)
    name = questions_path.stem
    if isinstance(raw_corpus, list):
        passages = _list_corpus(raw_corpus, corpus_path)
        questions = _musique_questions(raw_questions, questions_path, passages)
    elif isinstance(raw_corpus, dict):
        passages = _dict_corpus(raw_corpus, corpus_path)
        questions = _hotpot_questions(raw_questions, questions_path, passages)
    else:
        msg = (
            f"{corpus_path}: expected a JSON list of {{title, text}} (MuSiQue) or an object "
            f"{{title: [sentences]}} (HotpotQA), got {type(raw_corpus).__name__}"
        )
        raise EvaluationError(msg)
    if not questions:
        msg = f"{questions_path}: holds no questions; expected a non-empty JSON list"
        raise EvaluationError(msg)
    return EvalDataset(name=name, passages=passages, questions=questions)


def _locate(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        candidates = sorted(p for p in path.glob("*.json") if not p.name.endswith(_CORPUS_SUFFIX))
        preferred = path / f"{path.name}.json"
        if preferred.is_file():
            questions = preferred
        elif len(candidates) == 1:
            questions = candidates[0]
        else:
            msg = (
                f"{path}: expected one questions file <name>.json beside <name>{_CORPUS_SUFFIX}, "
                f"found {[p.name for p in candidates] or 'none'}; pass the questions file instead"
            )
            raise EvaluationError(msg)
    elif path.is_file():
        questions = path
    else:
        msg = f"{path}: no such dataset folder or questions file; check the --dataset path"
        raise EvaluationError(msg)
    corpus = questions.with_name(questions.stem + _CORPUS_SUFFIX)
    if not corpus.is_file():
        msg = f"{corpus}: corpus file missing; expected it beside {questions.name}"
        raise EvaluationError(msg)
    return questions, corpus


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path}: cannot be read as UTF-8 JSON ({exc})"
        raise EvaluationError(msg) from exc


def _list_corpus(raw: list[Any], path: Path) -> list[Passage]:
    passages: list[Passage] = []
    for index, item in enumerate(raw):
        title = item.get("title") if isinstance(item, dict) else None
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(title, str) or not isinstance(text, str):
            msg = f"{path}: entry {index} must be an object with string 'title' and 'text'"
            raise EvaluationError(msg)
        passages.append(Passage(title=title, text=text, index=index))
    return passages


def _dict_corpus(raw: dict[str, Any], path: Path) -> list[Passage]:
    passages: list[Passage] = []
    for index, (title, sentences) in enumerate(raw.items()):
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            msg = f"{path}: the value of {title!r} must be a list of sentence strings"
            raise EvaluationError(msg)
        passages.append(Passage(title=title, text="".join(sentences), index=index))
    return passages


def _records(raw: Any, path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        msg = f"{path}: expected a JSON list of question records, got {type(raw).__name__}"
        raise EvaluationError(msg)
    for position, record in enumerate(raw):
        missing = [key for key in required if not isinstance(record, dict) or key not in record]
        if missing:
            msg = f"{path}: record {position} lacks {', '.join(missing)}"
            raise EvaluationError(msg)
    return raw


def _musique_questions(raw: Any, path: Path, passages: list[Passage]) -> list[EvalQuestion]:
    records = _records(raw, path, ("id", "question", "paragraphs"))
    by_pair = {(p.title, p.text): p.index for p in passages}
    questions: list[EvalQuestion] = []
    for record in records:
        gold: list[tuple[str, str]] = []
        context: list[int] = []
        for paragraph in record["paragraphs"]:
            try:
                pair = (paragraph["title"], paragraph["paragraph_text"])
                supporting = bool(paragraph["is_supporting"])
            except (KeyError, TypeError) as exc:
                msg = (
                    f"{path}: question {record['id']}: each paragraph needs title, "
                    f"paragraph_text and is_supporting"
                )
                raise EvaluationError(msg) from exc
            index = by_pair.get(pair)
            if index is None:
                msg = (
                    f"{path}: question {record['id']}: paragraph {pair[0]!r} is not in the "
                    "corpus (matched by title and text)"
                )
                raise EvaluationError(msg)
            context.append(index)
            if supporting:
                gold.append(pair)
        questions.append(
            _question(record, id_key="id", gold=gold, by_pair=by_pair, context=context, path=path)
        )
    return questions


def _hotpot_questions(raw: Any, path: Path, passages: list[Passage]) -> list[EvalQuestion]:
    records = _records(raw, path, ("_id", "question", "supporting_facts"))
    by_title = {p.title: p for p in passages}
    by_pair = {(p.title, p.text): p.index for p in passages}
    questions: list[EvalQuestion] = []
    for record in records:
        titles: list[str] = []
        for fact in record["supporting_facts"]:
            if not isinstance(fact, list) or not fact or not isinstance(fact[0], str):
                msg = f"{path}: question {record['_id']}: supporting_facts must be [title, i]"
                raise EvaluationError(msg)
            if fact[0] not in by_title:
                msg = f"{path}: question {record['_id']}: gold title {fact[0]!r} not in corpus"
                raise EvaluationError(msg)
            if fact[0] not in titles:
                titles.append(fact[0])
        gold = [(t, by_title[t].text) for t in titles]
        context = [
            by_title[item[0]].index
            for item in record.get("context", [])
            if isinstance(item, list) and item and item[0] in by_title
        ]
        questions.append(
            _question(record, id_key="_id", gold=gold, by_pair=by_pair, context=context, path=path)
        )
    return questions


def _question(
    record: dict[str, Any],
    *,
    id_key: str,
    gold: list[tuple[str, str]],
    by_pair: dict[tuple[str, str], int],
    context: list[int],
    path: Path,
) -> EvalQuestion:
    qid = record[id_key]
    if not gold:
        msg = f"{path}: question {qid} has no gold passage; every question needs one"
        raise EvaluationError(msg)
    answer = record.get("answer")
    aliases = record.get("answer_aliases")
    return EvalQuestion(
        id=str(qid),
        question=str(record["question"]),
        gold_titles_texts=gold,
        gold_indexes=[by_pair[pair] for pair in gold],
        answer=answer if isinstance(answer, str) else None,
        context_indexes=list(dict.fromkeys(context)),
        aliases=[a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else [],
    )
