"""The saved form of a zero-shot recognizer: ``model.json`` and the trained weights, never the transformer.

``model.json`` holds the format tag, the labels with their texts, the fitted temperature, the settings that fix
the model's shape (:data:`ARCHITECTURE`) and a fingerprint of the frozen transformer the heads were trained over,
so that heads are never loaded over another transformer by mistake.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from elkit.devices import to_numpy
from elkit.errors import ModelError
from elkit.ner.encoders import TransformerEncoder

__all__ = ["ARCHITECTURE", "MODEL_JSON", "SHIPPED", "WEIGHTS", "fingerprint", "read_files", "shipped_files",
           "write_files"]

FORMAT = "elkit.ZeroShotNER/1"
WEIGHTS = "weights.safetensors"
MODEL_JSON = "model.json"
ARCHITECTURE = ("encoder", "adapter_depth", "hidden_width", "max_width", "label_max_length")
"""Settings a saved model fixes: they come from its ``model.json``, the others from the component's config."""
SHIPPED = Path(__file__).resolve().parent / "shipped" / "zeroshot-minilm"
"""The heads shipped with elkit: trained over the default all-MiniLM-L6-v2 (README: what on)."""


def fingerprint(encoder: TransformerEncoder) -> str:
    """A short hash of the frozen transformer's word embeddings (a head only fits the transformer it learnt on)."""
    weight = encoder.transformer.get_input_embeddings().weight.detach()
    return hashlib.sha256(to_numpy(weight[:512].contiguous()).tobytes()).hexdigest()[:16]


def write_files(state: dict[str, torch.Tensor], labels: list[tuple[str, str]], temperature: float,
                settings: dict[str, Any], encoder: TransformerEncoder) -> dict[str, bytes]:
    """The files of a saved model: ``model.json`` and ``weights.safetensors``."""
    meta = {
        "format": FORMAT,
        "labels": [list(entry) for entry in labels],
        "temperature": temperature,
        "transformer": fingerprint(encoder),
        "architecture": {key: value for key, value in settings.items() if key in ARCHITECTURE},
    }
    return {MODEL_JSON: json.dumps(meta, indent=2).encode("utf-8"), WEIGHTS: save_tensors(state)}


def read_files(files: dict[str, bytes], where: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(meta, weights)`` of a saved model.

    Raises:
        ModelError: A missing or unreadable file, or another format.
    """
    try:
        meta = json.loads(files[MODEL_JSON])
        state = load_tensors(files[WEIGHTS])
    except (KeyError, ValueError) as error:
        raise ModelError(f"{where}: missing or unreadable {MODEL_JSON} or {WEIGHTS}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ModelError(f"{where}: {MODEL_JSON} is not a {FORMAT} model (format {found!r})")
    return meta, state


def shipped_files() -> dict[str, bytes]:
    """The files of the shipped heads.

    Raises:
        ModelError: They are missing from this installation.
    """
    if not (SHIPPED / MODEL_JSON).is_file():
        raise ModelError(f"{SHIPPED}: the shipped zero-shot heads are missing from this installation; reinstall "
                         f"elkit, or set heads = \"random\" and train your own")
    return {name: (SHIPPED / name).read_bytes() for name in (MODEL_JSON, WEIGHTS)}
