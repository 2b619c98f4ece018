"""Zero-shot NER on the five CrossNER domains, the protocol GLiNER reports, with the gliner library beside it.

1. Train elkit's ZeroShotNER once on everything that is not CrossNER (:mod:`zeroshot_data`: CoNLL-2003 train,
   spaCy silver OntoNotes types on the same text, NCBI-disease train, BC5CDR train) for ``--seconds`` of wall time
   on this CPU; the best step and the temperature are chosen on 5% of those training sentences held out, never on
   CrossNER. With ``--peer``, the gliner library (bi-encoder over the same all-MiniLM-L6-v2) trains on exactly the
   same sentences for the same time (``benchmarks/gliner_peer.py``).
2. Score both zero-shot on each domain's dev set (``--test-dir DIR`` reads ``DIR/<domain>/test.txt``), given only
   the domain's label names in natural language (:func:`zeroshot_data.crossner_label_names`); exact span and
   label, micro P/R/F1 per domain, then the average over domains.
3. ``--fewshot``: fine-tune a copy on each domain's own train file (100-200 sentences), rehearsing the zero-shot
   model's own predictions on the training corpora so that other labels are not forgotten, and rescore that
   domain and the others.
4. Speed: sentences per second, one thread, labels encoded once per domain, both models in the same run.

Run: ``.venv/bin/python benchmarks/zeroshot_crossner.py [--seconds 1800] [--peer] [--fewshot] [--model DIR]``
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import torch
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from elkit.corpora import read_corpus
from elkit.doc import Doc, Example, Span
from elkit.evaluation.ner import NERScores
from elkit.ner import ZeroShotNER
from elkit.training.zeroshot import ZeroShotTrainingSettings, train_zero_shot
from zeroshot_data import (
    CACHE,
    CATALOGUE,
    DATA,
    crossner_domain_tags,
    crossner_label_names,
    ensure_package,
    training_corpora,
    write_gliner_jsonl,
)

DOMAINS = ("ai", "literature", "music", "politics", "science")


def domain_docs(folder: Path, domain: str, split: str) -> tuple[list[Doc], list[str]]:
    """Sentences of one CrossNER file with natural label names, and the domain's label names."""
    names = crossner_label_names()
    allowed = set(crossner_domain_tags()[domain])
    path = folder / domain / f"{split}.txt"
    docs = []
    for number, doc in enumerate(read_corpus(path, "conll"), start=1):
        unknown = sorted({span.label for span in doc.ents} - allowed)
        if unknown:
            raise SystemExit(f"{path}: sentence {number}: tags {unknown} are not in the {domain} label set "
                             f"({', '.join(sorted(allowed))})")
        copy_doc = Doc(doc.text, doc.token_starts, doc.token_ends, validate=False)
        copy_doc.ents = [Span(copy_doc, span.start, span.end, names[span.label]) for span in doc.ents]
        docs.append(copy_doc)
    return docs, sorted(names[tag] for tag in crossner_domain_tags()[domain])


def score(ner: ZeroShotNER, docs: list[Doc], labels: list[str]) -> tuple[NERScores, float]:
    """Scores against gold, and sentences per second on one thread (labels encoded before the clock starts)."""
    encoded = ner.encode_labels(labels)
    blanks = [Doc(doc.text, doc.token_starts, doc.token_ends, validate=False) for doc in docs]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        started = time.perf_counter()
        for _ in ner.pipe(blanks, batch_size=64, labels=encoded):
            pass
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    scores = NERScores()
    for predicted, gold in zip(blanks, docs, strict=True):
        scores.add(predicted, gold)
    return scores, len(docs) / max(seconds, 1e-9)


def evaluate(ner: ZeroShotNER, folder: Path, split: str, domains: list[str],
             console: Console) -> tuple[dict[str, dict[str, float]], float]:
    results: dict[str, dict[str, float]] = {}
    rates = []
    for domain in domains:
        docs, labels = domain_docs(folder, domain, split)
        scores, rate = score(ner, docs, labels)
        overall = scores.overall
        results[domain] = {"p": overall["p"], "r": overall["r"], "f": overall["f"], "sentences": len(docs)}
        rates.append(rate)
        console.print(f"  {domain:<11} P {100 * overall['p']:5.1f}  R {100 * overall['r']:5.1f}  "
                      f"F1 {100 * overall['f']:5.1f}  ({len(docs)} sentences, {rate:,.0f}/s, {len(labels)} labels)")
    return results, sum(rates) / len(rates)


