"""The training loop behind ``elkit train``.

Batches by word count, a warm-up and decay schedule, periodic evaluation on dev, the best and the last model
saved, early stopping, and everything seeded.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from elkit.config import PipelineConfig, TrainingConfig, load_config
from elkit.doc import Doc, Example, Span
from elkit.errors import ConfigError, DataError
from elkit.evaluation import evaluate_ner
from elkit.pipeline import Pipeline
from elkit.progress import progress_bar

__all__ = ["TrainResult", "split_sentences", "train"]


@dataclass
class TrainResult:
    """What a training run did.

    Attributes:
        best_score: The best dev ``ents_f``.
        best_step: The step it was reached at.
        steps: Steps taken.
        seconds: Wall time.
        history: One record per evaluation (step, epoch, losses, scores).
        output: Where ``model-best`` and ``model-last`` were written.
    """

    best_score: float = -1.0
    best_step: int = 0
    steps: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    output: Path | None = None


def split_sentences(doc: Doc) -> list[Doc]:
    """One document per sentence, each with the entities inside it (an entity across sentences is an error).

    Raises:
        DataError: When a gold entity crosses a sentence boundary.
    """
    if not doc.has_sentences or len(doc.sentence_starts or []) <= 1:
        return [doc] if len(doc) else []
    pieces: list[Doc] = []
    for sentence in doc.sents:
        offset = doc.token_starts[sentence.start]
        end_char = doc.token_ends[sentence.end - 1]
        piece = Doc(
            doc.text[offset:end_char],
            [start - offset for start in doc.token_starts[sentence.start: sentence.end]],
            [end - offset for end in doc.token_ends[sentence.start: sentence.end]],
            validate=False,
        )
        inside = []
        for span in doc.ents:
            if sentence.start <= span.start and span.end <= sentence.end:
                inside.append(Span(piece, span.start - sentence.start, span.end - sentence.start, span.label,
                                   kb_id=span.kb_id))
            elif span.start < sentence.end and span.end > sentence.start:
                raise DataError(
                    f"{doc.meta.get('id', 'document')}: entity {span.text!r} ({span.label}) crosses a sentence "
                    f"boundary at word {sentence.end}"
                )
        piece.ents = inside
        piece.meta = dict(doc.meta)
        pieces.append(piece)
    return pieces


Unit = Doc | Example
"""What one training step learns from: a document (or sentence) with gold entities, or an example with answers."""


def _units(item: Doc | Example, unit: str) -> list[Unit]:
    """Split complete annotation into sentences (when asked); examples with binary answers stay whole."""
    if isinstance(item, Example):
        if item.answers or not item.complete:
            return [item] if len(item.reference) else []
        item = item.reference
    return list(split_sentences(item)) if unit == "sentence" else [item] if len(item) else []


def _length(unit: Unit) -> int:
    return len(unit.reference) if isinstance(unit, Example) else len(unit)


def _labels(unit: Unit) -> set[str]:
    if isinstance(unit, Example):
        return {span.label for span in unit.reference.ents} | {answer.label for answer in unit.answers}
    return {span.label for span in unit.ents}


def _batches(units: Sequence[Unit], batch_words: int, rng: random.Random) -> list[list[Unit]]:
    order = list(range(len(units)))
    rng.shuffle(order)
    batches: list[list[Unit]] = []
    current: list[Unit] = []
    words = 0
    for index in order:
        unit = units[index]
        if current and words + _length(unit) > batch_words:
            batches.append(current)
            current, words = [], 0
        current.append(unit)
        words += _length(unit)
    if current:
        batches.append(current)
    return batches


def _schedule(settings: TrainingConfig, total_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if settings.warmup_steps and step < settings.warmup_steps:
            return (step + 1) / settings.warmup_steps
        if settings.decay and total_steps > settings.warmup_steps:
            remaining = (total_steps - step) / (total_steps - settings.warmup_steps)
            return max(0.05, remaining)
        return 1.0

    return factor


def train(
    config: PipelineConfig | str | Path,
    train_docs: Sequence[Doc | Example],
    dev_docs: Sequence[Doc],
    output: str | Path | None,
    *,
    console: Console | None = None,
    overrides: dict[str, Any] | None = None,
    base_model: str | Path | None = None,
    rehearse_docs: Sequence[Doc] | None = None,
) -> tuple[Pipeline, TrainResult]:
    """Train the pipeline's trainable components and keep the best model on dev.

    Args:
        config: The pipeline config (object or TOML path) with an optional ``[training]`` section.
        train_docs: Training documents with gold entities, or examples (partial annotation, binary answers).
        dev_docs: Development documents with gold entities.
        output: Folder for ``model-best`` and ``model-last`` (None: keep the model in memory only).
        console: Where progress goes (stderr by default).
        overrides: Dotted config keys to set (only when ``config`` is a path).
        base_model: Start from this trained pipeline instead of fresh weights (its components keep their labels).
            The base is scored on dev first and stays ``model-best`` unless a step beats it.
        rehearse_docs: With `base_model`: raw documents (their annotation is ignored); after every step, each
            component takes one step towards the base model's own predictions on ``[training] rehearse_batch`` of
            them (pseudo-rehearsal), so that what the base knew is not forgotten.

    Returns:
        The best pipeline (loaded back from ``model-best`` when saved) and the run's record.

    Raises:
        ConfigError: A config without trainable components.
        DataError: Empty training data.
    """
    if not isinstance(config, PipelineConfig):
        config = load_config(config, overrides)
    settings = config.training or TrainingConfig()
    console = console or Console(stderr=True)
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    if not train_docs:
        raise DataError("no training documents")
    units: list[Unit] = []
    for item in train_docs:
        units.extend(_units(item, settings.unit))
    if base_model is not None:
        from elkit.packaging import load

        nlp = load(base_model, device=config.nlp.device)  # trained where the config says, as a fresh one is
    else:
        nlp = Pipeline.from_config(config)
    trainable = [name for name, component in nlp.components if hasattr(component, "update")]
    if not trainable:
        raise ConfigError("the config has no trainable component (such as elkit.SpanNER.v1) to train")
    if rehearse_docs is not None and base_model is None:
        raise ConfigError("rehearsal keeps what a base model knows: give --base-model with --rehearse")
    if base_model is None:
        nlp.initialize(lambda: units)
    else:
        for name in trainable:
            component = nlp.get_pipe(name)
            if rehearse_docs is not None and hasattr(component, "begin_rehearsal"):
                component.begin_rehearsal()  # the teacher: the base, before it learns new labels
            for label in sorted(set().union(*(_labels(unit) for unit in units))):
                component.add_label(label)  # type: ignore[attr-defined]
    pool = [piece for doc in rehearse_docs or () for piece in split_sentences(doc)]
    optimizers = {name: nlp.get_pipe(name).make_optimizer() for name in trainable}  # type: ignore[attr-defined]
    rng = random.Random(settings.seed)
    steps_per_epoch = len(_batches(units, settings.batch_words, random.Random(0)))
    total_steps = settings.max_steps or steps_per_epoch * max(settings.max_epochs, 1)
    schedulers = [torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(settings, total_steps))
                  for optimizer in optimizers.values()]
    output_path = Path(output) if output is not None else None
    result = TrainResult(output=output_path)
    started = time.perf_counter()
    losses: dict[str, float] = {}
    step = 0
    since_best = 0
    stop = False
    console.print(
        f"training {', '.join(trainable)}: {len(units):,} {settings.unit}s, {sum(map(_length, units)):,} words, "
        f"~{steps_per_epoch:,} steps per epoch, {total_steps:,} steps at most; dev: {len(dev_docs):,} documents"
    )
    if base_model is not None:
        record = _evaluate(nlp, dev_docs, settings, 0, 0, {})
        record["base"] = True
        result.history.append(record)
        result.best_score, result.best_step = record["ents_f"], 0
        if output_path is not None:
            _save(nlp, output_path / "model-best")
        console.print(f"base model: dev F1 {record['ents_f']:.4f}; it stays model-best unless a step beats it")
    with progress_bar(console, status=True, transient=False) as progress:
        task = progress.add_task("training", total=total_steps, status="")
        epoch = 0
        while not stop and (settings.max_epochs == 0 or epoch < settings.max_epochs):
            for batch in _batches(units, settings.batch_words, rng):
                for name in trainable:
                    nlp.get_pipe(name).update(  # type: ignore[attr-defined]
                        batch, drop=settings.dropout, sgd=optimizers[name], losses=losses)
                if pool:
                    sample = rng.sample(pool, min(settings.rehearse_batch, len(pool)))
                    for name in trainable:
                        component = nlp.get_pipe(name)
                        if hasattr(component, "rehearse"):
                            component.rehearse(sample, drop=settings.dropout, sgd=optimizers[name], losses=losses)
                for scheduler in schedulers:
                    scheduler.step()
                step += 1
                progress.advance(task)
                if step % settings.eval_frequency == 0 or step == total_steps:
                    record = _evaluate(nlp, dev_docs, settings, step, epoch, losses)
                    result.history.append(record)
                    losses = {}
                    if record["ents_f"] > result.best_score:
                        result.best_score, result.best_step = record["ents_f"], step
                        since_best = 0
                        if output_path is not None:
                            _save(nlp, output_path / "model-best")
                    else:
                        since_best += settings.eval_frequency
                    status = (f"epoch {epoch} loss {record['loss']:.2f} dev F1 {record['ents_f']:.4f} "
                              f"(best {result.best_score:.4f})")
                    progress.update(task, status=status)
                    progress.console.print(f"step {step:,}: {status}, {record['words_per_second']:,.0f} words/s")
                if step >= total_steps or (settings.patience and since_best >= settings.patience):
                    stop = True
                    break
            epoch += 1
    result.steps = step
    result.seconds = time.perf_counter() - started
    if not result.history or result.history[-1]["step"] != step:
        record = _evaluate(nlp, dev_docs, settings, step, epoch, losses)
        result.history.append(record)
        if record["ents_f"] > result.best_score:
            result.best_score, result.best_step = record["ents_f"], step
            if output_path is not None:
                _save(nlp, output_path / "model-best")
    best = nlp
    if output_path is not None:
        _save(nlp, output_path / "model-last")
        (output_path / "training.json").write_text(json.dumps({
            "training": settings.model_dump(), "best_score": result.best_score, "best_step": result.best_step,
            "steps": result.steps, "seconds": result.seconds, "history": result.history,
        }, indent=2), encoding="utf-8")
        best = Pipeline.from_disk(output_path / "model-best", device=nlp.device)
    console.print(
        f"done: {result.steps:,} steps in {result.seconds / 60:.1f} min; best dev F1 {result.best_score:.4f} at "
        f"step {result.best_step:,}" + (f"; saved to {output_path}/model-best and model-last" if output_path else "")
    )
    return best, result


def _evaluate(nlp: Pipeline, dev_docs: Sequence[Doc], settings: TrainingConfig, step: int, epoch: int,
              losses: dict[str, float]) -> dict[str, Any]:
    scores = evaluate_ner(nlp, dev_docs, batch_size=settings.eval_batch_size)
    record = {"step": step, "epoch": epoch, "loss": sum(losses.values()), "losses": dict(losses)}
    record.update({key: value for key, value in scores.to_dict().items() if key != "support"})
    return record


def _save(nlp: Pipeline, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    nlp.to_disk(partial)
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
