"""Pipelines: a tokenizer and named components, built from a config and saved with a manifest."""

from elkit.pipeline.component import Component, TrainableComponent
from elkit.pipeline.pipeline import Pipeline, load

__all__ = ["Component", "Pipeline", "TrainableComponent", "load"]
