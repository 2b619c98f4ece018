"""Training: the loop behind ``elkit train``, with evaluation, early stopping and best / last models."""

from elkit.training.loop import TrainResult, split_sentences, train

__all__ = ["TrainResult", "split_sentences", "train"]
