"""ner.teach on CoNLL-2003: does a model in the loop learn from 300 binary accept/reject decisions?

1. Base model: ``configs/ner_conll_fast.toml`` trained on the first ``--base-sentences`` sentences of CoNLL-2003
   train (model selection on ``--base-dev`` sentences taken from the end of train, so valid stays unseen), cached
   under ``--work``/base (``--retrain`` trains it again).
2. Its entity F1 on CoNLL-2003 valid (all of it, or the first ``--dev-limit`` sentences).
3. A source JSONL of held-out train sentences (used neither for the base model nor for its dev set), written with
   ``doc_to_task(include_tokens=True)`` so the tokens are CoNLL's, without their gold spans.
4. The ``ner.teach`` recipe over that source with the base pipeline in the loop, served by the annotation
   ``Controller`` (answers stored in a SQLite ``Store`` in a temporary folder), exactly as the web app serves it:
   ``next_tasks`` and ``submit`` in batches of ``--batch-size``. A scripted annotator answers ``--decisions``
   questions from the gold labels: accept when the suggested span (start, end, label) is a gold entity of that
   sentence, else reject. Every submitted batch updates the model in memory (``recipe.update``).
5. The updated in-memory model's F1 on the same valid sentences.

The gain from 300 decisions is about one F1 point and depends on which sentences the stream asks about: run
with ``--pool-start 3000`` or ``6000`` (other held-out sentences) to see the spread. The recipe's update settings
(``learning_rate_scale``, ``replay``, rehearsal) can be changed with the options of the same names.

Run: ``.venv/bin/python benchmarks/teach_conll.py`` (options: ``--help``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from bench_vectors import static_vectors
from elkit.annotate.controller import Controller
from elkit.annotate.recipes import ner_teach
from elkit.annotate.store import Store
from elkit.corpora import read_corpus
from elkit.doc import Doc
from elkit.doc.task import doc_to_task
from elkit.evaluation import evaluate_ner
from elkit.packaging import load
from elkit.pipeline import Pipeline
from elkit.training import split_sentences
from elkit.training.loop import train

ROOT = Path(__file__).resolve().parent.parent
SESSION = "scripted"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sentences(path: Path) -> list[Doc]:
    return [piece for doc in read_corpus(path) for piece in split_sentences(doc)]


def base_model(arguments: argparse.Namespace, train_part: list[Doc], dev_part: list[Doc]) -> Path:
    """Train (or reuse) the base model; returns its folder."""
    output = arguments.work / "base"
    settings = {"config": str(arguments.config), "sentences": len(train_part), "dev": len(dev_part),
                "epochs": arguments.base_epochs, "seed": arguments.seed}
    stamp = output / "benchmark.json"
    if not arguments.retrain and (output / "model-best").is_dir() and stamp.is_file():
        if json.loads(stamp.read_text(encoding="utf-8")) == settings:
            log(f"base model: reusing {output / 'model-best'}")
            return output / "model-best"
        log("base model: cached one was trained with other settings; training again")
    steps_per_epoch = max(1, sum(len(doc) for doc in train_part) // 1000)
    overrides = {
        "training.max_epochs": arguments.base_epochs,
        "training.warmup_steps": min(200, steps_per_epoch * 2),
        "training.eval_frequency": max(10, steps_per_epoch * 2),
        "training.patience": 0,
        "training.threads": arguments.threads,
        "training.seed": arguments.seed,
        "components.ner.encoder.vectors": static_vectors(),  # the config's, by absolute paths
    }
    started = time.perf_counter()
    train(arguments.config, train_part, dev_part, output, console=Console(stderr=True), overrides=overrides)
    log(f"base model trained in {time.perf_counter() - started:.0f} s")
    stamp.write_text(json.dumps(settings), encoding="utf-8")
    return output / "model-best"


def write_source(pool: list[Doc], path: Path) -> None:
    """The held-out sentences as tasks with CoNLL's tokens, no spans, and their index as ``meta.id``."""
    with open(path, "w", encoding="utf-8") as stream:
        for index, doc in enumerate(pool):
            blank = Doc(doc.text, doc.token_starts, doc.token_ends, validate=False)
            blank.meta = {"id": index}
            task = doc_to_task(blank, include_tokens=True)
            task.pop("spans", None)
            stream.write(json.dumps(task, ensure_ascii=False) + "\n")


