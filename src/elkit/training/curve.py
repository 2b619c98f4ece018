"""Training curves: train on growing shares of the data to see whether more annotation still helps."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from elkit.config import load_config
from elkit.doc import Doc, Example
from elkit.errors import DataError
from elkit.extras import missing_extra

__all__ = ["train_curve"]


def train_curve(
    config: str | Path,
    train_items: Sequence[Doc | Example],
    dev_docs: Sequence[Doc],
    output: str | Path,
    *,
    samples: int = 4,
    overrides: dict[str, Any] | None = None,
    console: Console | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Train on 1/samples, 2/samples, ... of the (shuffled) training items and record the best dev F1 of each.

    Writes each run to ``output/share-XX``, the points to ``output/curve.json`` and a plot to
    ``output/curve.png``.

    Returns:
        One record per point: share, examples, ents_p, ents_r, ents_f.

    Raises:
        DataError: Fewer training items than points.
    """
    from elkit.training.loop import train

    if len(train_items) < samples:
        raise DataError(f"{len(train_items)} training examples are too few for {samples} points")
    console = console or Console(stderr=True)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    order = list(train_items)
    random.Random(seed).shuffle(order)
    points: list[dict[str, Any]] = []
    for step in range(1, samples + 1):
        share = step / samples
        subset = order[: max(1, round(len(order) * share))]
        console.print(f"[bold]training curve: {share:.0%} ({len(subset):,} examples)[/bold]")
        settings = load_config(config, overrides)
        _, result = train(settings, subset, dev_docs, output / f"share-{round(share * 100):03d}", console=console)
        best = max(result.history, key=lambda record: record["ents_f"])
        points.append({"share": share, "examples": len(subset), "ents_p": best["ents_p"], "ents_r": best["ents_r"],
                       "ents_f": best["ents_f"]})
    (output / "curve.json").write_text(json.dumps(points, indent=2), encoding="utf-8")
    _plot(points, output / "curve.png", console)
    return points


def _plot(points: list[dict[str, Any]], path: Path, console: Console) -> None:
    try:
        import matplotlib
    except ImportError:
        message = f"{missing_extra('matplotlib', 'plot', f'the plot {path}')}; the scores are above"
        console.print(message, style="yellow", markup=False)
        return

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(5, 3.5))
    axes.plot([point["share"] * 100 for point in points], [point["ents_f"] for point in points], marker="o")
    axes.set_xlabel("share of the training data (%)")
    axes.set_ylabel("dev F1")
    axes.set_title("training curve")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
