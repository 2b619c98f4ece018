"""Training a linker on gold documents.

Epochs of shuffled document batches; after each, the NIL offset and the accuracy on documents held out of the
training set (`elkit.linking.selection`); the best epoch's weights are kept. The dev set is scored once at the end,
for the record, and never decides anything.
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
        best_accuracy: The best held-out accuracy (NIL included).
        best_epoch: The epoch it was reached at (1-based).
        nil_offset: The NIL offset chosen with it.
        seconds: Wall time.
        history: One record per epoch (epoch, loss, dev scores).
    """

    best_accuracy: float = -1.0
    best_epoch: int = 0
    nil_offset: float = 0.0
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
    held_out: Sequence[Doc],
    *,
    epochs: int = 10,
    batch_size: int = 8,
    patience: int = 3,
    seed: int = 0,
    console: Console | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    calibrate_nil: bool = True,
    finish: bool = True,
) -> LinkerTraining:
    """Train an initialised linker, choose after each epoch on held-out documents, end with the best weights loaded.

    Args:
        linker: The linker, after :meth:`EntityLinker.initialize` on `train`.
        train: Gold training documents.
        held_out: Gold documents the choices are made on (the best epoch, the NIL offset): documents held out of
            the training set (`held_out_split`), not the dev set that is reported. An empty list keeps the last
            weights and no NIL offset.
        epochs: Passes over `train`.
        batch_size: Documents per update.
        patience: Stop after this many epochs without a better held-out accuracy.
        seed: Shuffling seed.
        console: Where progress goes (stderr by default).
        on_epoch: Called with each epoch's record.
        calibrate_nil: After each epoch, shift the NIL logit by the constant that gets the most held-out mentions
            right (`nil_offset`); the ranking of candidates does not change.
        finish: Call `EntityLinker.finish_training` at the end; False keeps the per-document tables and the
            cached features, to train again with `EntityLinker.new_weights` (ablations).
    """
    console = console or Console(stderr=True)
    result = LinkerTraining()
    started = time.perf_counter()
    rng = random.Random(seed)
    order = list(range(len(train)))
    best_state: dict[str, Any] | None = None
    best_offset = 0.0
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
            if held_out:
                model = linker.model
                if calibrate_nil and model is not None:
                    model.nil_bias.zero_()
                predicted = link_gold_mentions(linker, held_out)
                if calibrate_nil and model is not None:
                    offset = nil_offset(predicted, held_out, resolve=linker.kb.resolve)
                    record["nil_offset"] = round(offset, 4)
                    if offset:
                        model.nil_bias.fill_(offset)
                        predicted = link_gold_mentions(linker, held_out)
                scores = score_links(predicted, held_out, resolve=linker.kb.resolve)
                record.update(held_out_accuracy=round(scores.accuracy, 4),
                              held_out_in_kb_accuracy=round(scores.accuracy_no_nil, 4),
                              held_out_nil_precision=round(scores.nil_precision, 4),
                              held_out_nil_recall=round(scores.nil_recall, 4))
            result.history.append(record)
            console.print(" ".join(f"{key} {value}" for key, value in record.items()))
            if on_epoch is not None:
                on_epoch(record)
            accuracy = scores.accuracy if scores is not None else float(epoch)
            if accuracy > result.best_accuracy:
                result.best_accuracy, result.best_epoch, stale = accuracy, epoch, 0
                best_state = copy.deepcopy(linker.model.state_dict()) if linker.model is not None else None
                best_offset = float(record.get("nil_offset", 0.0))
            else:
                stale += 1
                if stale >= patience:
                    break
    if best_state is not None and linker.model is not None:
        linker.model.load_state_dict(best_state)
    result.nil_offset = best_offset
    if finish:
        linker.finish_training()
    result.seconds = time.perf_counter() - started
    return result


