"""Tokenization and sentence segmentation: ``Tokenizer``, ``Sentencizer`` and ``split_sentences``."""

from elkit.tokenize.sentences import Sentencizer, SentencizerSettings, split_sentences
from elkit.tokenize.tokenizer import Tokenizer, TokenizerSettings

__all__ = ["Sentencizer", "SentencizerSettings", "Tokenizer", "TokenizerSettings", "split_sentences"]
