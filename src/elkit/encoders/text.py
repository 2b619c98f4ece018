"""A sentence encoder: a Hugging Face transformer, mean-pooled and L2-normalised (sentence-transformers style)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from elkit.devices import to_numpy
from elkit.encoders.transformers import DEFAULT_ENCODER, load_transformer, resolve_model_path

__all__ = ["PAD_MULTIPLE", "TextEncoder"]

PAD_MULTIPLE = 4
"""Texts are padded to a multiple of this many tokens (see `TextEncoder.encode`)."""


class TextEncoder:
    """Encode texts into normalised vectors with a local transformer.

    Args:
        model: A local model folder, or None (or "all-MiniLM-L6-v2") for the default encoder.
        max_length: Longest input in subword tokens; longer texts are cut.
        device: Where the transformer runs: a torch device or its name ("cpu", "cuda:0"); vectors come back to
            the CPU as NumPy arrays.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, max_length: int = 64,
                 device: str | torch.device = "cpu") -> None:
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

    def to_device(self, device: str | torch.device) -> None:
        """Run on ``device`` from now on (a loaded transformer moves there)."""
        self.device = device
        if self._model is not None:
            self._model.to(device)

    @property
    def dim(self) -> int:
        """The vector width."""
        self._load()
        return int(self._model.config.hidden_size)  # type: ignore[union-attr]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Encode texts in batches of similar length, and return them in input order.

        Each text is padded to its own length rounded up to a multiple of `PAD_MULTIPLE` tokens and batched only
        with texts padded alike, so its vector does not depend on which other texts are encoded with it: the
        same text gives the same bits in any batch, process or worker (a shared padded length is what changes
        the last bits of a transformer's output, not the other rows of the batch).

        Args:
            texts: The texts.
            batch_size: Texts per forward pass.
            progress: Called with the number of texts done after each batch.

        Returns:
            [len(texts), dim] float32, each row of unit length.
        """
        self._load()
        output = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return output
        lengths = [len(ids) for ids in self._tokenizer(  # type: ignore[misc]
            list(texts), truncation=True, max_length=self.max_length)["input_ids"]]
        padded = [min(self.max_length, -(-length // PAD_MULTIPLE) * PAD_MULTIPLE) for length in lengths]
        order = sorted(range(len(texts)), key=lambda position: (-padded[position], position))
        with torch.inference_mode():
            start = 0
            while start < len(order):
                width = padded[order[start]]
                end = start
                while end < len(order) and end - start < batch_size and padded[order[end]] == width:
                    end += 1
                batch = order[start:end]
                output[batch] = self._encode_batch([texts[position] for position in batch], width)
                if progress is not None:
                    progress(len(batch))
                start = end
        return output

    def _encode_batch(self, texts: list[str], width: int) -> np.ndarray:
        encoded = self._tokenizer(  # type: ignore[misc]
            texts, padding="max_length", truncation=True, max_length=width, return_tensors="pt"
        ).to(self.device)
        hidden = self._model(**encoded).last_hidden_state  # type: ignore[misc]  # [batch, length, dim]
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [batch, length, 1]
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # [batch, dim]
        return to_numpy(torch.nn.functional.normalize(pooled, dim=-1))
