"""Training a linker on gold documents.

Epochs of shuffled document batches, dev accuracy after each, the best weights kept.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from elkit.doc import NIL, Doc
from elkit.errors import ConfigError
from elkit.evaluation.linking import LinkScores, score_links
from elkit.linking.component import EntityLinker
from elkit.linking.reranker import CrossEncoderReranker
from elkit.progress import progress_bar

__all__ = ["LinkerTraining", "fit_linker", "link_gold_mentions", "nil_offset", "train_reranker"]


@dataclass
class LinkerTraining:
    """What a linker training run did.

    Attributes:
        best_accuracy: The best dev in-KB accuracy.
        best_epoch: The epoch it was reached at (1-based).
        seconds: Wall time.
        history: One record per epoch (epoch, loss, dev scores).
    """

    best_accuracy: float = -1.0
    best_epoch: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


def strip_links(docs: Sequence[Doc]) -> list[Doc]:
    """Copies of `docs` whose entity spans keep their offsets and labels but lose ``kb_id`` and link scores."""
    stripped = []
    for doc in docs:
        copy_ = doc.copy()
        copy_.ents = [span.replace(kb_id="", link_score=None, candidates=()) for span in copy_.ents]
        stripped.append(copy_)
    return stripped


def link_gold_mentions(linker: EntityLinker, gold: Sequence[Doc], batch_size: int = 64) -> list[Doc]:
    """Run the linker over the gold mentions of `gold` (their ids removed first) and return the linked copies."""
    return list(linker.pipe(strip_links(gold), batch_size=batch_size))


def nil_offset(predicted: Sequence[Doc], gold: Sequence[Doc], resolve: Callable[[str], str | None] | None = None,
               limit: float = 4.0) -> float:
    """The shift of the NIL logit that makes the most of `predicted`'s spans right, NIL included.

    A linker trained with each document left out of its own tables sees a different share of unseen mentions
    than new text has, so its NIL option can end up too strong or too weak; shifting the NIL logit by a constant
    on dev data fixes that without touching the ranking of the candidates.

    Args:
        predicted: Linked copies of `gold` (spans keep their scored candidates and ``nil_score``).
        gold: The gold documents.
        resolve: Maps a gold id to the KB's primary id.
        limit: The largest shift either way.

    Returns:
        The offset to add to the NIL logit (0 when nothing is gained).
    """
    margins: list[tuple[float, bool, bool]] = []  # (log(best / nil), NIL is right, best candidate is right)
    for predicted_doc, gold_doc in zip(predicted, gold, strict=True):
        for span, gold_span in zip(predicted_doc.ents, gold_doc.ents, strict=True):
            if not gold_span.kb_id or not span.candidates or "nil_score" not in span.attrs:
                continue
            wanted = {resolve(part) or part if resolve else part for part in gold_span.kb_id.split("|")}
            best = span.candidates[0]
            nil = max(float(span.attrs["nil_score"]), 1e-12)
            margins.append((math.log(max(best.score, 1e-12) / nil), gold_span.kb_id == NIL,
                            best.entity_id in wanted))
    if not margins:
        return 0.0
    margins.sort()
    # with offset b, a span is NIL when its margin is below b: sweep b up across the sorted margins
    base = sum(int(nil_right) if margin < 0.0 else int(best) for margin, nil_right, best in margins)
    right = sum(int(best) for _, _, best in margins)  # below every margin: no span is NIL
    best_right, best_offset = base, 0.0
    if right > best_right and margins[0][0] - 0.5 >= -limit:
        best_right, best_offset = right, margins[0][0] - 0.5
    for index, (margin, nil_right, best) in enumerate(margins):
        right += int(nil_right) - int(best)
        following = margins[index + 1][0] if index + 1 < len(margins) else margin + 1.0
        offset = (margin + following) / 2.0
        if right > best_right and -limit <= offset <= limit:
            best_right, best_offset = right, offset
    return best_offset


def fit_linker(
    linker: EntityLinker,
    train: Sequence[Doc],
    dev: Sequence[Doc],
    *,
    epochs: int = 10,
    batch_size: int = 8,
    patience: int = 3,
    seed: int = 0,
    console: Console | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    calibrate_nil: bool = True,
) -> LinkerTraining:
    """Train an initialised linker, evaluate on dev after each epoch, and end with the best weights loaded.

    Args:
        linker: The linker, after :meth:`EntityLinker.initialize` on `train`.
        train: Gold training documents.
        dev: Gold dev documents (an empty list keeps the last weights).
        epochs: Passes over `train`.
        batch_size: Documents per update.
        patience: Stop after this many epochs without a better dev accuracy.
        seed: Shuffling seed.
        console: Where progress goes (stderr by default).
        on_epoch: Called with each epoch's record.
        calibrate_nil: After each epoch, shift the NIL logit by the constant that gets the most dev mentions
            right (`nil_offset`); the ranking of candidates does not change.
    """
    console = console or Console(stderr=True)
    result = LinkerTraining()
    started = time.perf_counter()
    rng = random.Random(seed)
    order = list(range(len(train)))
    best_state: dict[str, Any] | None = None
    stale = 0
    with progress_bar(console) as progress:
        task = progress.add_task("training the linker", total=epochs * len(order))
        for epoch in range(1, epochs + 1):
            rng.shuffle(order)
            losses: dict[str, float] = {}
            for start in range(0, len(order), batch_size):
                batch = [train[index] for index in order[start: start + batch_size]]
                linker.update(batch, losses=losses)
                progress.advance(task, len(batch))
            scores: LinkScores | None = None
            record: dict[str, Any] = {"epoch": epoch, "loss": round(losses.get(linker.name, 0.0), 4)}
            if dev:
                model = linker.model
                if calibrate_nil and model is not None:
                    model.nil_bias.zero_()
                predicted = link_gold_mentions(linker, dev)
                if calibrate_nil and model is not None:
                    offset = nil_offset(predicted, dev, resolve=linker.kb.resolve)
                    record["nil_offset"] = round(offset, 4)
                    if offset:
                        model.nil_bias.fill_(offset)
                        predicted = link_gold_mentions(linker, dev)
                scores = score_links(predicted, dev, resolve=linker.kb.resolve)
                record.update(accuracy=round(scores.accuracy, 4), in_kb_accuracy=round(scores.accuracy_no_nil, 4),
                              nil_precision=round(scores.nil_precision, 4),
                              nil_recall=round(scores.nil_recall, 4))
            result.history.append(record)
            console.print(" ".join(f"{key} {value}" for key, value in record.items()))
            if on_epoch is not None:
                on_epoch(record)
            accuracy = scores.accuracy if scores is not None else float(epoch)
            if accuracy > result.best_accuracy:
                result.best_accuracy, result.best_epoch, stale = accuracy, epoch, 0
                best_state = copy.deepcopy(linker.model.state_dict()) if linker.model is not None else None
            else:
                stale += 1
                if stale >= patience:
                    break
    if best_state is not None and linker.model is not None:
        linker.model.load_state_dict(best_state)
    linker.finish_training()
    result.seconds = time.perf_counter() - started
    return result


def train_reranker(linker: EntityLinker, train: Sequence[Doc], dev: Sequence[Doc] = (), *, seed: int = 0,
                   console: Console | None = None) -> dict[str, Any]:
    """Fine-tune the linker's cross-encoder reranker on gold documents, after the first stage is trained.

    The weights that combine the two stages are fitted on `dev`, or when there is none on a share
    (``held_out_share``) of the training documents kept out of fine-tuning. The trained reranker is set on the linker.

    Args:
        linker: A trained linker with a ``reranker`` section in its settings.
        train: Gold training documents.
        dev: Gold dev documents for the combination weights.
        seed: Seed for the split, the sampling and the fine-tuning.
        console: Where progress goes (stderr by default).

    Returns:
        The reranker's training report.

    Raises:
        ConfigError: The linker's settings have no ``reranker`` section.
    """
    settings = linker.settings.reranker
    if settings is None:
        raise ConfigError(f"{linker.name}: the linker has no reranker settings (add a [reranker] section)")
    console = console or Console(stderr=True)
    started = time.perf_counter()
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    held_count = max(1, round(len(order) * settings.held_out_share)) if len(order) > 1 and not dev else 0
    held_docs = list(dev) if dev else [train[index] for index in order[:held_count]]
    train_docs = [train[index] for index in order[held_count:]]
    with progress_bar(console) as progress:
        task = progress.add_task("first-stage scores for the reranker", total=len(train_docs) + len(held_docs))
        items = []
        for start in range(0, len(train_docs), 32):
            items.extend(linker.training_rerank_items(train_docs[start: start + 32]))
            progress.advance(task, len(train_docs[start: start + 32]))
        held_items = []
        for start in range(0, len(held_docs), 32):
            held_items.extend(linker.training_rerank_items(held_docs[start: start + 32]))
            progress.advance(task, len(held_docs[start: start + 32]))
        if settings.max_mentions and len(items) > settings.max_mentions:
            items = random.Random(seed).sample(items, settings.max_mentions)
        console.print(f"reranker: {len(items):,} training mentions from {len(train_docs):,} documents, "
                      f"{len(held_items):,} held-out mentions from {len(held_docs):,}")
        reranker = CrossEncoderReranker(settings.base_model, max_length=settings.max_length)
        task = progress.add_task("fine-tuning the reranker", total=settings.epochs * len(items))
        report = reranker.fit(items, held_items, epochs=settings.epochs, learning_rate=settings.learning_rate,
                              batch_size=settings.batch_size, residual=settings.residual, seed=seed,
                              progress=lambda done: progress.advance(task, done))
    linker.reranker = reranker
    report["seconds"] = round(time.perf_counter() - started, 1)
    console.print("reranker: " + " ".join(f"{key} {value}" for key, value in report.items()))
    return report


def train_linking(config: Any, train: Sequence[Doc], dev: Sequence[Doc], output: Any,
                  console: Console | None = None) -> tuple[Any, LinkerTraining]:
    """Train the entity linkers of a pipeline config on gold mentions (``elkit train`` with a linking config).

    Components other than linkers are built from the config as they are (a trained NER model is loaded with
    ``--base-model``); each linker is initialised on `train` and trained with `fit_linker`, using the
    ``[training]`` section's ``max_epochs``, ``patience`` and ``seed`` (batches of 8 documents). Writes
    ``model-best`` (the pipeline with the best dev accuracy) and ``training.json`` under `output`.

    Returns:
        (the trained pipeline, the last linker's `LinkerTraining`).
    """
    import json
    from pathlib import Path

    import torch

    from elkit.config import TrainingConfig
    from elkit.pipeline import Pipeline

    settings = config.training or TrainingConfig()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    nlp = Pipeline.from_config(config)
    result = LinkerTraining()
    linkers = [(name, component) for name, component in nlp.components if isinstance(component, EntityLinker)]
    for name, linker in linkers:
        (console or Console(stderr=True)).print(f"training {name}: {len(train):,} documents, "
                                                f"{sum(len(doc.ents) for doc in train):,} gold mentions")
        linker.initialize(lambda: train, show_progress=True)
        report = linker.initialize_report
        (console or Console(stderr=True)).print(
            f"{report['gold_mentions']:,} gold mentions ({report['nil_mentions']:,} NIL); "
            f"{report['ids_not_in_kb']:,} have an id the KB does not know and teach nothing")
        result = fit_linker(linker, train, dev, epochs=max(settings.max_epochs, 1),
                            patience=settings.patience or settings.max_epochs, seed=settings.seed, console=console)
        if linker.settings.reranker is not None and linker.settings.reranker.epochs > 0:
            record: dict[str, Any] = {"reranker": train_reranker(linker, train, dev, seed=settings.seed,
                                                                 console=console)}
            if dev:
                scores = score_links(link_gold_mentions(linker, dev), dev, resolve=linker.kb.resolve)
                record.update(accuracy=round(scores.accuracy, 4), in_kb_accuracy=round(scores.accuracy_no_nil, 4))
                (console or Console(stderr=True)).print(f"with the reranker: accuracy {record['accuracy']} "
                                                        f"in_kb_accuracy {record['in_kb_accuracy']}")
            result.history.append(record)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(folder / "model-best")
    (folder / "training.json").write_text(json.dumps({
        "training": settings.model_dump(), "best_accuracy": result.best_accuracy, "best_epoch": result.best_epoch,
        "seconds": result.seconds, "history": result.history,
    }, indent=2), encoding="utf-8")
    return nlp, result
