"""The general linker's scorer: a small listwise model over KB-independent features, and its saved form.

Each candidate gets a score from a linear term plus a small tanh layer over `GENERAL_FEATURES`; the NIL option
gets a linear score over `GENERAL_NIL_FEATURES`; a softmax over the candidates and NIL, divided by a temperature
fitted on held-out mentions, gives calibrated probabilities. The saved form is ``model.json`` (format, feature
names, temperature, what it was trained on) and ``weights.safetensors`` (a few kilobytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from elkit.devices import module_device, to_numpy
from elkit.errors import ModelError
from elkit.linking.general_features import GENERAL_FEATURES, GENERAL_NIL_FEATURES, GeneralInput

__all__ = ["FORMAT", "SHIPPED_GENERAL", "GeneralScorer", "load_scorer", "pad_inputs", "save_scorer", "scorer_files",
           "scorer_from_files"]

FORMAT = "elkit.GeneralLinker/1"
MODEL_JSON = "model.json"
WEIGHTS = "weights.safetensors"
SHIPPED_GENERAL = Path(__file__).resolve().parent / "shipped" / "general-linker"
"""The scorer shipped with elkit (README: what it was trained on)."""


class GeneralScorer(nn.Module):
    """Scores each candidate and the NIL option of a mention.

    Args:
        hidden_width: Width of the tanh layer.
    """

    def __init__(self, hidden_width: int = 32) -> None:
        super().__init__()
        self.hidden_width = hidden_width
        width = len(GENERAL_FEATURES)
        self.linear = nn.Linear(width, 1)
        self.hidden = nn.Sequential(nn.Linear(width, hidden_width), nn.Tanh(), nn.Linear(hidden_width, 1))
        self.nil = nn.Linear(len(GENERAL_NIL_FEATURES), 1, bias=False)
        self.register_buffer("temperature", torch.ones(()))
        # 0 for a feature that was 0 in every training example: its weights never learned anything, so it is
        # left out rather than let its initial random weights score the candidates of a KB where it varies
        self.register_buffer("feature_mask", torch.ones(width), persistent=False)
        self.register_buffer("nil_mask", torch.ones(len(GENERAL_NIL_FEATURES)), persistent=False)

    @property
    def unused_features(self) -> list[str]:
        """Names of the candidate and NIL features the scorer ignores (never seen non-zero in training)."""
        return ([name for name, keep in zip(GENERAL_FEATURES, self.feature_mask.tolist(), strict=True) if not keep]
                + [f"nil.{name}" for name, keep in zip(GENERAL_NIL_FEATURES, self.nil_mask.tolist(), strict=True)
                   if not keep])

    def set_unused_features(self, names: Sequence[str]) -> None:
        """Ignore these features (names as `unused_features` gives them).

        Raises:
            ModelError: A name that is not a feature.
        """
        known = set(GENERAL_FEATURES) | {f"nil.{name}" for name in GENERAL_NIL_FEATURES}
        unknown = sorted(set(names) - known)
        if unknown:
            raise ModelError(f"unused features {unknown} are not features of this version of elkit")
        self.feature_mask.copy_(torch.tensor([float(name not in names) for name in GENERAL_FEATURES]))
        self.nil_mask.copy_(torch.tensor([float(f"nil.{name}" not in names) for name in GENERAL_NIL_FEATURES]))

    def forward(self, features: torch.Tensor, mask: torch.Tensor, nil: torch.Tensor) -> torch.Tensor:
        """Logits [M, C + 1] (padding rows at -inf, NIL last) before the temperature.

        Args:
            features: [M, C, len(GENERAL_FEATURES)], padded.
            mask: [M, C], True for real candidates.
            nil: [M, len(GENERAL_NIL_FEATURES)].
        """
        features = features * self.feature_mask
        scores = (self.linear(features) + self.hidden(features)).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        return torch.cat([scores, self.nil(nil * self.nil_mask)], dim=1)

    def probabilities(self, inputs: Sequence[GeneralInput]) -> list[np.ndarray]:
        """Per input, one probability per candidate and then the NIL probability."""
        if not inputs:
            return []
        device = module_device(self)
        features, mask, nil = (tensor.to(device) for tensor in pad_inputs(inputs))
        with torch.inference_mode():
            found = to_numpy(torch.softmax(self(features, mask, nil) / self.temperature, dim=1))
        width = mask.shape[1]
        return [np.concatenate([row[: len(item.candidates)], row[width:]]) for item, row in
                zip(inputs, found, strict=True)]


def pad_inputs(inputs: Sequence[GeneralInput]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features [M, C, F], mask [M, C], NIL features [M, N]) with C the most candidates any input has (≥ 1)."""
    width = max(1, max(len(item.candidates) for item in inputs))
    features = np.zeros((len(inputs), width, len(GENERAL_FEATURES)), dtype=np.float32)
    mask = np.zeros((len(inputs), width), dtype=bool)
    for row, item in enumerate(inputs):
        count = len(item.candidates)
        features[row, :count] = item.features
        mask[row, :count] = True
    nil = np.stack([item.nil for item in inputs]).astype(np.float32)
    return torch.from_numpy(features), torch.from_numpy(mask), torch.from_numpy(nil)


