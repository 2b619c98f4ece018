"""CoNLL-2003 valid F1 of the zero-shot recognizer given only the label names, and its speed.

The model (``--model``, default the one ``zeroshot_crossner.py`` trains and caches) is told only "person",
"organisation", "location" and "miscellaneous"; CoNLL train is in its training data, so this measures what
zero-shot costs in supervised accuracy. Speed: sentences per second on one thread with the labels encoded once
(precomputed) and encoded again in every call, both in the same run.

Run: ``.venv/bin/python benchmarks/zeroshot_conll.py [--model DIR] [--limit N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit.corpora import read_corpus
from elkit.doc import Doc
from elkit.evaluation.ner import NERScores
from elkit.ner import ZeroShotNER
from zeroshot_data import CACHE, CONLL, DATA, sentences

NAMES = {"person": "", "organisation": "", "location": "", "miscellaneous": ""}


def timed(ner: ZeroShotNER, docs: list[Doc], precomputed: bool) -> tuple[list[Doc], float]:
    """Predicted copies of ``docs`` and sentences per second on one thread."""
    blanks = [Doc(doc.text, doc.token_starts, doc.token_ends, validate=False) for doc in docs]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if precomputed:
            labels = ner.encode_labels(NAMES)
            started = time.perf_counter()
            list(ner.pipe(blanks, batch_size=64, labels=labels))
        else:
            assert ner.label_encoder is not None
            started = time.perf_counter()
            for start in range(0, len(blanks), 64):
                ner.label_encoder.cache.clear()  # as if every call came with new label texts
                list(ner.pipe(blanks[start: start + 64], batch_size=64, labels=NAMES))
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    return blanks, len(blanks) / max(seconds, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=CACHE / "elkit_model")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=0, help="score only the first N sentences (0: all)")
    arguments = parser.parse_args()
    if not (arguments.model / "model.json").is_file():
        raise SystemExit(f"{arguments.model}: no trained model; run benchmarks/zeroshot_crossner.py first")
    ner = ZeroShotNER().from_disk(arguments.model)
    gold = [doc for doc in sentences(read_corpus(arguments.data / "conll2003" / "valid.txt", "conll"), CONLL,
                                     Counter()) if len(doc)]
    if arguments.limit:
        gold = gold[: arguments.limit]
    predicted, with_labels = timed(ner, gold, precomputed=True)
    _, without = timed(ner, gold, precomputed=False)
    scores = NERScores()
    for doc, reference in zip(predicted, gold, strict=True):
        scores.add(doc, reference)
    for label, values in scores.per_label.items():
        print(f"  {label:<14} P {100 * values['p']:5.1f}  R {100 * values['r']:5.1f}  F1 {100 * values['f']:5.1f}")
    overall = scores.overall
    print(f"CoNLL valid, {len(gold):,} sentences, temperature {ner.temperature:.3f}, threshold "
          f"{ner.settings.threshold}")
    print(f"conll_valid_zeroshot_f1: {100 * overall['f']:.2f}")
    print(f"zeroshot_sentences_per_second_precomputed: {with_labels:.1f}")
    print(f"zeroshot_sentences_per_second_per_call_labels: {without:.1f}")


if __name__ == "__main__":
    main()
