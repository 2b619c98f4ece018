"""Pipelines: a tokenizer and named components, built from a config and saved with a manifest.

``load`` (a saved folder, a config or an installed model package) lives one layer up, in :mod:`elkit.packaging`.
"""

from elkit.pipeline.component import Component, TrainableComponent
from elkit.pipeline.pipeline import Pipeline

__all__ = ["Component", "Pipeline", "TrainableComponent"]
