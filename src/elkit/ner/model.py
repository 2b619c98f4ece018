"""The span-scoring model: encoder → word vectors → span vectors → scores against a label matrix.

Every span of up to ``max_width`` words gets a vector built from its start word, end word, mean and width;
each (span, label) pair gets a logit ``span_vector · label_vector + label_bias`` and its probability is the
sigmoid of it. The label matrix is its own module (:class:`LabelMatrix`), so that learned label rows can be
grown for a new label, or replaced by encoded label texts for zero-shot labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from elkit.ner.encoders import Encoder

__all__ = ["LabelMatrix", "SpanHead", "SpanModel", "dropout_rate"]


class LabelMatrix(nn.Module):
    """One learned row (and bias) per label.

    Args:
        labels: Number of labels.
        width: Row width (the span vector width).
    """

    def __init__(self, labels: int, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(labels, width) * 0.02)
        self.bias = nn.Parameter(torch.full((labels,), -2.0))

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The matrix ``[labels, width]`` and biases ``[labels]``."""
        return self.weight, self.bias

    def grow(self, count: int = 1) -> None:
        """Add ``count`` rows for new labels, initialised near the mean of the existing rows."""
        with torch.no_grad():
            width = self.weight.shape[1]
            device = self.weight.device
            mean = (self.weight.mean(dim=0, keepdim=True) if self.weight.shape[0]
                    else torch.zeros(1, width, device=device))
            # drawn on the CPU, so that a new label's row is the same on every device
            rows = mean.repeat(count, 1) + (torch.randn(count, width) * 0.02).to(device)
            self.weight = nn.Parameter(torch.cat([self.weight.detach(), rows]))
            self.bias = nn.Parameter(torch.cat([self.bias.detach(), torch.full((count,), -2.0, device=device)]))


class SpanHead(nn.Module):
    """Span vectors from word vectors, scored against a :class:`LabelMatrix`.

    Args:
        input_width: Word vector width.
        hidden_width: Span vector width.
        max_width: Longest span, in words.
        labels: Number of labels.
        dropout: Dropout on span vectors while training.
    """

    def __init__(self, input_width: int, hidden_width: int, max_width: int, labels: int, dropout: float) -> None:
        super().__init__()
        self.max_width = max_width
        self.start = nn.Linear(input_width, hidden_width)
        self.end = nn.Linear(input_width, hidden_width, bias=False)
        self.inside = nn.Linear(input_width, hidden_width, bias=False)
        self.width_embedding = nn.Embedding(max_width, hidden_width)
        self.hidden = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_width, hidden_width), nn.GELU())
        self.labels = LabelMatrix(labels, hidden_width)

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[batch, length, max_width, labels]`` (span starting at word i, width w + 1) and their mask."""
        spans, span_mask = self.span_vectors(vectors, mask)
        matrix, bias = self.labels()
        return spans @ matrix.T + bias, span_mask

    def span_vectors(self, vectors: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Span vectors ``[batch, length, max_width, hidden]`` (span at word i, width w + 1) and their mask."""
        batch, length, _ = vectors.shape
        width = min(self.max_width, max(length, 1))
        starts = self.start(vectors)
        ends = self.end(vectors)
        inside = self.inside(vectors)
        cumulative = torch.cat([torch.zeros_like(inside[:, :1]), inside.cumsum(dim=1)], dim=1)
        padding = torch.zeros(batch, width, ends.shape[-1], dtype=ends.dtype, device=ends.device)
        ends_padded = torch.cat([ends, padding], dim=1)
        cumulative_padded = torch.cat([cumulative, cumulative[:, -1:].expand(batch, width, -1)], dim=1)
        layers = []
        for offset in range(width):
            end_vectors = ends_padded[:, offset: offset + length]
            mean = (cumulative_padded[:, offset + 1: offset + 1 + length] - cumulative[:, :length]) / (offset + 1)
            layers.append(starts + end_vectors + mean + self.width_embedding.weight[offset])
        spans = self.hidden(torch.stack(layers, dim=2))
        lengths = mask.sum(dim=1)
        positions = torch.arange(length, device=mask.device).view(1, length, 1)
        offsets = torch.arange(width, device=mask.device).view(1, 1, width)
        span_mask = (positions + offsets) < lengths.view(batch, 1, 1)
        return spans, span_mask


class SpanModel(nn.Module):
    """Encoder plus span head.

    Args:
        encoder: Words → vectors.
        labels: Number of labels.
        hidden_width: Span vector width.
        max_width: Longest span, in words.
        dropout: Dropout in the head.
    """

    def __init__(self, encoder: Encoder, labels: int, hidden_width: int = 128, max_width: int = 10,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = SpanHead(encoder.width, hidden_width, max_width, labels, dropout)

    def forward(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[batch, length, width, labels]`` and the mask of real spans."""
        vectors, mask = self.encoder.encode(sentences)
        return self.head(vectors, mask)


class dropout_rate:
    """Set every dropout layer's rate for one step, then restore it (None: leave the configured rates)."""

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
