"""Training the zero-shot recognizer on many typed corpora at once, so that it learns what a label text means.

Each corpus brings sentences, the labels its annotation is complete for, and labels known to be absent from its
text (negatives). A step samples sentences from all corpora; every label of the step is shown under a name drawn
from its paraphrases, with or without its description, so the model cannot memorise one string; a sentence gets
a loss only for its own corpus's labels and negatives. A share of each corpus is held out: the best step is
chosen and the temperature fitted on it, never on a dev set that is reported.

::

    result = train_zero_shot(ner, corpora, catalogue, ZeroShotTrainingSettings(seconds=1800))
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pydantic
import torch
from rich.console import Console

from elkit.doc import Doc, Example, Span
from elkit.errors import DataError
from elkit.evaluation.ner import NERScores
from elkit.ner.calibration import Calibration
from elkit.ner.zeroshot import ZeroShotNER
from elkit.progress import progress_bar
from elkit.settings import Settings

__all__ = ["LabelDescription", "TypedCorpus", "ZeroShotTrainResult", "ZeroShotTrainingSettings", "train_zero_shot"]


@dataclass(frozen=True)
class LabelDescription:
    """A label as the model sees it in training.

    Attributes:
        key: The label on the corpora's spans ("disease").
        names: Names it may be shown under; the first is the plain one used for held-out scoring.
        description: A short description, shown after the name in some steps.
    """

    key: str
    names: tuple[str, ...]
    description: str = ""


@dataclass
class TypedCorpus:
    """Sentences of one corpus and what their annotation says.

    Attributes:
        name: The corpus's name, for reports.
        docs: Sentences with gold ``ents`` labelled by label keys.
        labels: The label keys the annotation is complete for.
        negatives: Label keys known not to occur in its text.
    """

    name: str
    docs: list[Doc]
    labels: frozenset[str]
    negatives: frozenset[str] = frozenset()


class ZeroShotTrainingSettings(Settings):
    """How long and how :func:`train_zero_shot` trains.

    Attributes:
        seconds: Wall-clock budget (0: no limit; then ``max_steps`` must be set).
        max_steps: Most steps (0: no limit).
        batch_sentences: Sentences per step.
        description_rate: Share of steps in which a label is shown with its description.
        held_out_share: Share of each corpus's sentences held out for choosing the best step and the temperature.
        held_out_limit: Most held-out sentences per corpus (keeps evaluation cheap).
        eval_every: Steps between held-out evaluations.
        dropout: Dropout rate while training.
        seed: Seed of the sampling and the split.
    """

    seconds: float = pydantic.Field(600.0, ge=0.0)
    max_steps: int = pydantic.Field(0, ge=0)
    batch_sentences: int = pydantic.Field(32, ge=1)
    description_rate: float = pydantic.Field(0.5, ge=0.0, le=1.0)
    held_out_share: float = pydantic.Field(0.05, ge=0.0, lt=1.0)
    held_out_limit: int = pydantic.Field(300, ge=1)
    eval_every: int = pydantic.Field(500, ge=1)
    dropout: float = pydantic.Field(0.1, ge=0.0, lt=1.0)
    seed: int = 0

    @pydantic.model_validator(mode="after")
    def _check_budget(self) -> ZeroShotTrainingSettings:
        if not self.seconds and not self.max_steps:
            raise ValueError("give seconds or max_steps: training needs a limit")
        return self


@dataclass
class ZeroShotTrainResult:
    """What :func:`train_zero_shot` did.

    Attributes:
        steps: Steps taken.
        sentences: Sentences seen (with repeats).
        seconds: Wall-clock time spent.
        best_step: The step whose weights were kept.
        best_f1: Its micro F1 on the held-out sentences.
        history: ``{"step", "seconds", "loss", "held_out_f1"}`` per evaluation.
        calibration: The temperature fitted on the held-out sentences.
        held_out: Held-out sentences per corpus.
    """

    steps: int = 0
    sentences: int = 0
    seconds: float = 0.0
    best_step: int = 0
    best_f1: float = -1.0
    history: list[dict[str, float]] = field(default_factory=list)
    calibration: Calibration | None = None
    held_out: dict[str, int] = field(default_factory=dict)


def _split(corpora: Sequence[TypedCorpus], settings: ZeroShotTrainingSettings,
           rng: random.Random) -> tuple[list[tuple[int, Doc]], list[TypedCorpus]]:
    training: list[tuple[int, Doc]] = []
    held_out: list[TypedCorpus] = []
    for index, corpus in enumerate(corpora):
        order = list(range(len(corpus.docs)))
        rng.shuffle(order)
        count = min(settings.held_out_limit, int(len(order) * settings.held_out_share))
        kept = set(order[:count])
        held_out.append(TypedCorpus(corpus.name, [corpus.docs[position] for position in sorted(kept)],
                                    corpus.labels, corpus.negatives))
        training.extend((index, doc) for position, doc in enumerate(corpus.docs) if position not in kept)
    return training, held_out


def _renamed(doc: Doc, names: dict[str, str]) -> Doc:
    copy = Doc(doc.text, doc.token_starts, doc.token_ends, sentence_starts=doc.sentence_starts, validate=False)
    copy.ents = [Span(copy, span.start, span.end, names[span.label]) for span in doc.ents]
    return copy


def held_out_scores(ner: ZeroShotNER, corpora: Sequence[TypedCorpus],
                    catalogue: dict[str, LabelDescription]) -> NERScores:
    """Micro-averaged scores over the corpora, each decoded with its own labels under their plain names."""
    scores = NERScores()
    for corpus in corpora:
        if not corpus.docs:
            continue
        names = {key: catalogue[key].names[0] for key in sorted(corpus.labels)}
        labels = ner.encode_labels(list(names.values()))
        gold = [_renamed(doc, names) for doc in corpus.docs]
        blanks = [Doc(doc.text, doc.token_starts, doc.token_ends, validate=False) for doc in gold]
        predictions = ner.predict(blanks, labels)
        ner.set_annotations(blanks, predictions)
        for predicted, reference in zip(blanks, gold, strict=True):
            scores.add(predicted, reference)
    return scores


def train_zero_shot(ner: ZeroShotNER, corpora: Sequence[TypedCorpus], catalogue: dict[str, LabelDescription],
                    settings: ZeroShotTrainingSettings | None = None,
                    console: Console | None = None) -> ZeroShotTrainResult:
    """Train ``ner`` on the corpora, keep the best held-out step, and fit its temperature on the held-out part.

    Raises:
        DataError: A corpus with a label missing from the catalogue, or no training sentences.
    """
    settings = settings or ZeroShotTrainingSettings()
    console = console or Console(stderr=True)
    for corpus in corpora:
        unknown = sorted((corpus.labels | corpus.negatives) - set(catalogue))
        if unknown:
            raise DataError(f"corpus {corpus.name}: labels {unknown} are not in the label catalogue")
        stray = sorted({span.label for doc in corpus.docs for span in doc.ents} - corpus.labels)
        if stray:
            raise DataError(f"corpus {corpus.name}: spans labelled {stray}, which are not among its labels")
    rng = random.Random(settings.seed)
    training, held_out = _split(corpora, settings, rng)
    if not training:
        raise DataError("no training sentences")
    if not ner.is_initialized:
        ner.initialize()
    optimizer = ner.make_optimizer()
    encoder = ner.model.encoder  # type: ignore[union-attr]
    encoder.freeze_transformer(cache=True)  # each sentence goes through the frozen transformer once
    try:
        return _train(ner, corpora, catalogue, settings, console, rng, training, held_out, optimizer)
    finally:
        encoder.freeze_transformer(cache=False)


def _train(ner: ZeroShotNER, corpora: Sequence[TypedCorpus], catalogue: dict[str, LabelDescription],
           settings: ZeroShotTrainingSettings, console: Console, rng: random.Random,
           training: list[tuple[int, Doc]], held_out: list[TypedCorpus],
           optimizer: torch.optim.Optimizer) -> ZeroShotTrainResult:
    result = ZeroShotTrainResult(held_out={corpus.name: len(corpus.docs) for corpus in held_out})
    best_state: bytes | None = None
    started = time.perf_counter()
    losses: dict[str, float] = {}
    total = settings.max_steps or None
    with progress_bar(console, known_total=total is not None, unit="steps", status=True) as progress:
        task = progress.add_task("zero-shot training", total=total, status="")
        while True:
            elapsed = time.perf_counter() - started
            if (settings.max_steps and result.steps >= settings.max_steps) or (
                    settings.seconds and elapsed >= settings.seconds):
                break
            batch = rng.sample(training, min(settings.batch_sentences, len(training)))
            keys = sorted(set().union(*(corpora[index].labels | corpora[index].negatives for index, _ in batch)))
            shown = {key: rng.choice(catalogue[key].names) for key in keys}
            labels = {shown[key]: (catalogue[key].description if rng.random() < settings.description_rate else "")
                      for key in keys}
            if len(labels) < len(keys):  # two keys drew the same paraphrase: show the plain names
                shown = {key: catalogue[key].names[0] for key in keys}
                labels = {shown[key]: "" for key in keys}
            examples = [Example(_renamed(doc, shown)) for _, doc in batch]
            label_sets = [{shown[key] for key in corpora[index].labels | corpora[index].negatives}
                          for index, _ in batch]
            ner.update(examples, labels=labels, label_sets=label_sets, drop=settings.dropout, sgd=optimizer,
                       losses=losses)
            result.steps += 1
            result.sentences += len(batch)
            progress.advance(task)
            if result.steps % settings.eval_every == 0:
                _evaluate(ner, held_out, catalogue, result, losses, started)
                if result.history[-1]["held_out_f1"] > result.best_f1:
                    result.best_f1, result.best_step = result.history[-1]["held_out_f1"], result.steps
                    best_state = ner.to_bytes()
                status = (f"loss {result.history[-1]['loss']:.3f} held-out F1 {result.history[-1]['held_out_f1']:.4f} "
                          f"(best {result.best_f1:.4f})")
                progress.update(task, status=status)
                progress.console.print(f"step {result.steps:,} ({time.perf_counter() - started:,.0f} s): {status}")
                losses = {}
    if not result.history or result.history[-1]["step"] != result.steps:
        _evaluate(ner, held_out, catalogue, result, losses, started)
        if result.history[-1]["held_out_f1"] > result.best_f1:
            result.best_f1, result.best_step = result.history[-1]["held_out_f1"], result.steps
            best_state = None
    if best_state is not None:
        ner.from_bytes(best_state)
    result.seconds = time.perf_counter() - started
    calibration_docs = [_renamed(doc, {key: catalogue[key].names[0] for key in corpus.labels})
                        for corpus in held_out for doc in corpus.docs]
    if calibration_docs:
        keys = sorted(set().union(*(corpus.labels for corpus in held_out if corpus.docs)))
        sets = [{catalogue[key].names[0] for key in corpus.labels} for corpus in held_out for _ in corpus.docs]
        result.calibration = _calibrate(ner, calibration_docs, [catalogue[key].names[0] for key in keys], sets)
    console.print(f"zero-shot training: {result.steps:,} steps, {result.sentences:,} sentences in "
                  f"{result.seconds:,.0f} s; best held-out F1 {result.best_f1:.4f} at step {result.best_step:,}"
                  + (f"; temperature {result.calibration.temperature:.3f} (ECE {result.calibration.ece_before:.4f}"
                     f" → {result.calibration.ece_after:.4f})" if result.calibration else ""))
    return result


def _calibrate(ner: ZeroShotNER, docs: list[Doc], names: list[str], label_sets: list[set[str]]) -> Calibration:
    """Fit the temperature corpus by corpus labels: each sentence only with the labels of its own corpus."""
    groups: dict[frozenset[str], list[Doc]] = {}
    for doc, allowed in zip(docs, label_sets, strict=True):
        groups.setdefault(frozenset(allowed), []).append(doc)
    if len(groups) == 1:
        (allowed, group), = groups.items()
        return ner.calibrate(group, sorted(allowed))
    return ner.calibrate_groups([(group, sorted(allowed)) for allowed, group in groups.items()])


def _evaluate(ner: ZeroShotNER, held_out: Sequence[TypedCorpus], catalogue: dict[str, LabelDescription],
              result: ZeroShotTrainResult, losses: dict[str, float], started: float) -> None:
    scores = held_out_scores(ner, held_out, catalogue)
    result.history.append({"step": result.steps, "seconds": time.perf_counter() - started,
                           "loss": losses.get(ner.name, 0.0), "held_out_f1": scores.overall["f"]})

