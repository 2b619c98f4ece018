"""Fixtures for NER tests: a tiny labelled corpus and a tiny random transformer written to disk."""

from __future__ import annotations

import string
from pathlib import Path

from elkit.doc import Doc

SENTENCES = [
    ("Apple bought Beats in California .", [(0, 1, "ORG"), (2, 3, "ORG"), (4, 5, "LOC")]),
    ("Tim Cook runs Apple from Cupertino .", [(0, 2, "PER"), (3, 4, "ORG"), (5, 6, "LOC")]),
    ("Paris is the capital of France .", [(0, 1, "LOC"), (5, 6, "LOC")]),
    ("Angela Merkel met Emmanuel Macron in Berlin .", [(0, 2, "PER"), (3, 5, "PER"), (6, 7, "LOC")]),
    ("Google and Microsoft compete .", [(0, 1, "ORG"), (2, 3, "ORG")]),
    ("nothing to see here .", []),
]


def make_docs(sentences: list[tuple[str, list[tuple[int, int, str]]]] | None = None) -> list[Doc]:
    """Documents built from space-separated words with gold entities."""
    docs = []
    for text, spans in sentences or SENTENCES:
        doc = Doc.from_words(text.split())
        doc.ents = [doc.span(start, end, label) for start, end, label in spans]
        docs.append(doc)
    return docs


def blank(doc: Doc) -> Doc:
    """The same words without entities."""
    return Doc(doc.text, doc.token_starts, doc.token_ends, sentence_starts=doc.sentence_starts, validate=False)


def tiny_transformer(folder: Path) -> Path:
    """Write a 2-layer random BERT with a word-piece tokenizer over letters and a few words; return the folder."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = list(string.ascii_lowercase + string.digits + string.punctuation)
    words = ["apple", "paris", "france", "google", "the", "in", "of", "and"]
    vocabulary = special + pieces + [f"##{piece}" for piece in pieces] + words
    model = WordPiece({token: index for index, token in enumerate(vocabulary)}, unk_token="[UNK]")
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = BertPreTokenizer()
    tokenizer.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")
    fast.save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    return folder
