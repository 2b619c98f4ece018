"""The linker's scorer stage: a listwise ranker over a mention's candidates plus a NIL option.

Per candidate it combines the hand-made features (prior, popularity, string similarity, context cosines,
coherence), a learned weight for the pair (NER label, entity type), and two learned bilinear context scores
(mention context × entity text vector, mention context × entity context vector). A softmax over the candidates
and one NIL logit gives calibrated probabilities that sum to one.

`make_batch` pads a list of `LinkInput` records into a `LinkBatch`; `score` runs the scorer over them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from elkit.devices import module_device, to_numpy
from elkit.linking.features import FEATURES, NIL_FEATURES, LinkInput, feature_masks

__all__ = ["LinkBatch", "LinkScorer", "make_batch", "new_scorer", "pair_count", "probabilities_from_logits",
           "score"]


class LinkBatch:
    """Padded tensors for B mentions with up to C candidates each.

    Attributes:
        features: [B, C, F] candidate features.
        type_pairs: [B, C] index of the (label, entity type) pair (0: unknown).
        contexts: [B, 2, D] local and document context vectors.
        entity_text: [B, C, D] entity text vectors.
        entity_context: [B, C, D] learned entity context vectors (zeros when none).
        mask: [B, C] True for real candidates.
        nil_features: [B, G] mention-level features for the NIL logit.
        labels: [B] label index (0: unknown).
    """

    def __init__(self, features: torch.Tensor, type_pairs: torch.Tensor, contexts: torch.Tensor,
                 entity_text: torch.Tensor, entity_context: torch.Tensor, mask: torch.Tensor,
                 nil_features: torch.Tensor, labels: torch.Tensor) -> None:
        self.features = features
        self.type_pairs = type_pairs
        self.contexts = contexts
        self.entity_text = entity_text
        self.entity_context = entity_context
        self.mask = mask
        self.nil_features = nil_features
        self.labels = labels

    def to(self, device: torch.device) -> LinkBatch:
        """The same batch with every tensor on ``device``."""
        return LinkBatch(*(tensor.to(device) for tensor in (
            self.features, self.type_pairs, self.contexts, self.entity_text, self.entity_context, self.mask,
            self.nil_features, self.labels)))


class LinkScorer(nn.Module):
    """Logits [B, C + 1] for B mentions: C candidates, then NIL.

    Args:
        n_features: Candidate features per candidate.
        n_nil_features: Mention-level features.
        n_type_pairs: Size of the (label, type) pair table.
        n_labels: Size of the label table.
        dim: Context vector width (0 disables the bilinear scores).
        hidden: Hidden width of the candidate MLP.
        projection: Width of the bilinear projections.
        dropout: Dropout rate in the MLP.
        features_off: Feature groups the scorer never sees (`FEATURE_GROUPS`; their columns are zeroed).
    """

    def __init__(self, n_features: int, n_nil_features: int, n_type_pairs: int, n_labels: int, dim: int,
                 hidden: int = 64, projection: int = 64, dropout: float = 0.1, features_off: Sequence[str] = ()
                 ) -> None:
        super().__init__()
        candidate_mask, nil_mask, self.use_types = feature_masks(features_off)
        self.register_buffer("feature_mask", torch.from_numpy(candidate_mask[:n_features]), persistent=False)
        self.register_buffer("nil_mask", torch.from_numpy(nil_mask[:n_nil_features]), persistent=False)
        self.dim = dim
        self.projection = projection
        self.type_pair = nn.Embedding(max(1, n_type_pairs), 4)
        nn.init.zeros_(self.type_pair.weight)
        self.label_nil = nn.Embedding(max(1, n_labels), 1)
        nn.init.zeros_(self.label_nil.weight)
        if dim:
            self.context_projection = nn.Linear(dim, projection, bias=False)
            self.entity_projection = nn.Linear(dim, projection, bias=False)
        bilinear = 4 if dim else 0
        self.mlp = nn.Sequential(
            nn.Linear(n_features + 4 + bilinear, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1),
        )
        self.nil = nn.Linear(n_nil_features, 1)
        # added to the NIL logit at inference only; fitted on dev data after training (`calibrate_nil`)
        self.register_buffer("nil_bias", torch.zeros(1))

    @property
    def device(self) -> torch.device:
        """Where the scorer's weights are (its batches go there)."""
        return module_device(self)

    def forward(self, batch: LinkBatch) -> torch.Tensor:
        """Return [B, C + 1] logits; padded candidates get a very low logit."""
        type_weights = self.type_pair(batch.type_pairs)
        parts = [batch.features * self.feature_mask, type_weights if self.use_types else type_weights * 0.0]
        if self.dim:
            contexts = self.context_projection(batch.contexts)  # [B, 2, P]
            scale = 1.0 / math.sqrt(self.projection)
            for entity in (batch.entity_text, batch.entity_context):
                projected = self.entity_projection(entity)  # [B, C, P]
                parts.append(torch.einsum("bcp,bwp->bcw", projected, contexts) * scale)  # [B, C, 2]
        scores = self.mlp(torch.cat(parts, dim=-1)).squeeze(-1)  # [B, C]
        scores = scores.masked_fill(~batch.mask, -1e4)
        nil = self.nil(batch.nil_features * self.nil_mask) + self.label_nil(batch.labels)  # [B, 1]
        if not self.training:
            nil = nil + self.nil_bias
        return torch.cat([scores, nil], dim=-1)


