"""GLiNER 0.2.29 as the peer system for the zero-shot CrossNER NER benchmark.

The peer is the ``gliner`` library's bi-encoder span model (``BiEncoderSpanGLiNER``) built from a
``GLiNERConfig`` with the local all-MiniLM-L6-v2 folder as both the text encoder (``model_name``) and the label
encoder (``labels_encoder``); nothing comes from the Hugging Face hub. The GLiNER layers (span representation,
label projection) start random. The model is trained on CPU for a fixed wall-time budget on a JSONL file in
GLiNER's own format, then evaluated zero-shot on the CrossNER domains.

Configuration (the GLiNER repository's ``configs/config_biencoder.yaml`` where it applies):

* span mode ``markerV0``, max span width 12 words, hidden size 384 (MiniLM's, so no projection), dropout 0.3,
  first-subtoken pooling, no post-fusion, ``max_types`` 100, ``max_len`` 512 words, ``num_rnn_layers`` 0 (the
  0.2.29 bi-encoder builds the LSTM but never calls it, so a non-zero value only adds dead weights);
* loss: focal with alpha 0.75, gamma 0, sum reduction, no negative masking; AdamW with learning rate 1e-5 for
  the two encoders (weight decay 0.1) and 3e-5 for the rest (weight decay 0.01), no decay on biases and
  LayerNorm weights, gradient-norm clip 10, batch 8;
* schedule: the budget is wall time, so the learning rate follows the elapsed fraction of it: linear warm-up
  over the first 5 %, then cosine decay to zero at the end of the budget.

Training data: one sentence per line, ``{"tokenized_text": [...], "ner": [[start, end, "label text"], ...],
"negatives": ["label text", ...]}`` (word indices, inclusive end). ``negatives`` becomes GLiNER's
``ner_negatives``; the bi-encoder collator pools the label texts of a batch (each sentence's gold labels and
its negatives) and every sentence is scored against the whole pool.

Evaluation: flat NER (``flat_ner=True``) at ``--threshold`` (0.5), the domain's label texts from
``crossner_label_names()`` encoded once per domain with ``encode_labels`` and passed as ``labels_embeds``, the
same pipeline as ``batch_predict_with_embeds`` (``prepare_base_input``, ``collate_batch``, ``run_batch``,
``decode_batch``) but fed CrossNER's own tokens, because ``batch_predict_with_embeds`` re-splits a string with
GLiNER's regex splitter ("U.S." becomes four words). Micro precision / recall / F1 per domain on exact
(start, end, type) matches; the average is the unweighted mean of the domains' F1. Speed: sentences per second
over all evaluated sentences with ``torch.set_num_threads(1)``, timing the prediction calls only (label encoding
is reported apart).

``--fewshot``: after zero-shot, a copy of the model is fine-tuned on each domain's own train.txt (every domain
label absent from a sentence is one of its negatives) for ``--fewshot-seconds`` and scored again on that domain's
dev and on the other domains' dev.

Run (small check): ``nice -n 10 .venv/bin/python benchmarks/gliner_peer.py --train FILE --seconds 60
--domains ai --report /tmp/gliner_peer.json``. The last lines on stdout are ``crossner_zeroshot_avg_f1_gliner``,
``crossner_fewshot_avg_f1_gliner`` (with ``--fewshot``) and ``gliner_sentences_per_second``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import random
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zeroshot_data import crossner_domain_tags, crossner_label_names, ensure_package

if TYPE_CHECKING:
    from gliner.model import BaseEncoderGLiNER

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("ai", "literature", "music", "politics", "science")
GLINER_VERSION = "0.2.29"
WARMUP_FRACTION = 0.05
LOG_EVERY_SECONDS = 30.0


def log(message: str) -> None:
    """Print a progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


# --- CrossNER labels ------------------------------------------------------------------------------------------


# --- data -----------------------------------------------------------------------------------------------------

Span = tuple[int, int, str]


@dataclass
class Sentence:
    """One tokenised sentence with gold spans (word indices, inclusive end, CrossNER tag)."""

    tokens: list[str]
    spans: list[Span]


