"""Rough CaRB-style quality check of the spaCy tier's SVO triples.

Usage:
    .venv/bin/python benchmarks/carb_eval.py --data ../shared/data/carb_dev
    .venv/bin/python benchmarks/carb_eval.py --no-noun-phrases   # NER/proper-noun args only

Runs the extractor on every sentence of ``dev.txt`` (one chunk per sentence) and compares the
SVO triples with the gold tuples of ``dev.tsv`` (``sentence \\t relation \\t arg1 \\t arg2
[\\t arg3 ...]``). Matching is a simplified CaRB: a triple matches a gold tuple of the same
sentence when the predicate overlaps the relation, the subject overlaps arg1 and the object
overlaps any later argument, each by at least one content lemma (all lemmas when a side has
no content word, e.g. ``is``). Precision = matched triples / triples; recall = matched gold
tuples / gold tuples. The real CaRB scorer weighs partial overlap and is stricter; use these
numbers to compare versions of the extractor, not with published scores. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphrag.config import ExtractionSettings  # noqa: E402
from graphrag.extract.spacy_extractor import SpacyExtractor, load_nlp  # noqa: E402
from graphrag.models import Chunk, RelationKind  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "carb_dev"


def read_gold(path: Path) -> dict[str, list[tuple[str, str, list[str]]]]:
    """Map each sentence to its gold ``(relation, arg1, [arg2, ...])`` tuples."""
    gold: dict[str, list[tuple[str, str, list[str]]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 4:
            gold[fields[0].strip()].append((fields[1], fields[2], fields[3:]))
    return gold


class Lemmas:
    """Content-lemma sets of short strings, computed with the spaCy pipeline (cached)."""

    def __init__(self, model: str) -> None:
        self._nlp = load_nlp(model)
        self._cache: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def warm(self, texts: set[str]) -> None:
        todo = sorted(t for t in texts if t not in self._cache)
        for text, doc in zip(todo, self._nlp.pipe(todo, batch_size=256), strict=True):
            words = [t for t in doc if not (t.is_punct or t.is_space)]
            every = frozenset(t.lemma_.lower() for t in words)
            content = frozenset(t.lemma_.lower() for t in words if not t.is_stop)
            self._cache[text] = (content, every)

    def overlap(self, first: str, second: str) -> bool:
        a_content, a_all = self._cache[first]
        b_content, b_all = self._cache[second]
        if a_content and b_content:
            return bool(a_content & b_content)
        return bool(a_all & b_all)


def evaluate(data: Path, noun_phrases: bool) -> dict[str, Any]:
    sentences = [s.strip() for s in (data / "dev.txt").read_text(encoding="utf-8").splitlines()]
    sentences = [s for s in sentences if s]
    gold = read_gold(data / "dev.tsv")
    settings = ExtractionSettings(processes=1, noun_phrases=noun_phrases)
    extractor = SpacyExtractor(settings)
    chunks = [
        Chunk(id=f"s{i}", document_id="carb", ordinal=i, text=s, start=0, end=len(s), token_count=0)
        for i, s in enumerate(sentences)
    ]
    load_nlp(settings.spacy_model)
    started = time.perf_counter()
    results = extractor.extract_sync(chunks)
    seconds = time.perf_counter() - started
    triples: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for sentence, result in zip(sentences, results, strict=True):
        for rel in result.relations:
            if rel.kind is RelationKind.SVO:
                subject = result.mentions[rel.subject].surface
                obj = result.mentions[rel.object].surface
                triples[sentence].append((subject, rel.predicate, obj))
    lemmas = Lemmas(settings.spacy_model)
    texts = {x for ts in triples.values() for t in ts for x in t}
    texts |= {x for s in sentences for r, a1, rest in gold.get(s, []) for x in (r, a1, *rest)}
    lemmas.warm(texts)
    matched_triples = 0
    matched_gold: set[tuple[str, int]] = set()
    for sentence in sentences:
        tuples = gold.get(sentence, [])
        for subject, predicate, obj in triples.get(sentence, []):
            hit = False
            for index, (relation, arg1, rest) in enumerate(tuples):
                if (
                    lemmas.overlap(predicate, relation)
                    and lemmas.overlap(subject, arg1)
                    and any(lemmas.overlap(obj, arg) for arg in rest if arg.strip())
                ):
                    hit = True
                    matched_gold.add((sentence, index))
            matched_triples += hit
    n_triples = sum(len(t) for t in triples.values())
    n_gold = sum(len(gold.get(s, [])) for s in sentences)
    precision = matched_triples / n_triples if n_triples else 0.0
    recall = len(matched_gold) / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "sentences": len(sentences),
        "noun_phrases": noun_phrases,
        "triples": n_triples,
        "gold_tuples": n_gold,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "extract_seconds": round(seconds, 2),
        "sentences_per_second": round(len(sentences) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with dev.txt/tsv")
    parser.add_argument("--no-noun-phrases", action="store_true", help="no CONCEPT arguments")
    args = parser.parse_args()
    print(json.dumps(evaluate(args.data, not args.no_noun_phrases), indent=2))


if __name__ == "__main__":
    main()
