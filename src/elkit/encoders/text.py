"""A sentence encoder: a Hugging Face transformer, mean-pooled and L2-normalised (sentence-transformers style)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from elkit.encoders.transformers import DEFAULT_ENCODER, load_transformer, resolve_model_path

__all__ = ["TextEncoder"]

class TextEncoder:
    """Encode texts into normalised vectors with a local transformer.

    Args:
        model: A local model folder, or None (or "all-MiniLM-L6-v2") for the default encoder.
        max_length: Longest input in subword tokens; longer texts are cut.
        device: A torch device name ("cpu", "cuda").
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, max_length: int = 64, device: str = "cpu") -> None:
        self.model_path = resolve_model_path(model)
        self.name = DEFAULT_ENCODER if model in (None, DEFAULT_ENCODER) else str(model)
        self.max_length = max_length
        self.device = device
        self._tokenizer = None
        self._model = None

    def _load(self) -> None:
        if self._model is not None:
            return
        self._tokenizer, model = load_transformer(self.model_path)
        self._model = model.to(self.device).eval()

    @property
    def dim(self) -> int:
        """The vector width."""
        self._load()
        return int(self._model.config.hidden_size)  # type: ignore[union-attr]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Encode texts, longest first in batches (less padding), and return them in input order.

        Args:
            texts: The texts.
            batch_size: Texts per forward pass.
            progress: Called with the number of texts done after each batch.

        Returns:
            [len(texts), dim] float32, each row of unit length.
        """
        self._load()
        output = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda position: -len(texts[position]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                output[batch] = self._encode_batch([texts[position] for position in batch])
                if progress is not None:
                    progress(len(batch))
        return output

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer(  # type: ignore[misc]
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        hidden = self._model(**encoded).last_hidden_state  # type: ignore[misc]  # [batch, length, dim]
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [batch, length, 1]
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # [batch, dim]
        return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