def read_iob2(path: Path) -> list[Sentence]:
    """Read a ``token<TAB>tag`` IOB2 file (blank line between sentences).

    An ``I-`` tag that does not continue a span of the same type starts a new span.

    Args:
        path: The file.

    Returns:
        The sentences in file order.
    """
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if tokens:
            sentences.append(Sentence(list(tokens), iob2_spans(tags)))
        tokens.clear()
        tags.clear()

    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                flush()
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise ValueError(f"{path}:{line_number}: expected token<TAB>tag, got {line!r}")
            tokens.append(parts[0])
            tags.append(parts[1])
    flush()
    return sentences


def iob2_spans(tags: Sequence[str]) -> list[Span]:
    """Turn IOB2 tags into spans.

    Args:
        tags: One tag per word (``O``, ``B-type``, ``I-type``).

    Returns:
        (start, end inclusive, type) spans.
    """
    spans: list[Span] = []
    start = -1
    current = ""
    for index, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-")
        continues = prefix == "I" and kind == current
        if current and not continues:
            spans.append((start, index - 1, current))
            current = ""
        if prefix in ("B", "I") and not continues:
            start, current = index, kind
        elif prefix not in ("B", "I", "O"):
            raise ValueError(f"not an IOB2 tag: {tag!r}")
    return spans


def read_training_file(path: Path) -> list[dict[str, Any]]:
    """Read the training JSONL into GLiNER examples.

    Args:
        path: One JSON object a line with ``tokenized_text``, ``ner`` and optionally ``negatives``.

    Returns:
        GLiNER examples: ``tokenized_text``, ``ner`` as (start, end, label) tuples and, where the line had
        ``negatives``, ``ner_negatives``.
    """
    examples: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            tokens = record["tokenized_text"]
            spans = []
            for start, end, label in record.get("ner") or []:
                if not 0 <= start <= end < len(tokens):
                    raise ValueError(f"{path}:{line_number}: span {[start, end, label]} outside {len(tokens)} words")
                spans.append((int(start), int(end), str(label)))
            example: dict[str, Any] = {"tokenized_text": list(tokens), "ner": spans}
            if record.get("negatives") is not None:
                example["ner_negatives"] = [str(label) for label in record["negatives"]]
            examples.append(example)
    return examples


def crossner_examples(sentences: Iterable[Sentence], domain: str) -> list[dict[str, Any]]:
    """CrossNER sentences as GLiNER training examples (fully annotated: absent domain labels are negatives).

    Args:
        sentences: Gold sentences.
        domain: Their domain (for the label inventory).

    Returns:
        GLiNER examples with label texts.
    """
    names = crossner_label_names()
    inventory = [names[tag] for tag in crossner_domain_tags()[domain]]
    examples = []
    for sentence in sentences:
        spans = [(start, end, names[tag]) for start, end, tag in sentence.spans]
        present = {label for _, _, label in spans}
        negatives = [label for label in inventory if label not in present]
        examples.append({"tokenized_text": sentence.tokens, "ner": spans, "ner_negatives": negatives})
    return examples


# --- model ----------------------------------------------------------------------------------------------------


@dataclass
class TrainingSettings:
    """Optimiser and loss settings (GLiNER's bi-encoder config defaults)."""

    batch_size: int = 8
    encoder_learning_rate: float = 1e-5
    others_learning_rate: float = 3e-5
    encoder_weight_decay: float = 0.1
    others_weight_decay: float = 0.01
    max_grad_norm: float = 10.0
    focal_alpha: float = 0.75
    focal_gamma: float = 0.0
    threads: int = 1
    seed: int = 0


@dataclass
class TrainingStats:
    """What one time-budgeted training run did."""

    sentences_in_file: int = 0
    seconds_budget: float = 0.0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    threads: int = 1
    steps: int = 0
    sentences_seen: int = 0
    epochs: float = 0.0
    spans_wider_than_max_width: int = 0
    mean_loss_first_10_steps: float | None = None
    mean_loss_last_50_steps: float | None = None
    losses: list[float] = field(default_factory=list, repr=False)


