"""Cross-encoder reranking of a linker's best candidates (the optional last layer, as GLiNKER's L4).

The encoder (the default MiniLM unless another local model folder is given) reads each (mention in context,
entity text) pair jointly and a linear head turns the mean-pooled output into a score. A listwise cross-entropy
over each mention's candidates trains it, on its own or (``residual``) as a correction added to the first stage's
log-probabilities. The head starts at zero, so an untrained reranker changes nothing. After training, two
weights (first stage, reranker) are fitted on held-out mentions (the dev set when there is one), so the combined
probabilities stay calibrated.

Files: ``encoder/`` (Hugging Face folder, safetensors), ``head.safetensors`` and ``reranker.json``.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import torch
from safetensors.torch import load_file, save_file

from elkit.doc import Doc, Span
from elkit.errors import ModelError
from elkit.linking.context import sentence_bounds
from elkit.settings import Settings

__all__ = ["CrossEncoderReranker", "RerankItem", "RerankerSettings", "mention_context"]

_CONFIG = "reranker.json"
_HEAD = "head.safetensors"
_ENCODER = "encoder"
_TITLE_WORDS = 24
_SIDE_WORDS = 40


class RerankerSettings(Settings):
    """The linker's ``[reranker]`` section: which candidates are reranked, and how the reranker is trained.

    Attributes:
        top_k: Candidates reranked per mention (the first stage's best).
        max_candidates: (mention, entity) pairs per forward pass.
        skip_above: A first-stage probability at which a mention is not reranked.
        base_model: The local model folder to fine-tune (None: the default encoder).
        max_length: The longest pair in subword tokens.
        epochs: Fine-tuning passes (0: no fine-tuning by ``elkit train``).
        learning_rate: Peak AdamW rate of the fine-tuning.
        batch_size: Mentions per fine-tuning step.
        held_out_share: Share of the training documents kept out of fine-tuning to fit the combination weights
            on, when there is no dev set (the config key ``held_out`` is read as well).
        max_mentions: Fine-tune on at most this many mentions, sampled (0: all).
        residual: Train the scores as a correction added to the first stage's log-probabilities.
    """

    top_k: int = pydantic.Field(4, ge=2)
    max_candidates: int = pydantic.Field(32, ge=1)
    skip_above: float = 1.0
    base_model: str | None = None
    max_length: int = pydantic.Field(128, ge=8)
    epochs: int = pydantic.Field(1, ge=0)
    learning_rate: float = pydantic.Field(3e-5, gt=0.0)
    batch_size: int = pydantic.Field(8, ge=1)
    held_out_share: float = pydantic.Field(
        0.1, ge=0.0, lt=1.0, validation_alias=pydantic.AliasChoices("held_out_share", "held_out"))
    max_mentions: int = pydantic.Field(0, ge=0)
    residual: bool = False


@dataclass
class RerankItem:
    """One mention to rerank.

    Attributes:
        context: The mention in its context (see :func:`mention_context`).
        entities: The text of each candidate entity.
        first_stage: The first stage's log-probability of each candidate.
        gold: Index of the right candidate (training and held-out items only; -1 when unknown).
    """

    context: str
    entities: list[str]
    first_stage: np.ndarray
    gold: int = -1


def mention_context(doc: Doc, span: Span, n_sents: int = 0) -> str:
    """The text the reranker reads for a mention.

    That is the document's first sentence (its headline in news) when the mention is not in it, then the mention's
    sentence (and ``n_sents`` either side, cut to 40 words each side) with the mention between square brackets.
    """
    bounds = sentence_bounds(doc)
    index = next((number for number, (start, end) in enumerate(bounds) if start <= span.start < end), 0)
    low = bounds[max(0, index - n_sents)][0] if bounds else 0
    high = bounds[min(len(bounds) - 1, index + n_sents)][1] if bounds else len(doc)
    words = doc.words
    left = words[max(low, span.start - _SIDE_WORDS): span.start]
    right = words[span.end: min(high, span.end + _SIDE_WORDS)]
    text = " ".join([*left, "[", *words[span.start: span.end], "]", *right])
    if bounds and index > 0:
        title = " ".join(words[bounds[0][0]: min(bounds[0][1], bounds[0][0] + _TITLE_WORDS)])
        text = f"{title} | {text}"
    return text


class CrossEncoderReranker:
    """Scores (mention in context, entity text) pairs with a fine-tuned cross-encoder.

    Args:
        model: A local Hugging Face model folder, or None for the default encoder (all-MiniLM-L6-v2).
        max_length: Longest pair in subword tokens (the context side is cut first).
        device: Where it runs: a torch device or its name.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, max_length: int = 128,
                 device: str | torch.device = "cpu") -> None:
        from elkit.encoders import default_model_path

        self.model_path = default_model_path() if model is None else Path(model)
        self.max_length = max_length
        self.device = device
        self.weights = (1.0, 1.0)  # first stage, reranker
        self.report: dict[str, Any] = {}
        self._tokenizer: Any = None
        self._encoder: Any = None
        self._head: torch.nn.Linear | None = None

    # --- model ----------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._encoder is not None:
            return
        from elkit.encoders.transformers import load_transformer

        self._tokenizer, encoder = load_transformer(self.model_path)
        self._encoder = encoder.to(self.device)
        self._head = torch.nn.Linear(int(self._encoder.config.hidden_size), 1).to(self.device)
        torch.nn.init.zeros_(self._head.weight)
        torch.nn.init.zeros_(self._head.bias)
        self._encoder.eval()

    def to_device(self, device: str | torch.device) -> None:
        """Run on ``device`` from now on (a loaded encoder and head move there)."""
        self.device = device
        if self._encoder is not None and self._head is not None:
            self._encoder.to(device)
            self._head.to(device)

    def _pair_scores(self, contexts: Sequence[str], entities: Sequence[str]) -> torch.Tensor:
        encoded = self._tokenizer(list(contexts), list(entities), padding=True, truncation="only_first",
                                  max_length=self.max_length, return_tensors="pt").to(self.device)
        hidden = self._encoder(**encoded).last_hidden_state  # [pairs, length, dim]
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return self._head(pooled).squeeze(-1)  # type: ignore[misc]

    def scores(self, items: Sequence[RerankItem], max_candidates: int = 32,
               progress: Callable[[int], None] | None = None) -> list[np.ndarray]:
        """The reranker's raw score of every candidate of every item, in chunks of `max_candidates` pairs.

        Pairs are sorted by length first, so a chunk holds pairs of similar length (less padding).
        """
        self._load()
        pairs = [(number, row) for number, item in enumerate(items) for row in range(len(item.entities))]
        pairs.sort(key=lambda pair: -len(items[pair[0]].context) - len(items[pair[0]].entities[pair[1]]))
        output = [np.zeros(len(item.entities), dtype=np.float32) for item in items]
        self._encoder.eval()
        with torch.inference_mode():
            for start in range(0, len(pairs), max(1, max_candidates)):
                chunk = pairs[start: start + max(1, max_candidates)]
                values = self._pair_scores([items[number].context for number, _ in chunk],
                                           [items[number].entities[row] for number, row in chunk]).float().cpu()
                for (number, row), value in zip(chunk, values.tolist(), strict=True):
                    output[number][row] = value
                if progress is not None:
                    progress(len(chunk))
        return output

    def combine(self, items: Sequence[RerankItem], scores: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Probabilities over each item's candidates from the first stage and the reranker's scores."""
        first_weight, rerank_weight = self.weights
        output = []
        for item, score in zip(items, scores, strict=True):
            logits = first_weight * item.first_stage.astype(np.float64) + rerank_weight * score
            logits -= logits.max()
            values = np.exp(logits)
            output.append((values / values.sum()).astype(np.float32))
        return output

    # --- training -------------------------------------------------------------------------------------------

    def fit(self, train: Sequence[RerankItem], held_out: Sequence[RerankItem], *, epochs: int = 1,
            learning_rate: float = 3e-5, batch_size: int = 8, residual: bool = False, seed: int = 0,
            progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Fine-tune on `train` (items with a gold index), then fit the combination weights on `held_out`.

        Args:
            train: Training items.
            held_out: Items for the combination weights and the report (not trained on).
            epochs: Passes over `train`.
            learning_rate: Peak AdamW rate (linear warm-up over the first 10% of steps, then linear decay).
            batch_size: Mentions per step.
            residual: Train the scores as a correction added to the first stage's log-probabilities.
            seed: Shuffling and initialisation seed.
            progress: Called with the number of mentions done after each step.

        Returns:
            A report: items, steps, the held-out accuracy of the first stage alone and combined, the weights.
        """
        torch.manual_seed(seed)
        self._load()
        usable = [item for item in train if 0 <= item.gold < len(item.entities) and len(item.entities) > 1]
        parameters = [*self._encoder.parameters(), *self._head.parameters()]  # type: ignore[union-attr]
        optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=0.01)
        steps = max(1, epochs * math.ceil(len(usable) / batch_size))
        warmup = max(1, steps // 10)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))))
        rng = random.Random(seed)
        order = list(range(len(usable)))
        losses: list[float] = []
        self._encoder.train()
        for _ in range(epochs):
            rng.shuffle(order)
            for start in range(0, len(order), batch_size):
                batch = [usable[index] for index in order[start: start + batch_size]]
                flat = self._pair_scores([item.context for item in batch for _ in item.entities],
                                         [entity for item in batch for entity in item.entities])
                loss = torch.zeros((), device=self.device)
                offset = 0
                for item in batch:
                    count = len(item.entities)
                    logits = flat[offset: offset + count]
                    if residual:
                        logits = logits + torch.as_tensor(item.first_stage, dtype=flat.dtype, device=self.device)
                    loss = loss - torch.log_softmax(logits, dim=0)[item.gold]
                    offset += count
                loss = loss / len(batch)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
                if progress is not None:
                    progress(len(batch))
        self._encoder.eval()
        report = self.fit_weights(held_out)
        report.update(train_items=len(usable), steps=len(losses),
                      final_loss=round(float(np.mean(losses[-50:])), 4) if losses else None)
        self.report = report
        return report

    def fit_weights(self, held_out: Sequence[RerankItem]) -> dict[str, Any]:
        """Fit the two weights that combine the first stage and the reranker on held-out items (with gold).

        Also used on its own to put an already fine-tuned reranker on top of a retrained first stage.

        When the combination gets fewer of the items right than the first stage alone, the reranker's weight is
        set to 0 and the linker stops calling it (`active`).

        Returns:
            A report: how many items, first-stage and combined accuracy on them (before any switch-off), the
            weights, and whether the reranker stays active.
        """
        items = [item for item in held_out if 0 <= item.gold < len(item.entities) and len(item.entities) > 1]
        if not items:
            self.weights = (1.0, 1.0)
            return {"held_out_items": 0, "weights": list(self.weights), "active": self.active}
        scores = self.scores(items)
        width = max(len(item.entities) for item in items)
        first = torch.full((len(items), width), -1e4, dtype=torch.float64)
        second = torch.zeros((len(items), width), dtype=torch.float64)
        for row, (item, score) in enumerate(zip(items, scores, strict=True)):
            first[row, : len(item.entities)] = torch.as_tensor(item.first_stage, dtype=torch.float64)
            second[row, : len(item.entities)] = torch.as_tensor(score, dtype=torch.float64)
        gold = torch.as_tensor([item.gold for item in items])
        weights = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([weights], max_iter=100)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(weights[0] * first + weights[1] * second, gold)
            loss = loss + 0.01 * ((weights - 1.0) ** 2).sum()  # few held-out items must not give wild weights
            loss.backward()
            return loss

        optimizer.step(closure)
        fitted = weights.detach().tolist()
        if not all(math.isfinite(value) for value in fitted):
            fitted = [1.0, 1.0]
        fitted = [min(max(value, 0.0), 10.0) for value in fitted]
        self.weights = (float(fitted[0]), float(fitted[1]))
        first_right = sum(int(np.argmax(item.first_stage) == item.gold) for item in items)
        combined = self.combine(items, scores)
        both_right = sum(int(np.argmax(values) == item.gold) for item, values in zip(items, combined, strict=True))
        report = {"held_out_items": len(items), "held_out_first_stage_accuracy": round(first_right / len(items), 4),
                  "held_out_reranked_accuracy": round(both_right / len(items), 4)}
        if both_right < first_right:
            # a reranker that gets fewer held-out items right than the first stage alone is switched off
            self.weights = (1.0, 0.0)
        return {**report, "weights": [round(value, 4) for value in self.weights], "active": self.active}

    @property
    def active(self) -> bool:
        """False when the fitted weights give the reranker no say (the linker then skips it)."""
        return self.weights[1] > 0.0

    # --- saving ---------------------------------------------------------------------------------------------

    def to_disk(self, path: str | Path) -> None:
        """Write the fine-tuned encoder, the head and the settings into the folder `path`."""
        self._load()
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        self._encoder.save_pretrained(directory / _ENCODER, safe_serialization=True)
        self._tokenizer.save_pretrained(directory / _ENCODER)
        save_file({key: value.detach().contiguous().cpu()
                   for key, value in self._head.state_dict().items()}, str(directory / _HEAD))  # type: ignore[union-attr]
        (directory / _CONFIG).write_text(json.dumps({
            "max_length": self.max_length, "weights": list(self.weights), "report": self.report,
        }, indent=2), encoding="utf-8")

    @classmethod
    def from_disk(cls, path: str | Path, device: str | torch.device = "cpu") -> CrossEncoderReranker:
        """Load a reranker written by :meth:`to_disk` onto ``device``."""
        directory = Path(path)
        if not (directory / _CONFIG).is_file() or not (directory / _HEAD).is_file():
            raise ModelError(f"{directory}: not a reranker folder (no {_CONFIG} or {_HEAD})")
        try:
            settings = json.loads((directory / _CONFIG).read_text(encoding="utf-8"))
            weights = [float(value) for value in settings["weights"]]
        except (ValueError, KeyError, TypeError) as error:
            raise ModelError(f"{directory / _CONFIG}: damaged reranker settings ({error})") from None
        reranker = cls(directory / _ENCODER, max_length=int(settings.get("max_length", 128)), device=device)
        reranker.weights = (weights[0], weights[1])
        reranker.report = dict(settings.get("report", {}))
        reranker._load()
        state = load_file(str(directory / _HEAD))
        try:
            reranker._head.load_state_dict(state)  # type: ignore[union-attr]
        except RuntimeError as error:
            raise ModelError(f"{directory / _HEAD}: the head does not fit the encoder ({error})") from None
        return reranker
