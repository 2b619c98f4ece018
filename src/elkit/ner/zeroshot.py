"""``ZeroShotNER``: entities of any label set, given as names or descriptions, with no training for those labels.

::

    ner = ZeroShotNER(labels={"person": "a human being", "city": ""})
    ner.initialize()                          # or: elkit.load(...) a trained one
    labels = ner.encode_labels(["disease", "chemical"])   # encode once ...
    for doc in ner.pipe(docs, labels=labels): # ... reuse for every document
        ...

Spans and label texts are both encoded (:mod:`elkit.ner.zeroshot_model`); labels given at call time replace the
configured ones for that call. Long sentences and documents are scored in overlapping windows
(:mod:`elkit.ner.windows`). Probabilities are calibrated by one temperature that :meth:`ZeroShotNER.calibrate`
fits on held-out annotated examples. The settings are :class:`~elkit.ner.settings.ZeroShotNERSettings`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from elkit.batching import PredictThenAnnotate, batches
from elkit.devices import to_numpy
from elkit.doc import Doc, Example, Span
from elkit.errors import ConfigError, DataError, ModelError
from elkit.ner.calibration import Calibration, fit_temperature
from elkit.ner.encoders import TransformerEncoder, build_encoder
from elkit.ner.labels import LabelEncoder, LabelSet, label_entries
from elkit.ner.model import dropout_rate
from elkit.ner.persist import SavedAsFiles
from elkit.ner.settings import ZeroShotNERSettings
from elkit.ner.spans import SpanScores, as_example, decode_flat, span_targets
from elkit.ner.windows import WindowPlan, batches_by_words
from elkit.ner.zeroshot_files import MODEL_JSON, fingerprint, read_files, shipped_files, write_files
from elkit.ner.zeroshot_model import ZeroShotModel
from elkit.registry import factories
from elkit.settings import validate_settings

__all__ = ["LabelsArgument", "ZeroShotNER"]

_WORD_BUDGET = 4096  # words per forward pass

LabelsArgument = Sequence[str] | dict[str, str] | LabelSet | None
"""Labels for one call: names, names with descriptions, an encoded :class:`LabelSet`, or None (the configured)."""


class ZeroShotNER(SavedAsFiles, PredictThenAnnotate):
    """The zero-shot span recognizer.

    Args:
        name: The component's name in a pipeline.
        settings: The settings (:class:`~elkit.ner.settings.ZeroShotNERSettings`).
        **values: The settings as keyword values instead (``labels=["person"]``, ``threshold=0.4``).

    Raises:
        ConfigError: A bad setting, or both ``settings`` and values given.
    """

    def __init__(self, name: str = "ner", settings: ZeroShotNERSettings | None = None, **values: Any) -> None:
        if settings is not None and values:
            raise ConfigError(f"{name}: give settings or keyword values, not both")
        self.name = name
        self.settings = settings if settings is not None else validate_settings(ZeroShotNERSettings, values, name)
        self.label_entries = label_entries(self.settings.labels, name) if self.settings.labels else []
        self.temperature = self.settings.temperature or 1.0
        self.model: ZeroShotModel | None = None
        self.device = torch.device("cpu")
        self.label_encoder: LabelEncoder | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._teacher: ZeroShotModel | None = None
        self._teacher_labels: LabelSet | None = None

    # --- settings and state ------------------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The names of the configured labels (the ones used when a call gives none)."""
        return [name for name, _ in self.label_entries]

    @property
    def config(self) -> dict[str, Any]:
        """The settings as the factory takes them, with the current labels and fitted temperature."""
        config = {**self.settings.to_config(), "temperature": self.temperature}
        config["labels"] = {name: _description(name, text) for name, text in self.label_entries}
        return config

    @property
    def is_initialized(self) -> bool:
        """True once the model exists."""
        return self.model is not None

    def to_device(self, device: torch.device) -> None:
        """Run on ``device`` from now on: the model (and a rehearsal teacher) move there, the optimizer is rebuilt.

        A pipeline calls it with its resolved ``[nlp] device`` (see :mod:`elkit.devices`); label sets encoded
        before the move are moved when they are used.
        """
        self.device = device
        for model in (self.model, self._teacher):
            if model is not None:
                model.to(device)
        if self.label_encoder is not None:
            self.label_encoder.cache.clear()
        if self._teacher_labels is not None:
            self._teacher_labels = self.encode_labels(self._teacher_labels)
        self._optimizer = None

    def _require_model(self) -> ZeroShotModel:
        if self.model is None and self.settings.heads == "shipped":
            self.initialize()  # the shipped heads need no training: a config alone makes a working recognizer
        if self.model is None:
            raise ModelError(f"component {self.name!r} has no model yet: call initialize() or load a trained one")
        return self.model

    def _build(self, pretrained_heads: dict[str, torch.Tensor] | None = None) -> None:
        torch.manual_seed(self.settings.seed)
        encoder = build_encoder(self.settings.encoder)
        assert isinstance(encoder, TransformerEncoder)
        model = ZeroShotModel(encoder, self.settings)
        if pretrained_heads is not None:
            missing, unexpected = model.load_state_dict(pretrained_heads, strict=False)
            missing = [key for key in missing if not key.startswith("encoder.transformer.")]
            if missing or unexpected:
                raise ModelError(f"{self.name}: weights do not fit the model (missing {missing[:5]}, "
                                 f"unexpected {unexpected[:5]})")
        self.model = model.to(self.device)  # built and loaded on the CPU, then moved
        self.label_encoder = LabelEncoder(encoder.transformer, encoder.tokenizer, self.settings.label_max_length)
        self._optimizer = None
        self._teacher = None

    def initialize(self, get_examples: Callable[[], Iterable[Example | Doc]] | None = None, *,
                   labels: Sequence[str] | None = None) -> None:
        """Build the model (the shipped heads, or fresh ones: ``heads``) and add the examples' labels.

        A model that is already trained (loaded) keeps its weights: only the labels are added.
        """
        for label in labels or ():
            self.add_label(label)
        if get_examples is not None:
            for item in get_examples():
                example = as_example(item)
                for span in example.reference.ents:
                    self.add_label(span.label)
        if self.model is None and self.settings.heads == "shipped":
            if self.settings.encoder.model is not None:
                raise ConfigError(f"{self.name}: the shipped heads fit the default all-MiniLM-L6-v2 only; set "
                                  f"heads = \"random\" to train heads over {self.settings.encoder.model}")
            entries, temperature = list(self.label_entries), self.settings.temperature
            self._load_files(shipped_files(), "the shipped zero-shot heads")
            self.label_entries = entries
            self.temperature = temperature or self.temperature
        elif self.model is None:
            self._build()

    def add_label(self, label: str) -> int:
        """Add a label (its name is its text); returns 1 if it is new, 0 if it was known."""
        if not isinstance(label, str) or not label.strip():
            raise DataError(f"{self.name}: a label must be a non-empty string, got {label!r}")
        if label in self.labels:
            return 0
        self.label_entries.append((label, label))
        return 1

    # --- labels ------------------------------------------------------------------------------------------------

    def encode_labels(self, labels: LabelsArgument = None) -> LabelSet:
        """Encode labels once, for reuse in every later call (``pipe(docs, labels=encoded)``).

        Args:
            labels: Names, ``{name: description}``, an already encoded set (returned as it is, or moved to the
                component's device when it is elsewhere), or None for the configured labels. Texts longer than
                ``label_max_length`` subword tokens are cut.

        Raises:
            ConfigError: No labels, or a bad label.
        """
        if isinstance(labels, LabelSet):
            if labels.embeddings.device != self.device:
                return dataclasses.replace(labels, embeddings=labels.embeddings.to(self.device))
            return labels
        self._require_model()
        assert self.label_encoder is not None
        if labels is None:
            if not self.label_entries:
                raise ConfigError(f"{self.name}: no labels: give labels in the config or in the call")
            entries = self.label_entries
        else:
            entries = label_entries(labels, self.name)
        return self.label_encoder.label_set(entries)

    # --- prediction --------------------------------------------------------------------------------------------

    def _logits(self, model: ZeroShotModel, windows: Sequence[tuple[int, int, int]], docs: Sequence[Doc],
                embeddings: torch.Tensor) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """Logits of windows batched by word budget, shortest first: ``(window positions, logits, mask)``."""
        for batch in batches_by_words([end - start for _, start, end in windows], _WORD_BUDGET):
            words = [docs[windows[item][0]].words[windows[item][1]: windows[item][2]] for item in batch]
            logits, mask = model(words, embeddings)
            yield batch, logits, mask

    def predict(self, docs: Sequence[Doc], labels: LabelsArgument = None) -> list[SpanScores]:
        """Calibrated probabilities of every (span, label) of each document; the documents are not changed.

        Args:
            docs: The documents.
            labels: The labels for this call (see :meth:`encode_labels`); None: the configured ones.
        """
        model = self._require_model()
        label_set = self.encode_labels(labels)
        settings = self.settings
        plan = WindowPlan(docs, settings.context, settings.window, settings.window_overlap, settings.max_width)
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for batch, logits, mask in self._logits(model, plan.windows, docs, label_set.embeddings):
                    probabilities = torch.sigmoid(logits / self.temperature)
                    probabilities = to_numpy(probabilities.masked_fill(~mask.unsqueeze(-1), 0.0))
                    for row, item in enumerate(batch):
                        plan.add(item, probabilities[row])
        finally:
            model.train(was_training)
        found = plan.segments()
        return [SpanScores(tuple(segments), label_set.names) for segments in found]

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[SpanScores]) -> None:
        """Write the best non-overlapping spans to ``doc.ents`` (when ``flat``).

        With ``spans_key``, every span at or above the threshold also goes to ``doc.spans[spans_key]``.
        """
        settings = self.settings
        for doc, scores in zip(docs, predictions, strict=True):
            lowest = settings.threshold if settings.spans_threshold is None else settings.spans_threshold
            candidates = scores.spans(min(lowest, settings.threshold))
            if settings.spans_key is not None:
                doc.spans[settings.spans_key] = sorted(
                    (Span(doc, start, end, label, score=probability) for start, end, label, probability in candidates
                     if probability >= lowest),
                    key=lambda span: (span.start, span.end, span.label),
                )
            candidates = [item for item in candidates if item[3] >= settings.threshold]
            if settings.flat:
                doc.ents = decode_flat(doc, candidates, settings.overwrite_ents)

    def __call__(self, doc: Doc, labels: LabelsArgument = None) -> Doc:
        """Annotate one document with the configured labels or the ones given."""
        self.set_annotations([doc], self.predict([doc], labels))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128, labels: LabelsArgument = None) -> Iterator[Doc]:
        """Annotate documents in batches, lazily and in order; the labels are encoded once for the whole stream."""
        doc_batches = batches(docs, batch_size)
        label_set = self.encode_labels(labels)
        for batch in doc_batches:
            self.set_annotations(batch, self.predict(batch, label_set))
            yield from batch

    # --- learning ------------------------------------------------------------------------------------------------

    def make_optimizer(self) -> torch.optim.Optimizer:
        """The component's own AdamW over the trained parts (the transformer stays frozen)."""
        model = self._require_model()
        if self._optimizer is None:
            trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
            self._optimizer = torch.optim.AdamW(trained, lr=self.settings.learning_rate, weight_decay=0.01)
        return self._optimizer

    def _rows(self, docs: Sequence[Doc]) -> list[tuple[int, int, int]]:
        settings = self.settings
        return WindowPlan(docs, settings.context, settings.window, settings.window_overlap, settings.max_width).windows

    def update(
        self,
        examples: Iterable[Example | Doc],
        *,
        labels: LabelsArgument = None,
        label_sets: Sequence[Collection[str]] | None = None,
        drop: float | None = None,
        sgd: torch.optim.Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """One training step: every (span, label) of the batch against the gold spans.

        Args:
            examples: ``Example`` objects or gold ``Doc`` objects; their span labels must be among ``labels``.
            labels: The labels scored in this step (None: the configured ones). Training on many label sets with
                paraphrased names and sampled negative labels is what makes the model zero-shot.
            label_sets: Per example, the label names its annotation is complete for; the other labels get no
                loss on that example (a news corpus says nothing about diseases). None: every label.
            drop: Dropout rate for this step (None: the configured rate).
            sgd: An optimizer (None: the component's own).
            losses: Accumulates the loss under the component's name.

        Raises:
            DataError: A gold span with a label not in ``labels``, or ``label_sets`` of the wrong length.
        """
        model = self._require_model()
        batch = [as_example(item) for item in examples]
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        if label_sets is not None and len(label_sets) != len(batch):
            raise DataError(f"{self.name}: {len(label_sets)} label sets for {len(batch)} examples")
        label_set = self.encode_labels(labels)
        rows = self._rows([example.reference for example in batch])
        if not rows:
            return losses
        model.train()
        with dropout_rate(model, drop):
            words = [batch[index].reference.words[start:end] for index, start, end in rows]
            logits, span_mask = model(words, label_set.embeddings)
            targets, weights = span_targets(batch, rows, tuple(logits.shape), label_set.names,
                                            self.settings.max_width, self.name, logits.device)
            weights = weights * span_mask.unsqueeze(-1)
            if label_sets is not None:
                allowed = torch.tensor([[name in label_sets[index] for name in label_set.names]
                                        for index, _, _ in rows], dtype=weights.dtype, device=weights.device)
                weights = weights * allowed[:, None, None, :]
            loss = nn.functional.binary_cross_entropy_with_logits(logits, targets, weight=weights, reduction="sum")
            loss = loss / len(rows)
        self._step(model, loss, sgd)
        losses[self.name] += float(loss.detach())
        return losses

    def _step(self, model: ZeroShotModel, loss: torch.Tensor, sgd: torch.optim.Optimizer | None) -> None:
        optimizer = sgd or self.make_optimizer()
        optimizer.zero_grad()
        if loss.requires_grad:
            loss.backward()
            nn.utils.clip_grad_norm_([parameter for parameter in model.parameters() if parameter.requires_grad], 1.0)
            optimizer.step()

    def begin_rehearsal(self, labels: LabelsArgument = None) -> None:
        """Freeze a copy of the model as the teacher for :meth:`rehearse`, with the labels it keeps.

        Args:
            labels: The labels to keep (None: the configured ones).
        """
        model = self._require_model()
        self._teacher_labels = self.encode_labels(labels)
        self._teacher = copy.deepcopy(model).eval()

    def rehearse(self, examples: Iterable[Example | Doc], *, drop: float | None = None,
                 sgd: torch.optim.Optimizer | None = None, losses: dict[str, float] | None = None) -> dict[str, float]:
        """A step towards the teacher's own probabilities on raw documents, for the teacher's labels.

        Mixed with :meth:`update` on a few examples of new labels, it keeps the old labels from being forgotten.

        Returns:
            ``losses``, with the rehearsal loss under ``"rehearse_" + name``.
        """
        model = self._require_model()
        if self._teacher is None or self._teacher_labels is None:
            self.begin_rehearsal()
        assert self._teacher is not None and self._teacher_labels is not None
        key = f"rehearse_{self.name}"
        losses = {} if losses is None else losses
        losses.setdefault(key, 0.0)
        docs = [as_example(item).reference for item in examples]
        rows = self._rows(docs)
        if not rows:
            return losses
        words = [docs[index].words[start:end] for index, start, end in rows]
        embeddings = self._teacher_labels.embeddings
        with torch.no_grad():
            teacher_logits, _ = self._teacher(words, embeddings)
        model.train()
        with dropout_rate(model, drop):
            logits, span_mask = model(words, embeddings)
        weights = span_mask.unsqueeze(-1).expand_as(logits).float()
        loss = nn.functional.binary_cross_entropy_with_logits(
            logits, torch.sigmoid(teacher_logits), weight=weights, reduction="sum") / len(rows)
        self._step(model, loss, sgd)
        losses[key] += float(loss.detach())
        return losses

    def calibrate(self, examples: Iterable[Example | Doc], labels: LabelsArgument = None) -> Calibration:
        """Fit the temperature on held-out annotated examples (never the data you report) and keep it.

        Returns:
            The fitted temperature and the expected calibration error before and after.

        Raises:
            DataError: No annotated words to fit on.
        """
        return self.calibrate_groups([(examples, labels)])

    def calibrate_groups(self, groups: Sequence[tuple[Iterable[Example | Doc], LabelsArgument]]) -> Calibration:
        """Fit one temperature over groups of examples, each scored with its own labels (one group per corpus).

        Raises:
            DataError: No annotated words to fit on.
        """
        model = self._require_model()
        collected_logits, collected_targets = [], []
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for examples, labels in groups:
                    batch = [as_example(item) for item in examples]
                    label_set = self.encode_labels(labels)
                    docs = [example.reference for example in batch]
                    rows = self._rows(docs)
                    for positions, logits, mask in self._logits(model, rows, docs, label_set.embeddings):
                        chosen = [rows[position] for position in positions]
                        targets, weights = span_targets(batch, chosen, tuple(logits.shape), label_set.names,
                                                        self.settings.max_width, self.name, logits.device)
                        keep = (weights > 0) & mask.unsqueeze(-1)
                        collected_logits.append(logits[keep].cpu())  # the temperature is fitted on the CPU
                        collected_targets.append(targets[keep].cpu())
        finally:
            model.train(was_training)
        if not collected_logits:
            raise DataError(f"{self.name}: no annotated words to calibrate on")
        calibration = fit_temperature(torch.cat(collected_logits), torch.cat(collected_targets))
        self.temperature = calibration.temperature
        return calibration

    # --- saving ----------------------------------------------------------------------------------------------------

    def _files(self, half: bool = False) -> dict[str, bytes]:
        model = self._require_model()
        state = {name: tensor.half() if half and tensor.is_floating_point() else tensor
                 for name, tensor in model.trained_state().items()}  # on the CPU (`trained_state`)
        return write_files(state, self.label_entries, self.temperature, self.settings.to_config(), model.encoder)

    def _load_files(self, files: dict[str, bytes], where: str) -> None:
        meta, state = read_files(files, where)
        current = self.settings.to_config()
        chosen_model = current["encoder"].get("model")  # a transformer folder named here wins over the saved one
        current.update(meta.get("architecture", {}))
        if chosen_model is not None:
            current["encoder"] = {**current["encoder"], "model": chosen_model}
        self.settings = validate_settings(ZeroShotNERSettings, current, f"{where}: {MODEL_JSON}")
        try:
            self._build(state)
        except RuntimeError as error:
            raise ModelError(f"{where}: weights do not fit the model: {error}") from error
        assert self.model is not None
        if meta.get("transformer") != fingerprint(self.model.encoder):
            raise ModelError(f"{where}: the model was trained over another transformer than "
                             f"{self.settings.encoder.model or 'all-MiniLM-L6-v2'} (fingerprints differ)")
        self.label_entries = [(str(name), str(text)) for name, text in meta["labels"]]
        self.temperature = self.settings.temperature or float(meta["temperature"])
        self.model.eval()

    def to_disk(self, path: str | Path, *, half: bool = False) -> None:
        """Write ``model.json`` and ``weights.safetensors`` (the trained parts, in half precision with ``half``)."""
        self._write_folder(path, self._files(half))

    def __repr__(self) -> str:
        return f"ZeroShotNER(name={self.name!r}, labels={self.labels})"


def _description(name: str, text: str) -> str:
    prefix = f"{name}: "
    return text[len(prefix):] if text.startswith(prefix) else ""


@factories.register("elkit.ZeroShotNER.v1", settings=ZeroShotNERSettings)
def make_zero_shot_ner(name: str, settings: ZeroShotNERSettings) -> ZeroShotNER:
    """The zero-shot span recognizer (see :class:`elkit.ner.ZeroShotNER`)."""
    return ZeroShotNER(name, settings)
