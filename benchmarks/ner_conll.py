"""CoNLL-2003 NER: elkit's fast and transformer encoders against spaCy 3.8's NER (efficiency config), same run.

Accuracy: exact-match entity P / R / F1 on valid.txt with the gold tokenization, one scorer for both systems.
Speed: words per second over the valid documents given as texts (words joined by spaces), one process,
``pipe`` with batch 256, median of ``--repeats`` runs; the torch thread count is set with ``--threads``
(spaCy runs on one thread; ``--threads 1`` is the like-for-like setting).

Models are trained when no trained folder is given:

* elkit fast: ``elkit train configs/ner_conll_fast.toml ...`` (needs the distilled vectors, see the config);
* elkit transformer: ``elkit train configs/ner_conll_minilm.toml ...``;
* spaCy: ``spacy init config --pipeline ner --optimize efficiency`` and ``spacy train`` on the converted files.

Run: ``.venv/bin/python benchmarks/ner_conll.py --fast-model models/ner_conll_fast/model-best
--transformer-model models/ner_conll_minilm/model-best --spacy-model /tmp/elkit-bench/spacy/model/model-best``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from elkit.corpora import read_corpus
from elkit.doc import Doc
from elkit.evaluation import evaluate_ner, score_entities
from elkit.packaging import load

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_elkit(config: str, data: Path, output: Path) -> Path:
    if not (output / "model-best").is_dir():
        log(f"training {config} into {output}")
        subprocess.run([sys.executable, "-m", "elkit", "train", config, "--train", str(data / "train.txt"),
                        "--dev", str(data / "valid.txt"), "--output", str(output)], check=True, cwd=ROOT)
    return output / "model-best"


def train_spacy(data: Path, work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    if (work / "model" / "model-best").is_dir():
        return work / "model" / "model-best"
    spacy = [sys.executable, "-m", "spacy"]
    for split in ("train", "valid"):
        subprocess.run([*spacy, "convert", str(data / f"{split}.txt"), str(work), "-c", "ner", "-n", "10"],
                       check=True)
    subprocess.run([*spacy, "init", "config", str(work / "config.cfg"), "--lang", "en", "--pipeline", "ner",
                    "--optimize", "efficiency", "--force"], check=True)
    started = time.perf_counter()
    subprocess.run([*spacy, "train", str(work / "config.cfg"), "--paths.train", str(work / "train.spacy"),
                    "--paths.dev", str(work / "valid.spacy"), "--output", str(work / "model")], check=True)
    log(f"spaCy trained in {(time.perf_counter() - started) / 60:.1f} min")
    return work / "model" / "model-best"


def time_pipe(run: object, texts: list[str], repeats: int) -> float:
    """Median words/s of ``run(texts)`` (it must consume the whole stream)."""
    words = sum(len(text.split()) for text in texts)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(texts)  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return words / statistics.median(timings)


def spacy_scores(model: Path, gold: list[Doc]) -> dict[str, float]:
    import spacy
    from spacy.tokens import Doc as SpacyDoc

    nlp = spacy.load(model)
    predicted = []
    for doc in gold:
        spacy_doc = nlp(SpacyDoc(nlp.vocab, words=doc.words))
        blank = Doc(doc.text, doc.token_starts, doc.token_ends, validate=False)
        blank.ents = [blank.span(ent.start, ent.end, ent.label_) for ent in spacy_doc.ents]
        predicted.append(blank)
    scores = score_entities(predicted, gold)
    result = {f"f_{label}": values["f"] for label, values in scores.per_label.items()}
    result.update(scores.overall)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/conll2003")
    parser.add_argument("--work", type=Path, default=Path("/tmp/elkit-bench"))
    parser.add_argument("--fast-model", type=Path)
    parser.add_argument("--transformer-model", type=Path)
    parser.add_argument("--spacy-model", type=Path)
    parser.add_argument("--skip-transformer", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    gold = list(read_corpus(arguments.data / "valid.txt"))
    texts = [" ".join(doc.words) for doc in gold]
    words = sum(len(doc) for doc in gold)
    log(f"valid: {len(gold)} documents, {words:,} words; torch threads {torch.get_num_threads()}")

    fast_path = arguments.fast_model or train_elkit("configs/ner_conll_fast.toml", arguments.data,
                                                    ROOT / "models/ner_conll_fast")
    spacy_path = arguments.spacy_model or train_spacy(arguments.data, arguments.work / "spacy")

    import spacy

    spacy_nlp = spacy.load(spacy_path)
    fast = load(fast_path)
    # Warm both up once, then alternate the timed runs so machine noise hits both alike.
    list(spacy_nlp.pipe(texts[:20]))
    list(fast.pipe(texts[:20]))
    spacy_wps = []
    fast_wps = []
    for _ in range(arguments.repeats):
        spacy_wps.append(time_pipe(lambda batch: list(spacy_nlp.pipe(batch, batch_size=256)), texts, 1))
        fast_wps.append(time_pipe(lambda batch: list(fast.pipe(batch, batch_size=256)), texts, 1))
    spacy_speed = statistics.median(spacy_wps)
    fast_speed = statistics.median(fast_wps)
    fast_scores = evaluate_ner(fast, gold)
    peer = spacy_scores(spacy_path, gold)
    log(f"spaCy: P {peer['p']:.4f} R {peer['r']:.4f} F {peer['f']:.4f}; "
        + ", ".join(f"{key[2:]} {value:.4f}" for key, value in sorted(peer.items()) if key.startswith("f_"))
        + f"; {spacy_speed:,.0f} words/s (runs {', '.join(f'{value:,.0f}' for value in spacy_wps)})")
    overall = fast_scores.overall
    log(f"elkit fast: P {overall['p']:.4f} R {overall['r']:.4f} F {overall['f']:.4f}; "
        + ", ".join(f"{label} {values['f']:.4f}" for label, values in fast_scores.per_label.items())
        + f"; {fast_speed:,.0f} words/s (runs {', '.join(f'{value:,.0f}' for value in fast_wps)})")

    transformer_f1 = float("nan")
    transformer_speed = float("nan")
    if not arguments.skip_transformer:
        transformer_path = arguments.transformer_model or train_elkit(
            "configs/ner_conll_minilm.toml", arguments.data, ROOT / "models/ner_conll_minilm")
        transformer = load(transformer_path)
        list(transformer.pipe(texts[:5]))
        transformer_speed = time_pipe(lambda batch: list(transformer.pipe(batch, batch_size=32)), texts, 1)
        transformer_scores = evaluate_ner(transformer, gold, batch_size=32)
        transformer_f1 = transformer_scores.overall["f"]
        log(f"elkit transformer: P {transformer_scores.overall['p']:.4f} R {transformer_scores.overall['r']:.4f} "
            f"F {transformer_f1:.4f}; "
            + ", ".join(f"{label} {values['f']:.4f}" for label, values in transformer_scores.per_label.items())
            + f"; {transformer_speed:,.0f} words/s")

    print(f"conll_valid_f1_spacy: {peer['f']:.4f}")
    print(f"wps_spacy: {spacy_speed:.0f}")
    print(f"wps_fast: {fast_speed:.0f}")
    print(f"conll_valid_f1_fast: {overall['f']:.4f}")
    print(f"wps_ratio_vs_spacy_fast: {fast_speed / spacy_speed:.2f}")
    print(f"conll_valid_f1_transformer: {transformer_f1:.4f}")
    print(f"wps_transformer: {transformer_speed:.0f}")


if __name__ == "__main__":
    main()
