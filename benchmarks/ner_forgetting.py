"""Online updates without forgetting: teach a CoNLL-2003 model a new label from 100 CrossNER-AI sentences.

Start: the fast model trained on CoNLL-2003 train. Update it online (``Pipeline.update``, a few passes over the
100 sentences of crossner/ai/train.txt) after ``add_label("ALGORITHM")``. CrossNER types are mapped to CoNLL's:

* algorithm → ALGORITHM (the new label);
* person, researcher → PER; organisation, university → ORG; country, location → LOC;
* misc, conference, product, programlang → MISC;
* task, field, metrics → dropped (they are not named entities in CoNLL's sense; their words count as O).

Two runs from the same start, same seed, same batches: without rehearsal, and with pseudo-rehearsal (after every
update batch, one ``Pipeline.rehearse`` step on 16 raw CoNLL-2003 train sentences towards the starting model's own
predictions). Reported: F1 of the original labels on CoNLL-2003 valid before and after each run, and F1 of
ALGORITHM on crossner/ai dev.

With ``--through-cli`` the run with rehearsal goes through the command line instead, as a user would run it:
``elkit train configs/ner_conll_fast.toml --base-model MODEL --train ai_train.jsonl --dev ai_dev.jsonl
--rehearse conll_train_sentences.txt`` with the same epochs, about the same batch size (``batch_words``),
learning rate and rehearsal batch; both its model-best (chosen on crossner/ai dev, all labels) and its
model-last are scored like the API runs.

Run: ``.venv/bin/python benchmarks/ner_forgetting.py --model models/ner_conll_fast/model-best [--through-cli]``
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from elkit.corpora import read_corpus
from elkit.doc import Doc
from elkit.evaluation import evaluate_ner
from elkit.packaging import load
from elkit.pipeline import Pipeline
from elkit.training import split_sentences

ROOT = Path(__file__).resolve().parent.parent
MAPPING = {
    "algorithm": "ALGORITHM",
    "person": "PER", "researcher": "PER",
    "organisation": "ORG", "university": "ORG",
    "country": "LOC", "location": "LOC",
    "misc": "MISC", "conference": "MISC", "product": "MISC", "programlang": "MISC",
    "task": None, "field": None, "metrics": None,
}
ORIGINAL = {"PER", "ORG", "LOC", "MISC"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def mapped(docs: list[Doc]) -> list[Doc]:
    """The documents with CrossNER labels mapped to CoNLL's (unknown types are an error, not silently dropped)."""
    result = []
    for doc in docs:
        spans = []
        for span in doc.ents:
            if span.label not in MAPPING:
                raise SystemExit(f"unmapped CrossNER type {span.label!r}")
            label = MAPPING[span.label]
            if label is not None:
                spans.append(span.replace(label=label))
        doc.ents = spans
        result.append(doc)
    return result


def run(model: Path, train: list[Doc], rehearsal_pool: list[Doc], epochs: int, batch_size: int, rehearse: bool,
        seed: int, rehearse_batch: int, learning_rate: float) -> Pipeline:
    random.seed(seed)
    torch.manual_seed(seed)
    nlp = load(model)
    ner = nlp.get_pipe("ner")
    ner.settings = ner.settings.model_copy(update={"learning_rate": learning_rate})  # type: ignore[attr-defined]
    ner.add_label("ALGORITHM")  # type: ignore[attr-defined]
    if rehearse:
        ner.begin_rehearsal()  # type: ignore[attr-defined]
    rng = random.Random(seed)
    pool = list(rehearsal_pool)
    losses: dict[str, float] = {}
    for _ in range(epochs):
        order = list(train)
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            nlp.update(order[start: start + batch_size], losses=losses)
            if rehearse:
                nlp.rehearse(rng.sample(pool, rehearse_batch), losses=losses)
    log(f"  losses: {', '.join(f'{key} {value:.1f}' for key, value in losses.items())}")
    return nlp


