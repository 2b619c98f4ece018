"""``SpanNER``: the trainable entity recognizer component.

It scores every span of up to ``max_width`` words against every label, gives each (span, label) a probability,
and decodes the best non-overlapping spans into ``doc.ents`` (and, on request, every span above the threshold
into a span group, overlapping or nested). It learns from complete annotation, from partial annotation and from
binary answers about single spans, can take new labels after training, and rehearses its own earlier
predictions against forgetting.
"""

from __future__ import annotations

import copy
import json
import random
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from elkit.batching import PredictThenAnnotate
from elkit.doc import Doc, Example, Span
from elkit.errors import ConfigError, DataError, ModelError
from elkit.io.pack import pack_files, unpack_files
from elkit.ner.encoders import build_encoder
from elkit.ner.model import SpanModel
from elkit.registry import factories

__all__ = ["SpanNER", "SpanScores"]

_FORMAT = "elkit.SpanNER/1"
_WEIGHTS = "weights.safetensors"
_MODEL_JSON = "model.json"
_MAX_SEGMENT = 256


@dataclass(frozen=True, slots=True)
class SpanScores:
    """The probabilities for one document: ``probabilities[i, w, l]`` is P(words i..i+w are a ``labels[l]``).

    Attributes:
        segments: ``(offset, probabilities)`` per scored segment; ``offset`` is the segment's first word.
        labels: Label names, in column order.
    """

    segments: tuple[tuple[int, np.ndarray], ...]
    labels: tuple[str, ...]

    def spans(self, threshold: float = 0.0) -> list[tuple[int, int, str, float]]:
        """Every (start, end, label, probability) with probability at or above ``threshold``, best first."""
        found: list[tuple[int, int, str, float]] = []
        for offset, probabilities in self.segments:
            starts, widths, columns = np.nonzero(probabilities >= threshold)
            for start, width, column in zip(starts.tolist(), widths.tolist(), columns.tolist(), strict=True):
                found.append((offset + start, offset + start + width + 1, self.labels[column],
                              float(probabilities[start, width, column])))
        found.sort(key=lambda item: (-item[3], item[0], item[1]))
        return found


def _segments(doc: Doc, context: str) -> list[tuple[int, int]]:
    """Word ranges scored together: sentences (or the document), split when longer than the segment cap."""
    if not len(doc):
        return []
    ranges = [(span.start, span.end) for span in doc.sents] if context == "sentence" else [(0, len(doc))]
    result = []
    for start, end in ranges:
        for piece in range(start, end, _MAX_SEGMENT):
            result.append((piece, min(end, piece + _MAX_SEGMENT)))
    return result