def fewshot(base: ZeroShotNER, domain: str, seconds: float, rehearsal: list[Doc], seed: int) -> ZeroShotNER:
    """A copy of ``base`` fine-tuned on the domain's train file for ``seconds`` of wall time.

    Each step is followed by a rehearsal step towards the zero-shot model's own predictions on ``rehearsal``
    documents with the training labels, against forgetting.
    """
    ner = copy.deepcopy(base)
    train, labels = domain_docs(DATA / "crossner", domain, "train")
    rng = random.Random(seed)
    ner.begin_rehearsal([CATALOGUE[key].names[0] for key in sorted(CATALOGUE)])
    optimizer = torch.optim.AdamW([parameter for parameter in ner.model.parameters() if parameter.requires_grad],
                                  lr=3e-4, weight_decay=0.01)
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch = rng.sample(train, min(16, len(train)))
        ner.update([Example(doc) for doc in batch], labels=labels, sgd=optimizer)
        ner.rehearse(rng.sample(rehearsal, 16), sgd=optimizer)
    return ner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1800.0, help="training wall time for each model")
    parser.add_argument("--model", type=Path, help="a trained ZeroShotNER folder: skip training")
    parser.add_argument("--output", type=Path, default=CACHE / "elkit_model", help="where the trained model goes")
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--crossner", type=Path, default=DATA / "crossner")
    parser.add_argument("--test-dir", type=Path, help="read DIR/<domain>/test.txt instead of the dev sets")
    parser.add_argument("--threshold", type=float, help="decision threshold (default: the model's, 0.5)")
    parser.add_argument("--fewshot", action="store_true", help="also fine-tune on each domain's train file")
    parser.add_argument("--fewshot-seconds", type=float, default=120.0, help="few-shot training time per domain")
    parser.add_argument("--peer", action="store_true", help="train and score the gliner library the same way")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    console = Console(stderr=True)
    domains = [domain.strip() for domain in arguments.domains.split(",") if domain.strip()]
    folder, split = (arguments.test_dir, "test") if arguments.test_dir else (arguments.crossner, "dev")
    torch.manual_seed(arguments.seed)
    corpora = None
    if arguments.model:
        ner = ZeroShotNER().from_disk(arguments.model)
    else:
        corpora, _ = training_corpora()
        ner = ZeroShotNER(heads="random")  # trained from scratch, never from the shipped heads
        ner.initialize()
        result = train_zero_shot(ner, corpora, CATALOGUE,
                                 ZeroShotTrainingSettings(seconds=arguments.seconds, seed=arguments.seed), console)
        ner.to_disk(arguments.output)
        (arguments.output / "training.json").write_text(json.dumps({
            "steps": result.steps, "sentences": result.sentences, "seconds": result.seconds,
            "best_step": result.best_step, "best_held_out_f1": result.best_f1, "history": result.history,
            "temperature": ner.temperature, "held_out": result.held_out,
            "ece_before": result.calibration.ece_before if result.calibration else None,
            "ece_after": result.calibration.ece_after if result.calibration else None,
        }, indent=2))
        console.print(f"saved {arguments.output}")
    if arguments.threshold is not None:
        ner.settings = ner.settings.model_copy(update={"threshold": arguments.threshold})
    console.print(f"elkit ZeroShotNER, zero-shot on CrossNER {split} (temperature {ner.temperature:.3f}):")
    zero, speed = evaluate(ner, folder, split, domains, console)
    average = sum(item["f"] for item in zero.values()) / len(zero)
    lines = [f"crossner_zeroshot_avg_f1: {100 * average:.1f}"]
    report = {"zeroshot": zero, "speed": speed}
    if arguments.fewshot:
        if corpora is None:
            corpora, _ = training_corpora()
        rehearsal = [doc for corpus in corpora for doc in corpus.docs]
        tuned_scores, drops = [], []
        for domain in domains:
            tuned = fewshot(ner, domain, arguments.fewshot_seconds, rehearsal, arguments.seed)
            console.print(f"few-shot on {domain}:")
            scores, _ = evaluate(tuned, folder, split, domains, console)
            tuned_scores.append(scores[domain]["f"])
            drops.extend(zero[other]["f"] - scores[other]["f"] for other in domains if other != domain)
            report[f"fewshot_{domain}"] = scores
        lines.append(f"crossner_fewshot_avg_f1: {100 * sum(tuned_scores) / len(tuned_scores):.1f}")
        if drops:
            lines.append(f"crossner_fewshot_other_domains_mean_drop: {100 * sum(drops) / len(drops):.1f}")
    lines.append(f"zeroshot_sentences_per_second: {speed:.1f}")
    if arguments.peer:
        lines.extend(run_peer(arguments, domains, corpora, console))
        peer_speed = next(float(line.split(": ")[1]) for line in lines if line.startswith("gliner_sentences"))
        lines.append(f"zeroshot_speed_ratio_vs_gliner: {speed / peer_speed:.2f}")
    (CACHE / "crossner_report.json").write_text(json.dumps(report, indent=2))
    for line in lines:
        print(line)


def run_peer(arguments: argparse.Namespace, domains: list[str], corpora: list | None,
             console: Console) -> list[str]:
    """Train and score the gliner library on the same sentences for the same time (benchmarks/gliner_peer.py).

    Returns:
        Its headline lines, F1 rescaled to percent.
    """
    ensure_package("gliner", ["gliner==0.2.29", "sentencepiece==0.2.3"], no_deps=True)
    if corpora is None:
        corpora, _ = training_corpora()
    train_file = CACHE / "train_gliner.jsonl"
    write_gliner_jsonl(corpora, train_file)
    command = [sys.executable, str(Path(__file__).resolve().parent / "gliner_peer.py"), "--train", str(train_file),
               "--seconds", str(arguments.seconds), "--threads", str(torch.get_num_threads()),
               "--domains", ",".join(domains), "--output", str(CACHE / "gliner_model"),
               "--report", str(CACHE / "gliner_report.json")]
    if arguments.test_dir:
        command += ["--test-dir", str(arguments.test_dir)]
    else:
        command += ["--crossner", str(arguments.crossner)]
    if arguments.fewshot:
        command += ["--fewshot", "--fewshot-seconds", str(arguments.fewshot_seconds)]
    console.print("peer: " + " ".join(command))
    finished = subprocess.run(command, capture_output=False, stdout=subprocess.PIPE, text=True, check=True)
    lines = []
    for line in finished.stdout.splitlines():
        key, _, value = line.partition(": ")
        if key.startswith("crossner_"):
            lines.append(f"{key}: {100 * float(value):.1f}")
        elif key == "gliner_sentences_per_second":
            lines.append(line)
    return lines


if __name__ == "__main__":
    main()
