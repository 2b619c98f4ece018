"""The static word vectors every benchmark uses: the table of configs/ner_conll_fast.toml, by absolute paths.

They are distilled from MiniLM for the words of the CoNLL-2003 and CrossNER training files (and the model's
vocabulary) the first time the folder is missing, and read from it afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from elkit.config import load_config
from elkit.encoders.vectors import VectorsSettings

ROOT = Path(__file__).resolve().parent.parent


def static_vectors() -> dict[str, Any]:
    """The vectors table of the fast NER config, its paths taken from the repository root."""
    table = load_config(ROOT / "configs" / "ner_conll_fast.toml").components["ner"].settings["encoder"]["vectors"]
    return VectorsSettings(**table).resolve(ROOT).model_dump(exclude_none=True)