class SpanNER(PredictThenAnnotate):
    """The span-scoring entity recognizer.

    Args:
        name: The component's name in a pipeline.
        labels: Labels to start with (``initialize`` adds the ones it finds in the examples).
        encoder: Encoder settings: ``architecture`` ("hash_cnn" or "transformer") and its options
            (see :mod:`elkit.ner.encoders`).
        hidden_width: Span vector width.
        max_width: Longest span in words.
        dropout: Dropout in the span head.
        threshold: Smallest probability that makes a span an entity.
        context: "sentence" scores each sentence on its own (the fast encoder's default); "document" gives the
            encoder the whole document (transformers profit from it).
        spans_key: When set, every (span, label) at or above the threshold, overlapping or nested, is also
            written to ``doc.spans[spans_key]``.
        overwrite_ents: Replace entities already on the document (from patterns, say) where they overlap a
            prediction; when False they are kept and predictions that overlap them are dropped.
        learning_rate: The optimizer's learning rate for the head (and the fast encoder).
        encoder_learning_rate: Learning rate for a transformer's own weights (None: ``learning_rate``).
        seed: Seed for weight initialisation.
    """

    def __init__(
        self,
        name: str = "ner",
        *,
        labels: Sequence[str] = (),
        encoder: dict[str, Any] | None = None,
        hidden_width: int = 128,
        max_width: int = 10,
        dropout: float = 0.1,
        threshold: float = 0.5,
        context: str = "sentence",
        spans_key: str | None = None,
        overwrite_ents: bool = False,
        learning_rate: float = 0.001,
        encoder_learning_rate: float | None = None,
        seed: int = 0,
    ) -> None:
        if context not in ("sentence", "document"):
            raise ConfigError(f"{name}: context must be 'sentence' or 'document', not {context!r}")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"{name}: threshold must be in [0, 1], got {threshold}")
        if max_width < 1 or hidden_width < 1:
            raise ConfigError(f"{name}: max_width and hidden_width must be positive")
        self.name = name
        self.labels: list[str] = list(dict.fromkeys(labels))
        self.encoder_settings = dict(encoder or {"architecture": "hash_cnn"})
        self.hidden_width = hidden_width
        self.max_width = max_width
        self.dropout = dropout
        self.threshold = threshold
        self.context = context
        self.spans_key = spans_key
        self.overwrite_ents = overwrite_ents
        self.learning_rate = learning_rate
        self.encoder_learning_rate = encoder_learning_rate
        self.seed = seed
        self.model: SpanModel | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._teacher: SpanModel | None = None
        self._teacher_labels = 0

    # --- settings --------------------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The factory's keyword arguments other than ``name``."""
        return {
            "labels": list(self.labels),
            "encoder": dict(self.encoder_settings),
            "hidden_width": self.hidden_width,
            "max_width": self.max_width,
            "dropout": self.dropout,
            "threshold": self.threshold,
            "context": self.context,
            "spans_key": self.spans_key,
            "overwrite_ents": self.overwrite_ents,
            "learning_rate": self.learning_rate,
            "encoder_learning_rate": self.encoder_learning_rate,
            "seed": self.seed,
        }

    @property
    def is_initialized(self) -> bool:
        """True once the model exists (after ``initialize`` or loading)."""
        return self.model is not None

    def _require_model(self) -> SpanModel:
        if self.model is None:
            raise ModelError(
                f"component {self.name!r} has no model yet: train it (elkit train), call initialize(), or load a "
                f"trained pipeline"
            )
        return self.model

    # --- building and labels -----------------------------------------------------------------------------------

    def _build(self, *, files: Path | None = None, pretrained: bool = True) -> SpanModel:
        torch.manual_seed(self.seed)
        encoder = build_encoder(self.encoder_settings, files=files, pretrained=pretrained)
        return SpanModel(encoder, len(self.labels), self.hidden_width, self.max_width, self.dropout)

    def initialize(self, get_examples: Callable[[], Iterable[Example | Doc]] | None = None, *,
                   labels: Sequence[str] | None = None) -> None:
        """Learn the label set from examples (and ``labels``) and build a fresh model.

        Args:
            get_examples: Returns the training examples (documents with gold ``ents``).
            labels: Labels to include even if no example has them.

        Raises:
            ModelError: When no label is known.
            DataError: When an example holds a span longer than ``max_width`` words.
        """
        found: dict[str, None] = dict.fromkeys(self.labels)
        for label in labels or ():
            found[label] = None
        too_long = 0
        if get_examples is not None:
            for item in get_examples():
                example = _as_example(item)
                for span in example.reference.ents:
                    found[span.label] = None
                    too_long += len(span) > self.max_width
                for answer in example.answers:
                    found[answer.label] = None
        if too_long:
            raise DataError(
                f"{self.name}: {too_long} gold entities are longer than max_width={self.max_width} words and could "
                f"never be predicted; raise max_width in the component's config"
            )
        if "" in found:
            raise DataError(f"{self.name}: a gold entity has an empty label")
        self.labels = list(found)
        if not self.labels:
            raise ModelError(f"{self.name}: no labels: give labels or examples with entities")
        self.model = self._build()
        self._optimizer = None
        self._teacher = None

    def add_label(self, label: str) -> int:
        """Add a label to a (possibly trained) model; returns 1 if it is new, 0 if it was known.

        The label matrix grows by one row; everything learned so far is kept.
        """
        if not isinstance(label, str) or not label.strip():
            raise DataError(f"{self.name}: a label must be a non-empty string, got {label!r}")
        if label in self.labels:
            return 0
        self.labels.append(label)
        if self.model is not None:
            self.model.head.labels.grow(1)
            self._optimizer = None
        return 1

    # --- prediction --------------------------------------------------------------------------------------------

    def predict(self, docs: Sequence[Doc]) -> list[SpanScores]:
        """Probabilities for every (span, label) of each document; the documents are not changed."""
        model = self._require_model()
        segments = [(index, start, end) for index, doc in enumerate(docs) for start, end in
                    _segments(doc, self.context)]
        results: list[list[tuple[int, np.ndarray]]] = [[] for _ in docs]
        if not segments:
            return [SpanScores((), tuple(self.labels)) for _ in docs]
        order = sorted(range(len(segments)), key=lambda position: segments[position][2] - segments[position][1])
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                budget = 4096  # words per forward pass
                position = 0
                while position < len(order):
                    batch = [order[position]]
                    position += 1
                    while position < len(order):
                        longest = segments[order[position]][2] - segments[order[position]][1]
                        if longest * (len(batch) + 1) > budget:
                            break
                        batch.append(order[position])
                        position += 1
                    words = [docs[segments[item][0]].words[segments[item][1]: segments[item][2]] for item in batch]
                    logits, span_mask = model(words)
                    probabilities = torch.sigmoid(logits).masked_fill(~span_mask.unsqueeze(-1), 0.0).numpy()
                    for row, item in enumerate(batch):
                        index, start, end = segments[item]
                        length = end - start
                        results[index].append((start, probabilities[row, :length, : min(self.max_width, length)]))
        finally:
            model.train(was_training)
        return [SpanScores(tuple(sorted(found, key=lambda pair: pair[0])), tuple(self.labels)) for found in results]

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[SpanScores]) -> None:
        """Write the decoded entities (and, with ``spans_key``, every span above the threshold)."""
        for doc, scores in zip(docs, predictions, strict=True):
            candidates = scores.spans(self.threshold)
            if self.spans_key is not None:
                doc.spans[self.spans_key] = sorted(
                    (Span(doc, start, end, label, score=probability) for start, end, label, probability in candidates),
                    key=lambda span: (span.start, span.end, span.label),
                )
            doc.ents = _decode_flat(doc, candidates, self.overwrite_ents)

    # --- learning -------------------------------------------------------------------------------------------

    def make_optimizer(self) -> torch.optim.Optimizer:
        """The component's own AdamW (built once; rebuilt when a label is added), which ``update`` uses."""
        return self._default_optimizer(self._require_model())

    def _default_optimizer(self, model: SpanModel) -> torch.optim.Optimizer:
        if self._optimizer is None:
            encoder_rate = self.encoder_learning_rate or self.learning_rate
            transformer = [parameter for name, parameter in model.named_parameters()
                           if name.startswith("encoder.transformer.")]
            known = {id(parameter) for parameter in transformer}
            others = [parameter for parameter in model.parameters() if id(parameter) not in known]
            groups = [{"params": others, "lr": self.learning_rate}]
            if transformer:
                groups.append({"params": transformer, "lr": encoder_rate})
            self._optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
        return self._optimizer

    def _targets(self, examples: Sequence[Example], words: list[list[str]], spans: list[tuple[int, int, int]],
                 shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Gold targets and the mask of cells that get a loss, for segments (example index, start, end)."""
        targets = torch.zeros(shape)
        weights = torch.zeros(shape)
        column = {label: position for position, label in enumerate(self.labels)}
        for row, (index, start, end) in enumerate(spans):
            example = examples[index]
            if example.complete:
                weights[row] = 1.0
            for span in example.reference.ents:
                if start <= span.start and span.end <= end and len(span) <= self.max_width:
                    if span.label not in column:
                        raise DataError(f"{self.name}: unknown label {span.label!r}; call add_label() first")
                    cell = (row, span.start - start, len(span) - 1)
                    targets[(*cell, column[span.label])] = 1.0
                    weights[cell] = 1.0
            for answer in example.answers:
                if start <= answer.start and answer.end <= end and answer.end - answer.start <= self.max_width:
                    if answer.label not in column:
                        raise DataError(f"{self.name}: unknown label {answer.label!r}; call add_label() first")
                    cell = (row, answer.start - start, answer.end - answer.start - 1)
                    if answer.accept:
                        targets[cell] = 0.0
                        targets[(*cell, column[answer.label])] = 1.0
                        weights[cell] = 1.0
                    else:
                        weights[(*cell, column[answer.label])] = 1.0
        return targets, weights

    def update(
        self,
        examples: Iterable[Example | Doc],
        *,
        drop: float | None = None,
        sgd: torch.optim.Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """One training step on a batch: complete documents, partial ones, or binary answers.

        Args:
            examples: ``Example`` objects, or ``Doc`` objects whose ``ents`` are the complete gold annotation.
            drop: Dropout rate for this step (None: the configured rates).
            sgd: An optimizer over the model's parameters (None: the component's own AdamW).
            losses: Accumulates this component's loss under its name.

        Returns:
            ``losses``.
        """
        model = self._require_model()
        batch = [_as_example(item) for item in examples]
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        segments = [(index, start, end) for index, example in enumerate(batch)
                    for start, end in _segments(example.reference, self.context)]
        if not segments:
            return losses
        model.train()
        with _dropout(model, drop):
            words = [batch[index].reference.words[start:end] for index, start, end in segments]
            logits, span_mask = model(words)
            targets, weights = self._targets(batch, words, segments, tuple(logits.shape))
            weights = weights * span_mask.unsqueeze(-1)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, targets, weight=weights, reduction="sum")
            loss = loss / len(segments)
        self._step(model, loss, sgd)
        losses[self.name] += float(loss.detach())
        return losses

    def _step(self, model: SpanModel, loss: torch.Tensor, sgd: torch.optim.Optimizer | None) -> None:
        optimizer = sgd or self._default_optimizer(model)
        optimizer.zero_grad()
        if loss.requires_grad:
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    def begin_rehearsal(self) -> None:
        """Freeze a copy of the current model as the teacher that :meth:`rehearse` keeps the model close to."""
        model = self._require_model()
        self._teacher = copy.deepcopy(model).eval()
        self._teacher_labels = len(self.labels)

    def rehearse(
        self,
        examples: Iterable[Example | Doc],
        *,
        drop: float | None = None,
        sgd: torch.optim.Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """A step towards the teacher's own predictions on raw documents (pseudo-rehearsal against forgetting).

        The teacher is the model as it was at :meth:`begin_rehearsal` (called here on first use). Only the
        teacher's labels are rehearsed; new labels learn from :meth:`update` alone.

        Returns:
            ``losses``, with the rehearsal loss under ``"rehearse_" + name``.
        """
        model = self._require_model()
        if self._teacher is None:
            self.begin_rehearsal()
        teacher = self._teacher
        assert teacher is not None
        known = self._teacher_labels
        key = f"rehearse_{self.name}"
        losses = {} if losses is None else losses
        losses.setdefault(key, 0.0)
        docs = [_as_example(item).reference for item in examples]
        segments = [(index, start, end) for index, doc in enumerate(docs) for start, end in
                    _segments(doc, self.context)]
        if not segments:
            return losses
        words = [docs[index].words[start:end] for index, start, end in segments]
        with torch.no_grad():
            teacher_logits, _ = teacher(words)
            target = torch.sigmoid(teacher_logits[..., :known])
        model.train()
        with _dropout(model, drop):
            logits, span_mask = model(words)
        weights = span_mask.unsqueeze(-1).expand(-1, -1, -1, known).float()
        loss = nn.functional.binary_cross_entropy_with_logits(logits[..., :known], target, weight=weights,
                                                              reduction="sum") / len(segments)
        self._step(model, loss, sgd)
        losses[key] += float(loss.detach())
        return losses

    # --- saving -------------------------------------------------------------------------------------------------

    def _files(self) -> dict[str, bytes]:
        model = self._require_model()
        encoder_settings = dict(self.encoder_settings)
        vectors = getattr(model.encoder, "vectors", None)
        if vectors is not None:
            encoder_settings["vectors_width"] = vectors.dimensions
        encoder_settings.pop("vectors", None)
        encoder_settings.pop("model", None)
        meta = {"format": _FORMAT, "labels": self.labels, "encoder": encoder_settings}
        state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
        files = {_MODEL_JSON: json.dumps(meta, indent=2).encode("utf-8"), _WEIGHTS: save_tensors(state)}
        files.update(model.encoder.extra_files())
        return files

    def _load_files(self, files: dict[str, bytes], where: str) -> None:
        try:
            meta = json.loads(files[_MODEL_JSON])
        except (KeyError, ValueError) as error:
            raise ModelError(f"{where}: missing or unreadable {_MODEL_JSON}") from error
        if meta.get("format") != _FORMAT:
            raise ModelError(f"{where}: {_MODEL_JSON} is not a {_FORMAT} model (format {meta.get('format')!r})")
        self.labels = list(meta["labels"])
        saved_encoder = dict(meta["encoder"])
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            for name, data in files.items():
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            settings = self.encoder_settings
            self.encoder_settings = saved_encoder
            try:
                model = self._build(files=root, pretrained=False)
            finally:
                self.encoder_settings = settings
        try:
            state = load_tensors(files[_WEIGHTS])
            model.load_state_dict(state, strict=True)
        except (KeyError, RuntimeError) as error:
            raise ModelError(f"{where}: weights do not fit the model: {error}") from error
        model.eval()
        self.model = model
        self._optimizer = None
        self._teacher = None

    def to_disk(self, path: str | Path) -> None:
        """Write ``model.json``, ``weights.safetensors`` and the encoder's files into the folder ``path``."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self._files().items():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def from_disk(self, path: str | Path) -> Self:
        """Load a model saved by :meth:`to_disk`."""
        directory = Path(path)
        if not (directory / _MODEL_JSON).is_file():
            raise ModelError(f"{directory}: no {_MODEL_JSON}; was the component trained and saved?")
        files = {
            str(file.relative_to(directory)): file.read_bytes() for file in directory.rglob("*") if file.is_file()
        }
        self._load_files(files, str(directory))
        return self

    def to_bytes(self) -> bytes:
        """The model as bytes: a length-prefixed JSON table of contents, then the files."""
        return pack_files(self._files())

    def from_bytes(self, data: bytes) -> Self:
        """Load a model from :meth:`to_bytes` output."""
        self._load_files(unpack_files(data, f"{self.name} (SpanNER bytes)"), self.name)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_optimizer"] = None
        state["_teacher"] = None
        return state

    def __repr__(self) -> str:
        return f"SpanNER(name={self.name!r}, labels={self.labels}, encoder={self.encoder_settings.get('architecture')})"


