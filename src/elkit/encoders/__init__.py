"""Text encoders shared by the KB (entity vectors, dense candidates) and the models."""

from elkit.encoders.text import DEFAULT_ENCODER, TextEncoder, default_model_path

__all__ = ["DEFAULT_ENCODER", "TextEncoder", "default_model_path"]
