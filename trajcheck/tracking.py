"""What a search keeps as it goes, in memory that does not grow with the examples: the
worst margin and its instance, the histogram of margins, and the domain searched."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trajcheck.core import Counterexample, Outcome, Params
from trajcheck.evaluation import Evaluation

#: Decades of the margin histogram: margins from 1e-16 to 1e6, one bin a decade, with
#: margins at or below 0 (attained to rounding, or violations) counted apart.
HISTOGRAM_DECADES = (-16, 6)


class MarginHistogram:
    """Counts of log10(margin) per decade, margins outside the range in the end bins and
    those at or below 0 apart. For an identity the margin is minus the relative
    difference, so the difference is counted (and the count apart is of exact agreement).
    """

    def __init__(self, identity: bool = False) -> None:
        low, high = HISTOGRAM_DECADES
        self.identity = identity
        self.counts = np.zeros(high - low, dtype=np.int64)
        self.at_or_below_zero = 0

    def add(self, margins: Sequence[float] | np.ndarray | torch.Tensor) -> None:
        if isinstance(margins, torch.Tensor):
            margins = margins.detach().to("cpu", torch.float64).numpy()
        values = np.asarray(margins, dtype=float).reshape(-1)
        if self.identity:
            values = np.abs(values)
        positive = values[values > 0]
        low, high = HISTOGRAM_DECADES
        decades = np.clip(np.log10(positive), low, high - 0.5)
        counts, _ = np.histogram(decades, bins=np.arange(low, high + 1))
        self.counts += counts
        self.at_or_below_zero += int(values.size - positive.size)

    def add_counts(self, counts: np.ndarray) -> None:
        """Add counts made on a device by :func:`histogram_counts`."""
        self.counts += np.rint(counts[:-1]).astype(np.int64)
        self.at_or_below_zero += round(float(counts[-1]))

    def to_json(self) -> dict[str, Any]:
        low, high = HISTOGRAM_DECADES
        return {
            "of": "relative difference" if self.identity else "margin",
            "log10_edges": list(range(low, high + 1)),
            "counts": self.counts.tolist(),
            "at_or_below_zero": self.at_or_below_zero,
        }


def histogram_counts(
    margins: torch.Tensor, counted: torch.Tensor, identity: bool = False
) -> torch.Tensor:
    """The decade counts of the ``counted`` margins, then the count at or below 0, as one
    float64 tensor on the margins' device: the sweep adds them up batch after batch with
    no host synchronisation (the same bins as ``MarginHistogram.add``)."""
    low, high = HISTOGRAM_DECADES
    values = margins.abs() if identity else margins
    positive = values > 0
    decades = torch.log10(torch.where(positive, values, 1.0)).clamp(low, high - 0.5)
    bins = torch.floor(decades).long() - low
    weights = (counted & positive).to(torch.float64)
    counts = torch.zeros(high - low, dtype=torch.float64, device=margins.device)
    counts.scatter_add_(0, bins, weights)
    below = (counted & ~positive).sum().reshape(1).to(torch.float64)
    return torch.cat([counts, below])


def margin_histogram(margins: Sequence[float], identity: bool = False) -> dict[str, Any]:
    """The histogram of a list of margins, as JSON."""
    histogram = MarginHistogram(identity)
    histogram.add(margins)
    return histogram.to_json()


def merge_histograms(histograms: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The histogram of a claim over its models (same edges): counts added up."""
    present = [h for h in histograms if h]
    if not present:
        return None
    return {
        "of": present[0].get("of", "margin"),
        "log10_edges": present[0]["log10_edges"],
        "counts": [sum(c) for c in zip(*(h["counts"] for h in present), strict=True)],
        "at_or_below_zero": sum(h["at_or_below_zero"] for h in present),
    }


@dataclass
class Domain:
    """The ranges a search covered: dimension, inner steps, and every note (step sizes
    such as a*L), each as [min, max] over the instances measured."""

    ranges: dict[str, list[float]] = field(default_factory=dict)

    def extend(self, name: str, low: float, high: float) -> None:
        if math.isnan(low) or math.isnan(high):
            return
        known = self.ranges.get(name)
        self.ranges[name] = (
            [low, high] if known is None else [min(known[0], low), max(known[1], high)]
        )

    def observe(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.extend(name, value, value)

    def observe_batch(self, values: dict[str, torch.Tensor]) -> None:
        for name, tensor in values.items():
            finite = tensor[torch.isfinite(tensor)]
            if finite.numel():
                self.extend(name, float(finite.min()), float(finite.max()))

    def to_json(self) -> dict[str, list[float]]:
        return {name: list(bounds) for name, bounds in self.ranges.items()}


def merge_domains(domains: Sequence[dict[str, list[float]] | None]) -> dict[str, list[float]]:
    merged = Domain()
    for domain in domains:
        for name, (low, high) in (domain or {}).items():
            merged.extend(name, low, high)
    return merged.to_json()


@dataclass
class Tracker:
    """The running summary of one search.

    The worst margin is the tolerated one, (rhs - lhs) / max(|rhs|, scale): the margin
    the verdict compares with -rtol, so it is never capped by the tolerance, and for an
    identity it is minus the largest relative difference measured. Sides that are 0 or
    went through subnormal numbers say nothing and are not counted for it.
    """

    identity: bool = False
    examples: int = 0
    worst_margin: float = math.inf
    worst_notes: dict[str, float] = field(default_factory=dict)
    worst_params: Params | None = None
    histogram: MarginHistogram = field(init=False)
    domain: Domain = field(default_factory=Domain)

    def __post_init__(self) -> None:
        self.histogram = MarginHistogram(self.identity)

    def observe(self, params: Params, evaluation: Evaluation, place: dict[str, float]) -> bool:
        """Count one example (``place``: its dimension and steps); say whether its margin
        tells anything about tightness."""
        self.examples += 1
        self.domain.observe({**place, **evaluation.notes})
        if evaluation.trivial:
            return False
        self.histogram.add([evaluation.tolerated])
        if evaluation.tolerated < self.worst_margin:
            self.worst_margin, self.worst_notes = evaluation.tolerated, evaluation.notes
            self.worst_params = params
        return True

    def count(self, params: Params, evaluation: Evaluation, place: dict[str, float]) -> None:
        """Count an example whose margin is set aside (a violation made of rounding)."""
        self.examples += 1
        self.domain.observe({**place, **evaluation.notes})

    @property
    def worst(self) -> float | None:
        return None if math.isinf(self.worst_margin) else self.worst_margin

    def outcome(
        self,
        verdict: str,
        counterexample: Counterexample | None,
        error: str | None,
        seconds: float,
        **extra: Any,
    ) -> Outcome:
        """What the search concluded, with what this tracker kept (``extra``: the fields
        of a mode's own, such as a census or the rounding count)."""
        return Outcome(
            verdict=verdict,  # type: ignore[arg-type]
            examples=self.examples,
            worst_margin=self.worst,
            worst_notes=self.worst_notes,
            worst_params=self.worst_params,
            margins=self.histogram.to_json(),
            counterexample=counterexample,
            error=error,
            seconds=seconds,
            domain=self.domain.to_json(),
            **extra,
        )