def _as_example(item: Example | Doc) -> Example:
    if isinstance(item, Example):
        return item
    if isinstance(item, Doc):
        return Example(item)
    raise DataError(f"expected an Example or a Doc, got {type(item).__name__}")


def _decode_flat(doc: Doc, candidates: list[tuple[int, int, str, float]], overwrite: bool) -> list[Span]:
    """Best non-overlapping spans, greedily by probability, around (or replacing) the document's entities."""
    taken = np.zeros(len(doc), dtype=bool)
    existing = list(doc.ents)
    if not overwrite:
        for span in existing:
            taken[span.start: span.end] = True
    chosen: list[Span] = []
    for start, end, label, probability in candidates:
        if taken[start:end].any():
            continue
        taken[start:end] = True
        chosen.append(Span(doc, start, end, label, score=probability))
    if overwrite:
        covered = np.zeros(len(doc), dtype=bool)
        for span in chosen:
            covered[span.start: span.end] = True
        existing = [span for span in existing if not covered[span.start: span.end].any()]
    return existing + chosen


class _dropout:
    """Set every dropout layer's rate for one step, then restore it."""

    def __init__(self, model: nn.Module, rate: float | None) -> None:
        self.layers = [module for module in model.modules() if isinstance(module, nn.Dropout)]
        self.rate = rate
        self.saved = [layer.p for layer in self.layers]

    def __enter__(self) -> None:
        if self.rate is not None:
            for layer in self.layers:
                layer.p = self.rate

    def __exit__(self, *exc: object) -> None:
        for layer, rate in zip(self.layers, self.saved, strict=True):
            layer.p = rate


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch for reproducible training."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@factories.register("elkit.SpanNER.v1")
def make_span_ner(
    name: str,
    labels: list[str] | None = None,
    encoder: dict[str, Any] | None = None,
    hidden_width: int = 128,
    max_width: int = 10,
    dropout: float = 0.1,
    threshold: float = 0.5,
    context: str = "sentence",
    spans_key: str | None = None,
    overwrite_ents: bool = False,
    learning_rate: float = 0.001,
    encoder_learning_rate: float | None = None,
    seed: int = 0,
) -> SpanNER:
    """The trainable span-scoring entity recognizer (see :class:`elkit.ner.SpanNER`)."""
    return SpanNER(
        name, labels=labels or (), encoder=encoder, hidden_width=hidden_width, max_width=max_width, dropout=dropout,
        threshold=threshold, context=context, spans_key=spans_key, overwrite_ents=overwrite_ents,
        learning_rate=learning_rate, encoder_learning_rate=encoder_learning_rate, seed=seed,
    )