def pair_count(labels: Sequence[str], types: Sequence[str]) -> int:
    """The size of the scorer's (label, entity type) pair table."""
    return 1 + len(labels) * len(types)


def new_scorer(labels: Sequence[str], types: Sequence[str], dim: int, *, hidden_width: int, projection: int,
               dropout: float, features_off: Sequence[str] = ()) -> LinkScorer:
    """A scorer with fresh weights for these labels and types (``projection`` 0: the default width, 64)."""
    return LinkScorer(len(FEATURES), len(NIL_FEATURES), pair_count(labels, types), len(labels), dim,
                      hidden=hidden_width, projection=projection or 64, dropout=dropout, features_off=features_off)


def make_batch(inputs: Sequence[LinkInput], dim: int, pairs: int, device: torch.device | None = None) -> LinkBatch:
    """Pad the inputs of B mentions (at least one) into tensors.

    Args:
        inputs: The mentions' inputs.
        dim: The scorer's context width (0: no vectors in the batch).
        pairs: The size of the pair table (larger pair indices are clipped to the last one).
        device: Where the scorer is (None: the CPU); the batch is padded in NumPy, then moved there.
    """
    size = len(inputs)
    width = max(1, max(len(item.candidates) for item in inputs))
    features = np.zeros((size, width, len(FEATURES)), dtype=np.float32)
    type_pairs = np.zeros((size, width), dtype=np.int64)
    mask = np.zeros((size, width), dtype=bool)
    text = np.zeros((size, width, dim), dtype=np.float32)
    learned = np.zeros((size, width, dim), dtype=np.float32)
    contexts = np.zeros((size, 2, dim), dtype=np.float32)
    nil = np.zeros((size, len(NIL_FEATURES)), dtype=np.float32)
    labels = np.zeros(size, dtype=np.int64)
    for row, item in enumerate(inputs):
        count = len(item.candidates)
        features[row, :count] = item.features
        type_pairs[row, :count] = np.minimum(item.type_pairs, pairs - 1)
        mask[row, :count] = True
        if dim and count:
            text[row, :count] = item.text_vectors
            learned[row, :count] = item.learned
            contexts[row] = item.contexts
        nil[row] = item.nil
        labels[row] = item.label
    batch = LinkBatch(torch.from_numpy(features), torch.from_numpy(type_pairs), torch.from_numpy(contexts),
                      torch.from_numpy(text), torch.from_numpy(learned), torch.from_numpy(mask),
                      torch.from_numpy(nil), torch.from_numpy(labels))
    return batch if device is None else batch.to(device)


def probabilities_from_logits(logits: torch.Tensor, inputs: Sequence[LinkInput]) -> list[np.ndarray]:
    """Each mention's probabilities (its candidates, then NIL) from the batch's [B, C + 1] logits."""
    logits = logits.detach().cpu()  # one copy from the device; each row's softmax is small
    return [to_numpy(torch.softmax(torch.cat([logits[row, : len(item.candidates)], logits[row, -1:]]), dim=0))
            for row, item in enumerate(inputs)]


def score(model: LinkScorer, inputs: Sequence[LinkInput], pairs: int, batch_size: int = 512) -> list[np.ndarray]:
    """Each mention's probabilities (candidates, then NIL), in chunks of `batch_size`, under inference mode."""
    output: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            chunk = inputs[start: start + batch_size]
            output.extend(probabilities_from_logits(model(make_batch(chunk, model.dim, pairs, model.device)), chunk))
    return output
