"""What ``elkit train`` and ``elkit train-curve`` learn from: corpus files and / or annotation datasets."""

from __future__ import annotations

from pathlib import Path

from elkit.cli.app import error_console
from elkit.cli.common import open_store, read_docs, split_names
from elkit.doc import Doc, Example
from elkit.errors import ConfigError, DataError

__all__ = ["training_material"]


def training_material(datasets: list[str], train_path: Path | None, dev_path: Path | None, binary: bool,
                      eval_split: float, db: str | None, *, format: str | None = None,
                      lenient: bool = False) -> tuple[list[Doc | Example], list[Doc]]:
    """Training items and dev documents from annotation datasets and / or corpus files.

    Raises:
        ConfigError: Neither datasets nor a training file, or nothing to evaluate on.
        DataError: Nothing to train on.
    """
    names = split_names(datasets)
    if not names and train_path is None:
        raise ConfigError("give a training corpus (--train) or annotation datasets (--dataset)")
    items: list[Doc | Example] = []
    dev_docs = read_docs(dev_path, format, lenient) if dev_path is not None else []
    if train_path is not None:
        items.extend(read_docs(train_path, format, lenient))
    if names:
        from elkit.annotate.data import load_examples, split_dev

        data = load_examples(open_store(db), names, binary=binary)
        for reason, count in data.skipped.items():
            error_console.print(f"left out {count:,} {reason}")
        complete = data.complete
        if dev_path is None:
            complete, dev_docs = split_dev(complete, eval_split)
            error_console.print(f"held out {len(dev_docs):,} of the annotated texts for evaluation")
        items.extend(complete)
        items.extend(data.partial)
    if not items:
        raise DataError("nothing to train on")
    if not dev_docs:
        raise ConfigError("nothing to evaluate on: give --dev, or datasets with accepted manual annotations")
    return items, dev_docs
