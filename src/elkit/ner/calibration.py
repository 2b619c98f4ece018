"""Calibrating span probabilities: one temperature fitted on held-out cells, and the expected calibration error.

The zero-shot recognizer's sigmoid outputs are scaled by ``1 / temperature``. The temperature minimises the
binary cross-entropy over every scored (span, label) cell of held-out annotated examples (a proper scoring rule,
so the minimum is the calibrated scale). The expected calibration error is reported over the cells that matter
for decisions: those the model gives at least :data:`ECE_FLOOR` (below it, near-certain negatives swamp the
measure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["ECE_FLOOR", "Calibration", "expected_calibration_error", "fit_temperature"]

ECE_FLOOR = 0.05
"""Cells with a probability below this are left out of the expected calibration error."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted temperature and how well calibrated the probabilities were before and after.

    Attributes:
        temperature: Logits are divided by it.
        ece_before: Expected calibration error at temperature 1.
        ece_after: Expected calibration error at the fitted temperature.
        cells: Scored (span, label) cells used for the fit.
        positives: Of which gold.
    """

    temperature: float
    ece_before: float
    ece_after: float
    cells: int
    positives: int


def expected_calibration_error(probabilities: torch.Tensor, targets: torch.Tensor, bins: int = 15,
                               floor: float = ECE_FLOOR) -> float:
    """The mean gap between confidence and accuracy over equal-width bins, weighted by bin size.

    Only cells with a probability of at least ``floor`` count; 0.0 when there are none.
    """
    keep = probabilities >= floor
    probabilities, targets = probabilities[keep], targets[keep].float()
    if not probabilities.numel():
        return 0.0
    edges = torch.linspace(floor, 1.0, bins + 1)
    index = torch.bucketize(probabilities, edges[1:-1])
    error = 0.0
    for position in range(bins):
        chosen = index == position
        if chosen.any():
            error += float(chosen.sum()) * abs(float(probabilities[chosen].mean()) - float(targets[chosen].mean()))
    return error / probabilities.numel()


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, lowest: float = 0.05,
                    highest: float = 20.0, steps: int = 60) -> Calibration:
    """The temperature that minimises the cross-entropy, by golden-section search on its logarithm.

    Args:
        logits: Uncalibrated logits of held-out cells.
        targets: Their gold values (0 or 1).
        lowest: Smallest temperature tried.
        highest: Largest temperature tried.
        steps: Search steps.
    """
    logits, targets = logits.float().flatten(), targets.float().flatten()

    def loss(log_temperature: float) -> float:
        scaled = logits / math.exp(log_temperature)
        return float(torch.nn.functional.binary_cross_entropy_with_logits(scaled, targets))

    ratio = (math.sqrt(5) - 1) / 2
    low, high = math.log(lowest), math.log(highest)
    left, right = high - ratio * (high - low), low + ratio * (high - low)
    left_loss, right_loss = loss(left), loss(right)
    for _ in range(steps):
        if left_loss < right_loss:
            high, right, right_loss = right, left, left_loss
            left = high - ratio * (high - low)
            left_loss = loss(left)
        else:
            low, left, left_loss = left, right, right_loss
            right = low + ratio * (high - low)
            right_loss = loss(right)
    temperature = math.exp((low + high) / 2)
    return Calibration(
        temperature=temperature,
        ece_before=expected_calibration_error(torch.sigmoid(logits), targets),
        ece_after=expected_calibration_error(torch.sigmoid(logits / temperature), targets),
        cells=int(logits.numel()),
        positives=int(targets.sum()),
    )
