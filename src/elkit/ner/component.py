"""``SpanNER``: the trainable entity recognizer component.

It scores every span of up to ``max_width`` words against every label, gives each (span, label) a probability,
and decodes the best non-overlapping spans into ``doc.ents`` (and, on request, every span above the threshold
into a span group, overlapping or nested). It learns from complete annotation, from partial annotation and from
binary answers about single spans, can take new labels after training, and rehearses its own earlier
predictions against forgetting.

Its settings are :class:`~elkit.ner.settings.SpanNERSettings`; the model is in :mod:`elkit.ner.model` and
:mod:`elkit.ner.encoders`, the span bookkeeping (segments, targets, decoding) in :mod:`elkit.ner.spans`.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from elkit.batching import PredictThenAnnotate
from elkit.devices import to_numpy
from elkit.doc import Doc, Example, Span
from elkit.errors import ConfigError, DataError, ModelError
from elkit.ner.encoders import build_encoder
from elkit.ner.model import SpanModel, dropout_rate
from elkit.ner.persist import SavedAsFiles
from elkit.ner.settings import (
    HashCNNSettings,
    SpanNERSettings,
    TransformerEncoderSettings,
    validate_encoder_settings,
)
from elkit.ner.spans import SpanScores, as_example, decode_flat, span_targets
from elkit.ner.windows import WindowPlan, batches_by_words
from elkit.registry import factories
from elkit.settings import validate_settings

__all__ = ["SpanNER", "SpanScores"]

_FORMAT = "elkit.SpanNER/1"
_WEIGHTS = "weights.safetensors"
_MODEL_JSON = "model.json"


class SpanNER(SavedAsFiles, PredictThenAnnotate):
    """The span-scoring entity recognizer.

    Args:
        name: The component's name in a pipeline.
        settings: The settings (:class:`~elkit.ner.settings.SpanNERSettings`).
        **values: The settings as keyword values instead (``labels=["PER"]``, ``max_width=5``,
            ``encoder={"architecture": "transformer"}``).

    Raises:
        ConfigError: A bad setting, or both ``settings`` and values given.
    """

    def __init__(self, name: str = "ner", settings: SpanNERSettings | None = None, **values: Any) -> None:
        if settings is not None and values:
            raise ConfigError(f"{name}: give settings or keyword values, not both")
        self.name = name
        self.settings = settings if settings is not None else validate_settings(SpanNERSettings, values, name)
        self.labels: list[str] = list(dict.fromkeys(self.settings.labels))
        self.model: SpanModel | None = None
        self.device = torch.device("cpu")
        self._optimizer: torch.optim.Optimizer | None = None
        self._teacher: SpanModel | None = None
        self._teacher_labels = 0

    # --- settings --------------------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The settings, as the factory takes them, with the labels the component has now (learned state)."""
        return {**self.settings.to_config(), "labels": list(self.labels)}

    @property
    def is_initialized(self) -> bool:
        """True once the model exists (after ``initialize`` or loading)."""
        return self.model is not None

    def to_device(self, device: torch.device) -> None:
        """Run on ``device`` from now on: the model (and a rehearsal teacher) move there, the optimizer is rebuilt.

        A pipeline calls it with its resolved ``[nlp] device`` (see :mod:`elkit.devices`).
        """
        self.device = device
        for model in (self.model, self._teacher):
            if model is not None:
                model.to(device)
        self._optimizer = None

    def _require_model(self) -> SpanModel:
        if self.model is None:
            raise ModelError(
                f"component {self.name!r} has no model yet: train it (elkit train), call initialize(), or load a "
                f"trained pipeline"
            )
        return self.model

    # --- building and labels -----------------------------------------------------------------------------------

    def _build(self, encoder_settings: HashCNNSettings | TransformerEncoderSettings | None = None, *,
               files: Path | None = None, pretrained: bool = True, vectors_width: int = 0) -> SpanModel:
        """A fresh model, on the CPU (so that its seeded weights are the same whatever the device)."""
        settings = self.settings
        torch.manual_seed(settings.seed)
        encoder = build_encoder(encoder_settings or settings.encoder, files=files, pretrained=pretrained,
                                vectors_width=vectors_width)
        return SpanModel(encoder, len(self.labels), settings.hidden_width, settings.max_width, settings.dropout)

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
                example = as_example(item)
                for span in example.reference.ents:
                    found[span.label] = None
                    too_long += len(span) > self.settings.max_width
                for answer in example.answers:
                    found[answer.label] = None
        if too_long:
            raise DataError(
                f"{self.name}: {too_long} gold entities are longer than max_width={self.settings.max_width} words "
                f"and could never be predicted; raise max_width in the component's config"
            )
        if "" in found:
            raise DataError(f"{self.name}: a gold entity has an empty label")
        self.labels = list(found)
        if not self.labels:
            raise ModelError(f"{self.name}: no labels: give labels or examples with entities")
        self.model = self._build().to(self.device)
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
        plan = self._plan(docs)
        if not plan.windows:
            return [SpanScores((), tuple(self.labels)) for _ in docs]
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                sizes = [end - start for _, start, end in plan.windows]
                for batch in batches_by_words(sizes, 4096):  # words per forward pass
                    words = [docs[plan.windows[item][0]].words[plan.windows[item][1]: plan.windows[item][2]]
                             for item in batch]
                    logits, span_mask = model(words)
                    probabilities = to_numpy(torch.sigmoid(logits).masked_fill(~span_mask.unsqueeze(-1), 0.0))
                    for row, item in enumerate(batch):
                        plan.add(item, probabilities[row])
        finally:
            model.train(was_training)
        return [SpanScores(tuple(found), tuple(self.labels)) for found in plan.segments()]

    def _plan(self, docs: Sequence[Doc]) -> WindowPlan:
        settings = self.settings
        return WindowPlan(docs, settings.context, settings.window, settings.window_overlap, settings.max_width)

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[SpanScores]) -> None:
        """Write the decoded entities (and, with ``spans_key``, every span above the threshold)."""
        for doc, scores in zip(docs, predictions, strict=True):
            candidates = scores.spans(self.settings.threshold)
            spans_key = self.settings.spans_key
            if spans_key is not None:
                doc.spans[spans_key] = sorted(
                    (Span(doc, start, end, label, score=probability) for start, end, label, probability in candidates),
                    key=lambda span: (span.start, span.end, span.label),
                )
            doc.ents = decode_flat(doc, candidates, self.settings.overwrite_ents)

    # --- learning -------------------------------------------------------------------------------------------

    def make_optimizer(self) -> torch.optim.Optimizer:
        """The component's own AdamW (built once; rebuilt when a label is added), which ``update`` uses."""
        return self._default_optimizer(self._require_model())

    def _default_optimizer(self, model: SpanModel) -> torch.optim.Optimizer:
        if self._optimizer is None:
            encoder_rate = self.settings.encoder_learning_rate or self.settings.learning_rate
            transformer = [parameter for name, parameter in model.named_parameters()
                           if name.startswith("encoder.transformer.")]
            known = {id(parameter) for parameter in transformer}
            others = [parameter for parameter in model.parameters() if id(parameter) not in known]
            groups = [{"params": others, "lr": self.settings.learning_rate}]
            if transformer:
                groups.append({"params": transformer, "lr": encoder_rate})
            self._optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
        return self._optimizer

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
        batch = [as_example(item) for item in examples]
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        segments = self._plan([example.reference for example in batch]).windows
        if not segments:
            return losses
        model.train()
        with dropout_rate(model, drop):
            words = [batch[index].reference.words[start:end] for index, start, end in segments]
            logits, span_mask = model(words)
            targets, weights = span_targets(batch, segments, tuple(logits.shape), self.labels,
                                            self.settings.max_width, self.name, logits.device)
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
        docs = [as_example(item).reference for item in examples]
        segments = self._plan(docs).windows
        if not segments:
            return losses
        words = [docs[index].words[start:end] for index, start, end in segments]
        with torch.no_grad():
            teacher_logits, _ = teacher(words)
            target = torch.sigmoid(teacher_logits[..., :known])
        model.train()
        with dropout_rate(model, drop):
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
        # where the vectors and the transformer came from is not needed again: their files are saved
        encoder_settings = self.settings.encoder.to_config()
        encoder_settings.pop("vectors", None)
        encoder_settings.pop("model", None)
        vectors = getattr(model.encoder, "vectors", None)
        if vectors is not None:
            encoder_settings["vectors_width"] = vectors.dimensions
        meta = {"format": _FORMAT, "labels": self.labels, "encoder": encoder_settings}
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
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
        vectors_width = int(saved_encoder.pop("vectors_width", 0))
        encoder_settings = validate_encoder_settings(saved_encoder, f"{where}: {_MODEL_JSON} encoder")
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            for name, data in files.items():
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            model = self._build(encoder_settings, files=root, pretrained=False, vectors_width=vectors_width)
        try:
            state = load_tensors(files[_WEIGHTS])
            model.load_state_dict(state, strict=True)
        except (KeyError, RuntimeError) as error:
            raise ModelError(f"{where}: weights do not fit the model: {error}") from error
        model.eval()
        self.model = model.to(self.device)
        self._optimizer = None
        self._teacher = None

    def __repr__(self) -> str:
        return f"SpanNER(name={self.name!r}, labels={self.labels}, encoder={self.settings.encoder.architecture})"


@factories.register("elkit.SpanNER.v1", settings=SpanNERSettings)
def make_span_ner(name: str, settings: SpanNERSettings) -> SpanNER:
    """The trainable span-scoring entity recognizer (see :class:`elkit.ner.SpanNER`)."""
    return SpanNER(name, settings)