def gold_answer(task: dict[str, Any], gold: list[set[tuple[int, int, str]]]) -> str:
    """What an annotator who knows the gold labels answers: accept an exact (start, end, label) match."""
    entities = gold[task["meta"]["id"]]
    span = task["spans"][0]
    return "accept" if (span["start"], span["end"], span["label"]) in entities else "reject"


def teach(arguments: argparse.Namespace, model: Path, pool: list[Doc], work: Path) -> tuple[Pipeline, dict[str, Any]]:
    """Serve ner.teach through the controller and answer ``--decisions`` tasks from the gold labels."""
    source = work / "source.jsonl"
    write_source(pool, source)
    gold = [{(span.start_char, span.end_char, span.label) for span in doc.ents} for doc in pool]
    nlp = load(model)
    options: dict[str, Any] = {"min_probability": arguments.min_probability, "per_text": arguments.per_text,
                               "bias": arguments.bias, "rehearse": arguments.rehearse, "sort": not arguments.no_sort}
    if arguments.learning_rate_scale is not None:
        options["learning_rate_scale"] = arguments.learning_rate_scale
    if arguments.replay is not None:
        options["replay"] = arguments.replay
    recipe = ner_teach("teach_conll", source, model, nlp=nlp, **options)
    teacher = recipe.stats["teacher"]
    store = Store(work / "answers.db")
    controller = Controller(recipe, store, batch_size=arguments.batch_size)
    counts = {"accept": 0, "reject": 0, "texts": set(), "batches": 0}
    started = time.perf_counter()
    while counts["accept"] + counts["reject"] < arguments.decisions:
        wanted = min(arguments.batch_size, arguments.decisions - counts["accept"] - counts["reject"])
        tasks = controller.next_tasks(SESSION, wanted)
        if not tasks:
            log("the stream ran out of tasks before the decisions were made")
            break
        answers = []
        for task in tasks:
            verdict = gold_answer(task, gold)
            counts[verdict] += 1
            counts["texts"].add(task["meta"]["id"])
            answers.append({"task_hash": task["_task_hash"], "answer": verdict})
        controller.submit(SESSION, answers)
        counts["batches"] += 1
    seconds = time.perf_counter() - started
    stored = store.count("teach_conll")
    store_answers = store.answers("teach_conll", session_id=SESSION)
    last_position = max(task["meta"]["id"] for task in store_answers) if store_answers else -1
    stats = {"accepted": counts["accept"], "rejected": counts["reject"], "texts": len(counts["texts"]),
             "batches": counts["batches"], "updates": teacher.updates, "stored": stored, "seconds": seconds,
             "read": last_position + 1, "losses": dict(teacher.losses)}
    return nlp, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/conll2003")
    parser.add_argument("--config", type=Path, default=ROOT / "configs/ner_conll_fast.toml")
    parser.add_argument("--work", type=Path, default=Path("/tmp/elkit-bench/teach"))
    parser.add_argument("--base-sentences", type=int, default=1000, help="First N train sentences for the base.")
    parser.add_argument("--base-dev", type=int, default=500, help="Last N train sentences: the base's dev set.")
    parser.add_argument("--base-epochs", type=int, default=20)
    parser.add_argument("--retrain", action="store_true", help="Train the base model even if it is cached.")
    parser.add_argument("--dev-limit", type=int, default=0, help="Evaluate on the first N valid sentences (0: all).")
    parser.add_argument("--pool", type=int, default=3000, help="Held-out train sentences in the teach source.")
    parser.add_argument("--pool-start", type=int, default=0, help="Skip this many held-out sentences first.")
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=10, help="Tasks per next_tasks/submit round.")
    parser.add_argument("--learning-rate-scale", type=float, default=None,
                        help="ner.teach's learning_rate_scale (default: the recipe's).")
    parser.add_argument("--replay", type=int, default=None, help="ner.teach's replay (default: the recipe's).")
    parser.add_argument("--no-rehearse", dest="rehearse", action="store_false")
    parser.add_argument("--no-sort", action="store_true", help="Every suggestion in order, no uncertainty sort.")
    parser.add_argument("--min-probability", type=float, default=0.05)
    parser.add_argument("--bias", type=float, default=0.0)
    parser.add_argument("--per-text", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    random.seed(arguments.seed)
    np.random.seed(arguments.seed)
    torch.manual_seed(arguments.seed)
    arguments.work.mkdir(parents=True, exist_ok=True)

    train_sentences = sentences(arguments.data / "train.txt")
    valid = sentences(arguments.data / "valid.txt")
    if arguments.dev_limit:
        valid = valid[: arguments.dev_limit]
    base_part = train_sentences[: arguments.base_sentences]
    base_dev = train_sentences[len(train_sentences) - arguments.base_dev:]
    pool = train_sentences[arguments.base_sentences: len(train_sentences) - arguments.base_dev]
    pool = pool[arguments.pool_start: arguments.pool_start + arguments.pool]
    log(f"CoNLL-2003 train: {len(train_sentences):,} sentences; base model on the first {len(base_part):,} "
        f"(dev: the last {len(base_dev):,}); teach source: {len(pool):,} held-out ones from sentence "
        f"{len(base_part) + arguments.pool_start:,}; evaluation: "
        f"{'all ' if not arguments.dev_limit else 'the first '}{len(valid):,} valid sentences, "
        f"{sum(len(doc.ents) for doc in valid):,} entities")

    model = base_model(arguments, base_part, base_dev)
    before_nlp = load(model)
    before = evaluate_ner(before_nlp, valid)
    log(f"before: P {before.overall['p']:.4f} R {before.overall['r']:.4f} F {before.overall['f']:.4f} "
        f"({before.seconds:.1f} s to tag valid)")

    settings = (f"learning_rate_scale {arguments.learning_rate_scale or 'default'}, "
                f"replay {'default' if arguments.replay is None else arguments.replay}, rehearse {arguments.rehearse}, "
                f"min_probability {arguments.min_probability}, bias {arguments.bias}, per_text {arguments.per_text}, "
                f"sort {not arguments.no_sort}, batch {arguments.batch_size}")
    log(f"teach: {settings}")
    with tempfile.TemporaryDirectory(prefix="elkit-teach-") as folder:
        nlp, stats = teach(arguments, model, pool, Path(folder))
    after = evaluate_ner(nlp, valid)
    log(f"teach: {stats['accepted']} accepted, {stats['rejected']} rejected on {stats['texts']} texts "
        f"({stats['read']} source sentences read), {stats['batches']} batches, {stats['updates']} updates, "
        f"{stats['stored']} answers stored, {stats['seconds']:.1f} s; losses "
        + ", ".join(f"{key} {value:.2f}" for key, value in stats["losses"].items()))
    log(f"after: P {after.overall['p']:.4f} R {after.overall['r']:.4f} F {after.overall['f']:.4f}")
    for label in sorted(before.per_label):
        log(f"  {label}: {before.per_label[label]['f']:.4f} -> {after.per_label.get(label, {'f': 0.0})['f']:.4f}")
    decisions = stats["accepted"] + stats["rejected"]
    print(f"teach_accepted: {stats['accepted']}")
    print(f"teach_rejected: {stats['rejected']}")
    print(f"teach_seconds: {stats['seconds']:.1f}")
    print(f"teach_f1_before: {before.overall['f']:.4f}")
    print(f"teach_f1_after: {after.overall['f']:.4f}")
    print(f"teach_f1_gain: {after.overall['f'] - before.overall['f']:.4f}")
    print(f"teach_decisions: {decisions}")


if __name__ == "__main__":
    main()
