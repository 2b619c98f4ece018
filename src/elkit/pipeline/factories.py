"""Where every built-in factory is registered: the one place that maps versioned names to code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from elkit.registry import factories, tokenizers
from elkit.tokenize import Sentencizer, Tokenizer

__all__: list[str] = []


@tokenizers.register("elkit.Tokenizer.v1")
def make_tokenizer(special_cases: Mapping[str, Sequence[str]] | None = None) -> Tokenizer:
    """The rule-based English tokenizer."""
    return Tokenizer(special_cases=special_cases)


@factories.register("elkit.Sentencizer.v1")
def make_sentencizer(name: str, newline_breaks: bool = False) -> Sentencizer:
    """The rule-based sentence splitter."""
    return Sentencizer(name, newline_breaks=newline_breaks)