def scorer_files(scorer: GeneralScorer, meta: dict[str, Any] | None = None) -> dict[str, bytes]:
    """The saved form: ``model.json`` and ``weights.safetensors``, by file name."""
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in scorer.state_dict().items()}
    document = {"format": FORMAT, "features": list(GENERAL_FEATURES), "nil_features": list(GENERAL_NIL_FEATURES),
                "hidden_width": scorer.hidden_width, "temperature": float(scorer.temperature),
                "unused_features": scorer.unused_features, **(meta or {})}
    return {MODEL_JSON: json.dumps(document, indent=2).encode("utf-8"), WEIGHTS: save_tensors(state)}


def scorer_from_files(files: dict[str, bytes], where: str) -> tuple[GeneralScorer, dict[str, Any]]:
    """A scorer from `scorer_files` output, with its ``model.json``.

    Raises:
        ModelError: A missing or unreadable file, another format, or features this version does not compute.
    """
    try:
        meta = json.loads(files[MODEL_JSON].decode("utf-8"))
        state = load_tensors(files[WEIGHTS])
    except (KeyError, ValueError) as error:
        raise ModelError(f"{where}: not a saved general linker model ({error})") from error
    if meta.get("format") != FORMAT:
        raise ModelError(f"{where}: format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("features") != list(GENERAL_FEATURES) or meta.get("nil_features") != list(GENERAL_NIL_FEATURES):
        raise ModelError(f"{where}: the model was trained on other features than this version of elkit computes")
    scorer = GeneralScorer(int(meta.get("hidden_width", 32)))
    try:
        scorer.load_state_dict(state)
    except RuntimeError as error:
        raise ModelError(f"{where}: weights do not fit the model: {error}") from error
    unused = meta.get("unused_features", [])
    if not isinstance(unused, list) or not all(isinstance(name, str) for name in unused):
        raise ModelError(f"{where}: field 'unused_features' must be a list of feature names, got {unused!r}")
    try:
        scorer.set_unused_features(unused)
    except ModelError as error:
        raise ModelError(f"{where}: {error}") from None
    scorer.eval()
    return scorer, meta


def save_scorer(scorer: GeneralScorer, folder: str | Path, meta: dict[str, Any] | None = None) -> None:
    """Write ``model.json`` and ``weights.safetensors`` into `folder`."""
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in scorer_files(scorer, meta).items():
        (directory / name).write_bytes(data)


def load_scorer(folder: str | Path) -> tuple[GeneralScorer, dict[str, Any]]:
    """A scorer saved by `save_scorer`, with its ``model.json``.

    Raises:
        ModelError: The folder has no model, another format, or features this version does not compute.
    """
    directory = Path(folder)
    files = {name: (directory / name).read_bytes() for name in (MODEL_JSON, WEIGHTS) if (directory / name).is_file()}
    return scorer_from_files(files, str(directory / MODEL_JSON))
