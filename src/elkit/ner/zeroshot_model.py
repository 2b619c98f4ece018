"""The zero-shot span model: a bi-encoder of spans and label texts over one frozen transformer.

Words go through the frozen transformer (all-MiniLM-L6-v2 by default) and a small trained adapter (a BiLSTM);
every span of up to ``max_width`` words gets a vector (start, end, mean, width; :class:`~elkit.ner.model.SpanHead`).
Label texts go through the same frozen transformer (:class:`~elkit.ner.labels.LabelEncoder`) and a trained
projection that gives each label a row and a bias. A (span, label) logit is ``span · row + bias``. Only the
adapter, the span head and the projection learn, so a saved model holds a few MB and any label text works.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from elkit.ner.encoders import TransformerEncoder
from elkit.ner.model import SpanHead
from elkit.ner.settings import ZeroShotNERSettings

__all__ = ["ZeroShotModel"]


class ZeroShotModel(nn.Module):
    """Span vectors scored against projected label-text embeddings.

    Args:
        encoder: The word encoder; its transformer is frozen here.
        settings: Widths, depth and dropout (:class:`~elkit.ner.settings.ZeroShotNERSettings`).
    """

    def __init__(self, encoder: TransformerEncoder, settings: ZeroShotNERSettings) -> None:
        super().__init__()
        encoder.freeze_transformer(cache=False)
        self.encoder = encoder
        width = encoder.width
        self.adapter = (
            nn.LSTM(width, width // 2, num_layers=settings.adapter_depth, bidirectional=True, batch_first=True)
            if settings.adapter_depth else None
        )
        self.adapter_norm = nn.LayerNorm(2 * (width // 2)) if self.adapter is not None else None
        adapted = 2 * (width // 2) if self.adapter is not None else width
        self.spans = SpanHead(adapted, settings.hidden_width, settings.max_width, 0, settings.dropout)
        text_width = int(encoder.transformer.config.hidden_size)
        hidden = settings.hidden_width
        self.label_projection = nn.Sequential(
            nn.Linear(text_width, hidden), nn.GELU(), nn.Dropout(settings.dropout), nn.Linear(hidden, hidden + 1)
        )
        with torch.no_grad():
            self.label_projection[-1].bias[-1] = -3.0  # most (span, label) pairs are not entities
        # weight of the cosine between a span's own transformer vectors and the label text's embedding: evidence
        # about what a label means that exists for labels never seen in training
        self.similarity_weight = nn.Parameter(torch.tensor(5.0))

    def project_labels(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Label rows ``[labels, hidden]`` and biases ``[labels]`` from label-text embeddings."""
        projected = self.label_projection(embeddings)
        return projected[:, :-1], projected[:, -1]

    def word_vectors(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Adapted word vectors ``[batch, length, width]``, the mask of real words, the transformer's own vectors."""
        raw, mask = self.encoder.transformer_vectors(sentences)
        vectors = self.encoder.project(sentences, raw, mask)
        if self.adapter is None or not vectors.shape[1]:
            return vectors, mask, raw
        lengths = mask.sum(dim=1).clamp(min=1).cpu()  # packing wants the lengths on the CPU
        packed = nn.utils.rnn.pack_padded_sequence(vectors, lengths, batch_first=True, enforce_sorted=False)
        output, _ = self.adapter(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=vectors.shape[1])
        assert self.adapter_norm is not None
        return self.adapter_norm(output + vectors[..., : output.shape[-1]]) * mask.unsqueeze(-1), mask, raw

    def forward(self, sentences: Sequence[Sequence[str]],
                label_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[batch, length, widths, labels]`` (span at word i, width w + 1) and the mask of real spans."""
        vectors, mask, raw = self.word_vectors(sentences)
        spans, span_mask = self.spans.span_vectors(vectors, mask)
        rows, biases = self.project_labels(label_embeddings)
        similarity = span_means(raw, spans.shape[2]) @ nn.functional.normalize(label_embeddings, dim=-1).T
        return spans @ rows.T + biases + self.similarity_weight * similarity, span_mask

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The weights that learn (everything but the frozen transformer), by name, on the CPU."""
        return {name: tensor.detach().cpu().contiguous() for name, tensor in self.state_dict().items()
                if not name.startswith("encoder.transformer.")}


def span_means(vectors: torch.Tensor, widths: int) -> torch.Tensor:
    """Unit-length means ``[batch, length, widths, hidden]`` of the vectors of every span (word i, width w + 1).

    Spans running past the end get the mean of what is there; the caller masks them.
    """
    batch, length, hidden = vectors.shape
    cumulative = torch.cat([torch.zeros(batch, 1, hidden, dtype=vectors.dtype, device=vectors.device),
                            vectors.cumsum(dim=1)], dim=1)
    padded = torch.cat([cumulative, cumulative[:, -1:].expand(batch, widths, hidden)], dim=1)
    means = [(padded[:, offset + 1: offset + 1 + length] - cumulative[:, :length]) / (offset + 1)
             for offset in range(widths)]
    return nn.functional.normalize(torch.stack(means, dim=2), dim=-1)
