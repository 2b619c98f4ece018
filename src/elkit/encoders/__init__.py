"""Encoders shared by NER, linking, the reranker and the KB.

Transformer loading, a sentence encoder and static word vectors. Importing this package imports torch.
"""

from elkit.encoders.text import TextEncoder
from elkit.encoders.transformers import DEFAULT_ENCODER, LoadedTransformer, default_model_path, load_transformer
from elkit.encoders.vectors import StaticVectors, VectorsSettings, open_vectors

__all__ = [
    "DEFAULT_ENCODER",
    "LoadedTransformer",
    "StaticVectors",
    "TextEncoder",
    "VectorsSettings",
    "default_model_path",
    "load_transformer",
    "open_vectors",
]