def quiet_transformers() -> None:
    """Silence transformers' weight-loading progress bars and GLiNER's known harmless warnings."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message="Resizing embeddings is not supported for bi-encoder models")
    warnings.filterwarnings("ignore", message=r"Sentence of length \d+ has been truncated")


def default_backbone() -> Path:
    """The local all-MiniLM-L6-v2 folder elkit uses."""
    from elkit.encoders.transformers import default_model_path

    return Path(default_model_path())


def build_model(backbone: Path, architecture: str, max_width: int) -> BaseEncoderGLiNER:
    """A fresh GLiNER model from a config, its encoder(s) loaded from the local backbone folder.

    Args:
        backbone: A Hugging Face model folder (all-MiniLM-L6-v2).
        architecture: ``bi`` (``labels_encoder`` = the backbone too) or ``uni`` (labels in the text prompt).
        max_width: Longest span in words.

    Returns:
        The model (``BiEncoderSpanGLiNER`` or ``UniEncoderSpanGLiNER``), in eval mode.
    """
    from gliner import GLiNER, GLiNERConfig
    from transformers import AutoConfig

    hidden_size = AutoConfig.from_pretrained(backbone, local_files_only=True).hidden_size
    config = GLiNERConfig(
        model_name=str(backbone),
        labels_encoder=str(backbone) if architecture == "bi" else None,
        span_mode="markerV0",
        max_width=max_width,
        hidden_size=hidden_size,
        dropout=0.3,
        subtoken_pooling="first",
        fine_tune=True,
        max_types=100,
        max_len=512,
        max_neg_type_ratio=1,
        num_rnn_layers=0 if architecture == "bi" else 1,
    )
    return GLiNER.from_config(config, backbone_from_pretrained=True, local_files_only=True)


def load_model(folder: Path) -> BaseEncoderGLiNER:
    """A model saved with ``save_pretrained`` (its config carries the encoder configs; no backbone needed).

    Args:
        folder: The saved model.

    Returns:
        The model, in eval mode.
    """
    from gliner import GLiNER

    return GLiNER.from_pretrained(str(folder), local_files_only=True)


def is_bi_encoder(model: BaseEncoderGLiNER) -> bool:
    """Whether the model has a separate label encoder (label embeddings can be precomputed)."""
    return getattr(model.config, "labels_encoder", None) is not None


def make_optimizer(model: BaseEncoderGLiNER, settings: TrainingSettings) -> torch.optim.Optimizer:
    """AdamW with GLiNER's parameter groups: encoders vs the rest, no decay on biases and LayerNorm weights.

    Args:
        model: The model to train.
        settings: Learning rates and weight decays.

    Returns:
        The optimiser; each group's ``initial_lr`` is the peak learning rate of the schedule.
    """
    no_decay: set[str] = set()
    for module_name, module in model.named_modules():
        if isinstance(module, nn.LayerNorm):
            no_decay.update(f"{module_name}.{name}" if module_name else name for name, _ in module.named_parameters())
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_encoder = "token_rep_layer" in name
        decays = name not in no_decay and "bias" not in name
        groups.setdefault((is_encoder, decays), []).append(parameter)
    parameter_groups = []
    for (is_encoder, decays), parameters in groups.items():
        learning_rate = settings.encoder_learning_rate if is_encoder else settings.others_learning_rate
        weight_decay = settings.encoder_weight_decay if is_encoder else settings.others_weight_decay
        parameter_groups.append({
            "params": parameters,
            "lr": learning_rate,
            "initial_lr": learning_rate,
            "weight_decay": weight_decay if decays else 0.0,
        })
    return torch.optim.AdamW(parameter_groups)


def schedule_factor(elapsed_fraction: float) -> float:
    """Learning-rate multiplier at a point of the time budget: linear warm-up, then cosine decay to zero.

    Args:
        elapsed_fraction: Elapsed wall time over the budget.

    Returns:
        The multiplier in [0, 1].
    """
    fraction = min(max(elapsed_fraction, 0.0), 1.0)
    if fraction < WARMUP_FRACTION:
        return max(fraction / WARMUP_FRACTION, 0.01)
    progress = (fraction - WARMUP_FRACTION) / (1.0 - WARMUP_FRACTION)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def train_for_seconds(
    model: BaseEncoderGLiNER,
    examples: Sequence[dict[str, Any]],
    seconds: float,
    settings: TrainingSettings,
    name: str = "train",
) -> TrainingStats:
    """Train on shuffled passes over ``examples`` until ``seconds`` of wall time have passed.

    The clock starts before the first batch is collated; model construction is not counted. The step that is
    running when the budget ends is finished.

    Args:
        model: The model (trained in place, left in eval mode).
        examples: GLiNER examples.
        seconds: Wall-time budget.
        settings: Optimiser, loss, threads and seed.
        name: Prefix of the progress lines.

    Returns:
        Steps, sentences seen, wall and CPU seconds, losses.
    """
    if not examples:
        raise ValueError("no training examples")
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    collator = model.data_collator_class(model.config, data_processor=model.data_processor, prepare_labels=True)
    optimizer = make_optimizer(model, settings)
    max_width = model.config.max_width
    stats = TrainingStats(sentences_in_file=len(examples), seconds_budget=seconds, threads=settings.threads)
    stats.spans_wider_than_max_width = sum(
        1 for example in examples for start, end, _ in example["ner"] if end - start + 1 > max_width)
    order_rng = random.Random(settings.seed)
    order: list[int] = []
    model.train()
    started_wall = time.perf_counter()
    started_cpu = time.process_time()
    last_log = started_wall
    while True:
        elapsed = time.perf_counter() - started_wall
        if elapsed >= seconds:
            break
        if len(order) < settings.batch_size:
            epoch = list(range(len(examples)))
            order_rng.shuffle(epoch)
            order.extend(epoch)
        batch_indices, order = order[: settings.batch_size], order[settings.batch_size:]
        batch = collator([examples[index] for index in batch_indices])
        factor = schedule_factor(elapsed / seconds)
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        output = model(
            **batch,
            alpha=settings.focal_alpha,
            gamma=settings.focal_gamma,
            reduction="sum",
            negatives=1.0,
            masking="none",
        )
        loss = output.loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
        optimizer.step()
        stats.steps += 1
        stats.sentences_seen += len(batch_indices)
        stats.losses.append(float(loss.detach()))
        now = time.perf_counter()
        if now - last_log >= LOG_EVERY_SECONDS:
            last_log = now
            recent = stats.losses[-50:]
            log(f"{name}: {now - started_wall:.0f}/{seconds:.0f} s, step {stats.steps}, "
                f"{stats.sentences_seen} sentences, loss {sum(recent) / len(recent):.2f}, lr factor {factor:.3f}")
    stats.wall_seconds = time.perf_counter() - started_wall
    stats.cpu_seconds = time.process_time() - started_cpu
    stats.epochs = stats.sentences_seen / len(examples)
    if stats.losses:
        stats.mean_loss_first_10_steps = mean(stats.losses[:10])
        recent = stats.losses[-50:]
        stats.mean_loss_last_50_steps = sum(recent) / len(recent)
    model.eval()
    return stats


# --- evaluation -----------------------------------------------------------------------------------------------


@dataclass
class DomainScore:
    """Micro scores of one domain."""

    sentences: int = 0
    gold: int = 0
    predicted: int = 0
    true_positives: int = 0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    predict_seconds: float = 0.0
    label_encoding_seconds: float = 0.0


def encode_label_texts(model: BaseEncoderGLiNER, labels: list[str]) -> torch.Tensor | None:
    """Label embeddings from the bi-encoder's label encoder (``encode_labels``), or None for a uni-encoder.

    Args:
        model: The model.
        labels: Label texts.

    Returns:
        A (labels, hidden) tensor, or None.
    """
    if not is_bi_encoder(model):
        return None
    with contextlib.redirect_stderr(io.StringIO()):  # encode_labels always draws a tqdm bar
        return model.encode_labels(labels, batch_size=len(labels))


def predict_spans(
    model: BaseEncoderGLiNER,
    sentences: Sequence[list[str]],
    labels: list[str],
    label_embeddings: torch.Tensor | None,
    threshold: float,
    batch_size: int,
) -> list[set[tuple[int, int, str]]]:
    """Flat NER over pre-tokenised sentences (what ``batch_predict_with_embeds`` runs, minus its re-splitting).

    Args:
        model: The model, in eval mode.
        sentences: Words of each sentence.
        labels: Label texts, in the order of ``label_embeddings``' rows.
        label_embeddings: From ``encode_labels`` (bi-encoder), or None (uni-encoder: labels go in the prompt).
        threshold: Score threshold.
        batch_size: Sentences per forward pass.

    Returns:
        For each sentence, its predicted (start, end inclusive, label text) spans.
    """
    collator = model.create_collator()
    external = {"labels_embeds": label_embeddings} if label_embeddings is not None else {}
    results: list[set[tuple[int, int, str]]] = []
    for first in range(0, len(sentences), batch_size):
        chunk = list(sentences[first: first + batch_size])
        batch = model.collate_batch(model.prepare_base_input(chunk), labels, collator)
        output = model.run_batch(batch, threshold=threshold, **external)
        decoded = model.decode_batch(output, batch, threshold=threshold, flat_ner=True, multi_label=False)
        results.extend({(span.start, span.end, span.entity_type) for span in spans} for spans in decoded)
    return results


def evaluate_domain(
    model: BaseEncoderGLiNER,
    sentences: Sequence[Sentence],
    domain: str,
    threshold: float,
    batch_size: int,
) -> DomainScore:
    """Score one domain with one thread: exact (start, end, type) micro P/R/F1 and prediction time.

    Args:
        model: The model.
        sentences: Gold sentences of the domain.
        domain: The domain (its tag inventory gives the labels).
        threshold: Score threshold.
        batch_size: Sentences per forward pass.

    Returns:
        The scores.
    """
    torch.set_num_threads(1)
    names = crossner_label_names()
    tags = crossner_domain_tags()[domain]
    labels = [names[tag] for tag in tags]
    tag_of = {names[tag]: tag for tag in tags}
    started = time.perf_counter()
    label_embeddings = encode_label_texts(model, labels)
    score = DomainScore(sentences=len(sentences), label_encoding_seconds=time.perf_counter() - started)
    started = time.perf_counter()
    predictions = predict_spans(model, [sentence.tokens for sentence in sentences], labels, label_embeddings,
                                threshold, batch_size)
    score.predict_seconds = time.perf_counter() - started
    for sentence, predicted in zip(sentences, predictions, strict=True):
        gold = set(sentence.spans)
        guessed = {(start, end, tag_of[label]) for start, end, label in predicted}
        score.gold += len(gold)
        score.predicted += len(guessed)
        score.true_positives += len(gold & guessed)
    score.precision = score.true_positives / score.predicted if score.predicted else 0.0
    score.recall = score.true_positives / score.gold if score.gold else 0.0
    total = score.precision + score.recall
    score.f1 = 2 * score.precision * score.recall / total if total else 0.0
    return score


def evaluate_domains(
    model: BaseEncoderGLiNER,
    data: dict[str, list[Sentence]],
    threshold: float,
    batch_size: int,
    name: str,
) -> dict[str, DomainScore]:
    """Score every domain in ``data`` and log each.

    Args:
        model: The model.
        data: Domain to gold sentences.
        threshold: Score threshold.
        batch_size: Sentences per forward pass.
        name: Prefix of the progress lines.

    Returns:
        Domain to scores.
    """
    scores = {}
    for domain, sentences in data.items():
        score = evaluate_domain(model, sentences, domain, threshold, batch_size)
        scores[domain] = score
        log(f"{name} {domain}: P {score.precision:.4f} R {score.recall:.4f} F1 {score.f1:.4f} "
            f"({score.true_positives}/{score.predicted} predicted, {score.gold} gold; {score.sentences} sentences "
            f"in {score.predict_seconds:.1f} s)")
    return scores


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean (0 for nothing)."""
    values = list(values)
    return sum(values) / len(values) if values else 0.0


