"""Label texts for the zero-shot recognizer: checking them, encoding them once, and keeping them for reuse.

A label is a name ("person") or a name with a short description ("person: a human being, real or fictional").
Its text goes through the frozen transformer (mean-pooled, unit length, like a sentence embedding); the trained
label projection of :mod:`elkit.ner.zeroshot_model` turns that into the row spans are scored against. Since the
transformer never changes, a text's embedding is computed once and cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from elkit.devices import module_device
from elkit.errors import ConfigError

__all__ = ["LabelEncoder", "LabelSet", "label_entries"]


def label_entries(labels: Any, where: str) -> list[tuple[str, str]]:
    """``(name, text)`` for each label: the text is the name, or "name: description".

    Args:
        labels: A sequence of names, or a mapping of names to descriptions (an empty description means the name
            alone).
        where: What the labels belong to, for messages.

    Raises:
        ConfigError: No labels, an empty or non-text name or description, or a name given twice.
    """
    if isinstance(labels, str):
        raise ConfigError(f"{where}: labels must be a list of names or a table of names to descriptions, "
                          f"not the single string {labels!r}")
    if isinstance(labels, Mapping):
        pairs = list(labels.items())
    elif isinstance(labels, Sequence):
        pairs = [(label, "") for label in labels]
    else:
        raise ConfigError(f"{where}: labels must be a list or a table, got {type(labels).__name__}")
    if not pairs:
        raise ConfigError(f"{where}: the label list is empty: give at least one label name")
    entries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, description in pairs:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: a label name must be a non-empty string, got {name!r}")
        if not isinstance(description, str):
            raise ConfigError(f"{where}: the description of label {name!r} must be a string, got "
                              f"{type(description).__name__}")
        if name in seen:
            raise ConfigError(f"{where}: label {name!r} is given twice")
        seen.add(name)
        description = " ".join(description.split())
        entries.append((name, f"{name}: {description}" if description else name))
    return entries


@dataclass(frozen=True)
class LabelSet:
    """Encoded labels, ready to score spans against: build once with ``ZeroShotNER.encode_labels``, reuse.

    Attributes:
        names: Label names, as they are written on spans.
        texts: The texts that were encoded.
        embeddings: ``[labels, transformer width]`` frozen text embeddings.
    """

    names: tuple[str, ...]
    texts: tuple[str, ...]
    embeddings: torch.Tensor

    def __len__(self) -> int:
        return len(self.names)


class LabelEncoder:
    """Encode label texts with a frozen transformer, caching every text it has seen.

    Args:
        transformer: The (frozen) Hugging Face model.
        tokenizer: Its tokenizer.
        max_length: Texts are cut to this many subword tokens.
    """

    def __init__(self, transformer: torch.nn.Module, tokenizer: Any, max_length: int) -> None:
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.cache: dict[str, torch.Tensor] = {}
        self.encoded = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """``[len(texts), width]`` unit-length embeddings (where the transformer is); new texts go through it."""
        missing = list(dict.fromkeys(text for text in texts if text not in self.cache))
        device = module_device(self.transformer)
        if missing:
            was_training = self.transformer.training
            self.transformer.eval()
            try:
                with torch.inference_mode():
                    for start in range(0, len(missing), batch_size):
                        batch = missing[start: start + batch_size]
                        encoded = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                                 return_tensors="pt").to(device)
                        hidden = self.transformer(**encoded).last_hidden_state
                        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                        vectors = torch.nn.functional.normalize(pooled, dim=-1)
                        for text, vector in zip(batch, vectors, strict=True):
                            self.cache[text] = vector.clone()
                        self.encoded += len(batch)
            finally:
                self.transformer.train(was_training)
        if not texts:
            return torch.zeros(0, int(self.transformer.config.hidden_size), device=device)
        return torch.stack([self.cache[text] for text in texts])

    def label_set(self, entries: Sequence[tuple[str, str]]) -> LabelSet:
        """A :class:`LabelSet` for ``(name, text)`` entries."""
        names = tuple(name for name, _ in entries)
        texts = tuple(text for _, text in entries)
        return LabelSet(names, texts, self.encode(texts))