def train_through_cli(model: Path, train: list[Doc], dev: list[Doc], pool: list[Doc], arguments: argparse.Namespace,
                      folder: Path) -> dict[str, Pipeline]:
    """`elkit train --base-model --rehearse` on the same data; returns its model-best and model-last."""
    from elkit.doc.task import doc_to_task

    for name, docs in (("ai_train.jsonl", train), ("ai_dev.jsonl", dev)):
        with (folder / name).open("w", encoding="utf-8") as stream:
            for doc in docs:
                stream.write(json.dumps(doc_to_task(doc, include_tokens=True), ensure_ascii=False) + "\n")
    (folder / "rehearse.txt").write_text("".join(doc.text.replace("\n", " ") + "\n" for doc in pool), encoding="utf-8")
    words = sum(len(doc) for doc in train) / len(train)
    command = [str(ROOT / ".venv/bin/elkit"), "train", str(ROOT / "configs/ner_conll_fast.toml"), "--base-model",
               str(model), "--train", str(folder / "ai_train.jsonl"), "--dev", str(folder / "ai_dev.jsonl"),
               "--rehearse", str(folder / "rehearse.txt"), "--output", str(folder / "cli"),
               "--set", f"training.max_epochs={arguments.epochs}",
               "--set", f"training.batch_words={round(words * arguments.batch_size)}",
               "--set", "training.warmup_steps=0", "--set", "training.eval_frequency=25",
               "--set", f"training.patience={10 ** 6}", "--set", f"training.seed={arguments.seed}",
               "--set", f"training.rehearse_batch={arguments.rehearse_batch}",
               "--set", f"components.ner.learning_rate={arguments.learning_rate}"]
    log("  " + " ".join(command))
    subprocess.run(command, check=True, cwd=ROOT)
    return {name: load(folder / "cli" / f"model-{name}") for name in ("best", "last")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models/ner_conll_fast/model-best")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rehearse-batch", type=int, default=16, help="Raw CoNLL sentences per rehearsal step.")
    parser.add_argument("--learning-rate", type=float, default=0.0005)
    parser.add_argument("--through-cli", action="store_true", help="Also run the rehearsal run through elkit train.")
    arguments = parser.parse_args()
    conll_valid = list(read_corpus(arguments.data / "conll2003/valid.txt"))
    conll_train = [piece for doc in read_corpus(arguments.data / "conll2003/train.txt") for piece in
                   split_sentences(doc)]
    raw_pool = [Doc(doc.text, doc.token_starts, doc.token_ends, validate=False) for doc in conll_train]
    ai_train = mapped(list(read_corpus(arguments.data / "crossner/ai/train.txt")))
    ai_dev = mapped(list(read_corpus(arguments.data / "crossner/ai/dev.txt")))
    log(f"crossner/ai train: {len(ai_train)} sentences, "
        f"{sum(span.label == 'ALGORITHM' for doc in ai_train for span in doc.ents)} ALGORITHM spans; "
        f"dev: {len(ai_dev)} sentences, {sum(span.label == 'ALGORITHM' for doc in ai_dev for span in doc.ents)}")

    start = load(arguments.model)
    before = evaluate_ner(start, conll_valid, labels=ORIGINAL).overall["f"]
    log(f"start: CoNLL valid F1 (PER/ORG/LOC/MISC) {before:.4f}")
    results = {}
    for rehearse in (False, True):
        started = time.perf_counter()
        nlp = run(arguments.model, ai_train, raw_pool, arguments.epochs, arguments.batch_size, rehearse,
                  arguments.seed, arguments.rehearse_batch, arguments.learning_rate)
        after = evaluate_ner(nlp, conll_valid, labels=ORIGINAL).overall["f"]
        algorithm = evaluate_ner(nlp, ai_dev, labels={"ALGORITHM"}).overall
        name = "with" if rehearse else "without"
        results[name] = (after, algorithm)
        log(f"{name} rehearsal ({time.perf_counter() - started:.0f} s): CoNLL valid F1 {after:.4f} "
            f"(drop {100 * (before - after):.2f} points); ALGORITHM on crossner/ai dev P {algorithm['p']:.4f} "
            f"R {algorithm['r']:.4f} F {algorithm['f']:.4f}")
    if arguments.through_cli:
        with tempfile.TemporaryDirectory(prefix="elkit-forgetting-") as name:
            started = time.perf_counter()
            models = train_through_cli(arguments.model, ai_train, ai_dev, raw_pool, arguments, Path(name))
            for kind, nlp in models.items():
                after = evaluate_ner(nlp, conll_valid, labels=ORIGINAL).overall["f"]
                algorithm = evaluate_ner(nlp, ai_dev, labels={"ALGORITHM"}).overall
                results[f"cli_{kind}"] = (after, algorithm)
                log(f"elkit train --base-model --rehearse, model-{kind} ({time.perf_counter() - started:.0f} s): "
                    f"CoNLL valid F1 {after:.4f} (drop {100 * (before - after):.2f} points); ALGORITHM P "
                    f"{algorithm['p']:.4f} R {algorithm['r']:.4f} F {algorithm['f']:.4f}")
    print(f"original_f1_before: {100 * before:.2f}")
    print(f"original_f1_after_without_rehearsal: {100 * results['without'][0]:.2f}")
    print(f"original_f1_after_with_rehearsal: {100 * results['with'][0]:.2f}")
    print(f"algorithm_f1_without_rehearsal: {100 * results['without'][1]['f']:.2f}")
    print(f"algorithm_f1_with_rehearsal: {100 * results['with'][1]['f']:.2f}")
    print(f"original_f1_drop_with_rehearsal: {100 * (before - results['with'][0]):.2f}")
    print(f"original_f1_drop_without_rehearsal: {100 * (before - results['without'][0]):.2f}")
    for kind in ("best", "last"):
        if f"cli_{kind}" in results:
            after, algorithm = results[f"cli_{kind}"]
            print(f"cli_{kind}_algorithm_f1: {100 * algorithm['f']:.2f}")
            print(f"cli_{kind}_original_f1_drop: {100 * (before - after):.2f}")


if __name__ == "__main__":
    main()