# --- command line ---------------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--train", type=Path, help="training JSONL (GLiNER format, optional 'negatives')")
    source.add_argument("--model", type=Path, help="a model saved by --output; skips training")
    parser.add_argument("--seconds", type=float, help="wall-time training budget (with --train)")
    parser.add_argument("--output", type=Path, help="save the trained model here (save_pretrained)")
    parser.add_argument("--crossner", type=Path, default=ROOT.parent / "shared/data/crossner",
                        help="CrossNER folder with <domain>/{train,dev}.txt")
    parser.add_argument("--domains", default=",".join(DOMAINS), help="comma-separated domains")
    parser.add_argument("--split", default="dev", help="evaluation split: reads CROSSNER/<domain>/<split>.txt")
    parser.add_argument("--test-dir", type=Path, help="evaluate on TEST_DIR/<domain>/test.txt instead")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--fewshot", action="store_true", help="also fine-tune on each domain's train.txt")
    parser.add_argument("--fewshot-seconds", type=float, default=300.0, help="wall-time budget per domain")
    parser.add_argument("--architecture", choices=("bi", "uni"), default="bi",
                        help="bi-encoder (labels precomputed, default) or uni-encoder (labels in the prompt)")
    parser.add_argument("--backbone", type=Path, help="Hugging Face model folder (default: elkit's MiniLM)")
    parser.add_argument("--max-width", type=int, default=12, help="longest span in words")
    parser.add_argument("--batch-size", type=int, default=8, help="training batch size")
    parser.add_argument("--eval-batch-size", type=int, default=8, help="sentences per prediction call")
    parser.add_argument("--learning-rate", type=float, default=1e-5, help="encoders' peak learning rate")
    parser.add_argument("--others-learning-rate", type=float, default=3e-5, help="GLiNER layers' peak rate")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while training (evaluation: 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", type=Path, help="write all numbers to this JSON file")
    arguments = parser.parse_args(argv)
    if arguments.train is not None and arguments.seconds is None:
        parser.error("--train needs --seconds")
    arguments.domain_list = [domain.strip() for domain in arguments.domains.split(",") if domain.strip()]
    unknown = [domain for domain in arguments.domain_list if domain not in crossner_domain_tags()]
    if unknown or not arguments.domain_list:
        parser.error(f"unknown domains {unknown}; choose from {', '.join(DOMAINS)}")
    return arguments


def load_evaluation_data(arguments: argparse.Namespace) -> dict[str, list[Sentence]]:
    """Gold sentences of every evaluated domain; unknown tags are an error.

    Args:
        arguments: The parsed command line.

    Returns:
        Domain to sentences.
    """
    data = {}
    for domain in arguments.domain_list:
        if arguments.test_dir is not None:
            path = arguments.test_dir / domain / "test.txt"
        else:
            path = arguments.crossner / domain / f"{arguments.split}.txt"
        sentences = read_iob2(path)
        unknown = {tag for sentence in sentences for _, _, tag in sentence.spans} - set(crossner_domain_tags()[domain])
        if unknown:
            raise SystemExit(f"{path}: tags outside the {domain} inventory: {sorted(unknown)}")
        data[domain] = sentences
    return data


def main(argv: Sequence[str] | None = None) -> None:
    """Train (or load) GLiNER, score it zero-shot (and few-shot) on CrossNER, print and save the numbers."""
    arguments = parse_arguments(argv)
    quiet_transformers()
    ensure_package("gliner", [f"gliner=={GLINER_VERSION}", "sentencepiece==0.2.3"], no_deps=True)
    import gliner
    import transformers

    if gliner.__version__ != GLINER_VERSION:
        log(f"warning: gliner {gliner.__version__} installed, this script was written for {GLINER_VERSION}")
    settings = TrainingSettings(
        batch_size=arguments.batch_size,
        encoder_learning_rate=arguments.learning_rate,
        others_learning_rate=arguments.others_learning_rate,
        threads=arguments.threads,
        seed=arguments.seed,
    )
    evaluation = load_evaluation_data(arguments)
    log("evaluation: " + ", ".join(f"{domain} {len(sentences)}" for domain, sentences in evaluation.items()))

    report: dict[str, Any] = {
        "system": "gliner",
        "versions": {
            "gliner": gliner.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "evaluation": {
            "split": "test" if arguments.test_dir is not None else arguments.split,
            "folder": str(arguments.test_dir or arguments.crossner),
            "threshold": arguments.threshold,
            "flat_ner": True,
            "eval_batch_size": arguments.eval_batch_size,
            "threads": 1,
            "label_names": {domain: {tag: crossner_label_names()[tag] for tag in crossner_domain_tags()[domain]}
                            for domain in arguments.domain_list},
        },
    }
    torch.manual_seed(arguments.seed)
    if arguments.model is not None:
        model = load_model(arguments.model)
        log(f"loaded {type(model).__name__} from {arguments.model}")
        report["model"] = str(arguments.model)
    else:
        backbone = arguments.backbone or default_backbone()
        started = time.perf_counter()
        model = build_model(backbone, arguments.architecture, arguments.max_width)
        log(f"built {type(model).__name__} on {backbone} in {time.perf_counter() - started:.1f} s "
            f"({sum(parameter.numel() for parameter in model.parameters()) / 1e6:.1f} M parameters)")
        examples = read_training_file(arguments.train)
        log(f"training on {len(examples)} sentences from {arguments.train} for {arguments.seconds:.0f} s "
            f"with {settings.threads} thread(s)")
        stats = train_for_seconds(model, examples, arguments.seconds, settings)
        log(f"trained: {stats.steps} steps, {stats.sentences_seen} sentences ({stats.epochs:.2f} epochs), "
            f"{stats.wall_seconds:.1f} s wall, {stats.cpu_seconds:.1f} s CPU")
        training = asdict(stats)
        training.pop("losses")
        training["file"] = str(arguments.train)
        report["training"] = training
        if arguments.output is not None:
            model.save_pretrained(arguments.output)
            log(f"saved to {arguments.output}")
    report["model_config"] = {
        "class": type(model).__name__,
        "bi_encoder": is_bi_encoder(model),
        "backbone": model.config.model_name,
        "labels_encoder": getattr(model.config, "labels_encoder", None),
        "span_mode": model.config.span_mode,
        "max_width": model.config.max_width,
        "hidden_size": model.config.hidden_size,
        "dropout": model.config.dropout,
        "num_rnn_layers": model.config.num_rnn_layers,
        "max_types": model.config.max_types,
        "max_len": model.config.max_len,
        "training_settings": asdict(settings),
        "schedule": f"time-based: linear warm-up over {WARMUP_FRACTION:.0%} of the budget, then cosine to zero",
    }
    if not is_bi_encoder(model):
        log("uni-encoder: labels are encoded with each batch (no precomputed label embeddings)")

    zeroshot = evaluate_domains(model, evaluation, arguments.threshold, arguments.eval_batch_size, "zero-shot")
    zeroshot_average = mean(score.f1 for score in zeroshot.values())
    total_sentences = sum(score.sentences for score in zeroshot.values())
    total_seconds = sum(score.predict_seconds for score in zeroshot.values())
    speed = total_sentences / total_seconds if total_seconds else 0.0
    report["zeroshot"] = {"domains": {domain: asdict(score) for domain, score in zeroshot.items()},
                          "avg_f1": zeroshot_average}
    report["speed"] = {
        "sentences": total_sentences,
        "predict_seconds": total_seconds,
        "sentences_per_second": speed,
        "threads": 1,
        "batch_size": arguments.eval_batch_size,
        "labels_precomputed": is_bi_encoder(model),
    }

    fewshot_average = None
    if arguments.fewshot:
        fewshot: dict[str, Any] = {}
        for domain in arguments.domain_list:
            train_sentences = read_iob2(arguments.crossner / domain / "train.txt")
            tuned = copy.deepcopy(model)
            stats = train_for_seconds(tuned, crossner_examples(train_sentences, domain), arguments.fewshot_seconds,
                                      settings, name=f"few-shot {domain}")
            log(f"few-shot {domain}: {stats.steps} steps, {stats.sentences_seen} sentences "
                f"({stats.epochs:.1f} epochs) in {stats.wall_seconds:.0f} s")
            scores = evaluate_domains(tuned, evaluation, arguments.threshold, arguments.eval_batch_size,
                                      f"few-shot[{domain}]")
            training = asdict(stats)
            training.pop("losses")
            others = [score.f1 for other, score in scores.items() if other != domain]
            fewshot[domain] = {
                "training": training,
                "in_domain_f1": scores[domain].f1,
                "other_domains_avg_f1": mean(others) if others else None,
                "other_domains_avg_f1_zeroshot": mean(
                    zeroshot[other].f1 for other in scores if other != domain) if others else None,
                "scores": {other: asdict(score) for other, score in scores.items()},
            }
            del tuned
        fewshot_average = mean(entry["in_domain_f1"] for entry in fewshot.values())
        report["fewshot"] = {"seconds_per_domain": arguments.fewshot_seconds, "domains": fewshot,
                             "avg_f1": fewshot_average}

    if arguments.report is not None:
        arguments.report.parent.mkdir(parents=True, exist_ok=True)
        arguments.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        log(f"report: {arguments.report}")
    print(f"crossner_zeroshot_avg_f1_gliner: {zeroshot_average:.4f}")
    if fewshot_average is not None:
        print(f"crossner_fewshot_avg_f1_gliner: {fewshot_average:.4f}")
    print(f"gliner_sentences_per_second: {speed:.1f}")


if __name__ == "__main__":
    main()
