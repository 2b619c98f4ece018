"""Tokenization and sentence segmentation: ``Tokenizer``, ``Sentencizer`` and ``split_sentences``."""

from elkit.tokenize.sentences import Sentencizer, split_sentences
from elkit.tokenize.tokenizer import Tokenizer

__all__ = ["Sentencizer", "Tokenizer", "split_sentences"]