def train_reranker(linker: EntityLinker, train: Sequence[Doc], held_out: Sequence[Doc] = (), *, seed: int = 0,
                   console: Console | None = None) -> dict[str, Any]:
    """Fine-tune the linker's cross-encoder reranker on gold documents, after the first stage is trained.

    The weights that combine the two stages are fitted on `held_out`, documents kept out of `train`; when none are
    given, a share (``held_out_share``) of `train` is kept out of fine-tuning for them. Never pass the dev set
    that is reported: the weights would be chosen on it.

    Args:
        linker: A trained linker with a ``reranker`` section in its settings.
        train: Gold training documents to fine-tune on.
        held_out: Gold documents, not in `train`, for the combination weights.
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
    held_count = max(1, round(len(order) * settings.held_out_share)) if len(order) > 1 and not held_out else 0
    held_docs = list(held_out) if held_out else [train[index] for index in order[:held_count]]
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
        reranker = CrossEncoderReranker(settings.base_model, max_length=settings.max_length, device=linker.device)
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
    ``--base-model``). For each linker:

    1. ``[training] held_out_share`` of the training documents (runs of consecutive documents, `held_out_split`)
       are held out; the linker is initialised on the rest;
    2. `fit_linker` trains it (``max_epochs``, ``patience``, ``seed``, batches of 8 documents) and chooses the
       best epoch and the NIL offset on the held-out documents;
    3. the tables (mention counts, entity contexts, memory) are learned again from all training documents, the
       weights kept;
    4. with a reranker section, the cross-encoder is fine-tuned on the documents of step 1 and its combination
       weights fitted on the held-out ones.

    `dev` decides nothing: it is scored once at the end, for the record (``dev_*`` in the history). Writes
    ``model-best`` and ``training.json`` under `output`.

    Returns:
        (the trained pipeline, the last linker's `LinkerTraining`).
    """
    import json
    from pathlib import Path

    import torch

    from elkit.config import TrainingConfig
    from elkit.linking.selection import held_out_split
    from elkit.pipeline import Pipeline

    console = console or Console(stderr=True)
    settings = config.training or TrainingConfig()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    nlp = Pipeline.from_config(config)
    result = LinkerTraining()
    learn, held_out = held_out_split(train, settings.held_out_share, settings.seed)
    linkers = [(name, component) for name, component in nlp.components if isinstance(component, EntityLinker)]
    for name, linker in linkers:
        console.print(f"training {name}: {len(learn):,} documents, {sum(len(doc.ents) for doc in learn):,} gold "
                      f"mentions; {len(held_out):,} documents held out for choosing the epoch and NIL offset")
        linker.initialize(lambda: learn, show_progress=True)
        report = linker.initialize_report
        console.print(f"{report['gold_mentions']:,} gold mentions ({report['nil_mentions']:,} NIL); "
                      f"{report['ids_not_in_kb']:,} have an id the KB does not know and teach nothing")
        result = fit_linker(linker, learn, held_out, epochs=max(settings.max_epochs, 1),
                            patience=settings.patience or settings.max_epochs, seed=settings.seed, console=console)
        if held_out:
            linker.refresh_tables(lambda: train)
            console.print(f"tables learned again from all {len(train):,} training documents")
        if linker.settings.reranker is not None and linker.settings.reranker.epochs > 0:
            result.history.append({"reranker": train_reranker(linker, learn, held_out, seed=settings.seed,
                                                              console=console)})
        if dev:
            scores = score_links(link_gold_mentions(linker, dev), dev, resolve=linker.kb.resolve)
            record = {"dev_accuracy": round(scores.accuracy, 4), "dev_in_kb_accuracy": round(scores.accuracy_no_nil, 4),
                      "dev_nil_precision": round(scores.nil_precision, 4),
                      "dev_nil_recall": round(scores.nil_recall, 4)}
            result.history.append(record)
            console.print("dev (reported, chose nothing): " + " ".join(f"{key} {value}"
                                                                      for key, value in record.items()))
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(folder / "model-best")
    (folder / "training.json").write_text(json.dumps({
        "training": settings.model_dump(), "held_out_documents": len(held_out),
        "best_held_out_accuracy": result.best_accuracy, "best_epoch": result.best_epoch,
        "nil_offset": result.nil_offset, "seconds": result.seconds, "history": result.history,
    }, indent=2), encoding="utf-8")
    return nlp, result
