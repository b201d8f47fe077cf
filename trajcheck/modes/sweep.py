"""The batched sweep: many instances at once, drawn with torch's generator on the device.

Where a property can draw its instances as a batch (``Property.sweep``), the sweep
evaluates the batched measure on a large number of them before the Hypothesis search,
at a small fraction of the cost per instance. It does not replace the search: it cannot
shrink, so a violation it finds is handed on, and the Hypothesis search (which runs
anyway) reports the minimal counterexample. Only if that search misses the violation is
the sweep's own, unshrunk instance reported, and said to be so.

Memory does not grow with the number of instances: each batch adds to a histogram of
margins and may replace the worst instance, and is then dropped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import torch

from trajcheck.core import Counterexample, Mutant, Outcome, Params, Profile, Property
from trajcheck.evaluation import (
    SUBNORMAL_SIDE,
    BatchMargins,
    MeasureError,
    decided_by_rounding,
    measure_batch,
)
from trajcheck.interrupts import checkpoint
from trajcheck.tracking import Domain, MarginHistogram, merge_domains, merge_histograms

BATCH = 4096
#: Violating instances of one batch checked against rounding before the batch is taken
#: to hold: more than this many rounding-only violations in one batch is a scale problem
#: that the report shows anyway (rounding_only), not a reason to measure them all again.
CONFIRMATIONS = 8


def instance(batch: Mapping[str, torch.Tensor], index: int) -> Params:
    """One instance of a batch as JSON-ready parameters (what a strategy would draw)."""
    return {key: value[index].tolist() for key, value in batch.items()}


def _violation(
    prop: Property,
    batch: Mapping[str, torch.Tensor],
    measured: BatchMargins,
    worst_tolerated: torch.Tensor,
    constants: Mapping[str, float],
    device: torch.device,
) -> tuple[Counterexample | None, int]:
    """The first violation of the batch that is more than rounding, and how many were not."""
    rtol = prop.claim.rtol
    order = torch.argsort(worst_tolerated)
    rejected = 0
    for index in order[:CONFIRMATIONS].tolist():
        if not float(worst_tolerated[index]) < -rtol:
            break
        params, evaluation = instance(batch, index), measured.evaluation(index)
        if decided_by_rounding(prop, params, constants, device, evaluation):
            rejected += 1
            continue
        return (
            Counterexample(
                params=params,
                lhs=evaluation.lhs,
                rhs=evaluation.rhs,
                margin=evaluation.margin,
                dimension=prop.dimension(params),
                part=evaluation.part,
                notes=evaluation.notes,
                model=prop.model,
                found_by="sweep (not shrunk)",
            ),
            rejected,
        )
    return None, rejected + max(0, int((worst_tolerated < -rtol).sum()) - CONFIRMATIONS)


def sweep(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    count: int,
    seed: int | None = None,
) -> Outcome:
    """Evaluate ``count`` instances drawn by ``prop.sweep``, BATCH at a time."""
    assert prop.sweep is not None
    claim = prop.claim
    constants = claim.constants_for(mutant)
    generator = torch.Generator(device=device)
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    started = time.perf_counter()
    worst_margin, worst_params, worst_notes = math.inf, None, {}
    histogram = MarginHistogram(identity=claim.kind == "identity")
    domain = Domain()
    violation: Counterexample | None = None
    rounding_only = done = 0
    while done < count and violation is None:
        checkpoint()
        size = min(BATCH, count - done)
        batch = prop.sweep(size, generator, profile, device)
        try:
            measured = measure_batch(prop, batch, constants, size)
        except MeasureError as broken:
            return _outcome("error", done + size, started, error=f"{broken} (model {prop.model})")
        finite = measured.finite
        if not bool(finite.all()):
            bad = int((~finite).nonzero()[0])
            return _outcome(
                "error",
                done + size,
                started,
                error=f"{measured.nonfinite(bad)} at {instance(batch, bad)!r}",
            )
        domain.observe_batch(measured.notes)
        worst_tolerated = measured.at_worst(measured.tolerated)
        size_of_sides = measured.at_worst(torch.maximum(measured.lhs.abs(), measured.rhs.abs()))
        violates = worst_tolerated < -claim.rtol
        if bool(violates.any()):
            violation, rejected = _violation(
                prop, batch, measured, worst_tolerated, constants, device
            )
            rounding_only += rejected
        # the margins that tell: not trivially small sides, not violations set aside
        telling = (size_of_sides >= SUBNORMAL_SIDE) & (~violates | (violation is not None))
        histogram.add(worst_tolerated[telling])
        if bool(telling.any()):
            candidates = torch.where(telling, worst_tolerated, math.inf)
            best = int(candidates.argmin())
            if float(candidates[best]) < worst_margin:
                worst_margin = float(candidates[best])
                worst_params = instance(batch, best)
                worst_notes = {k: float(v[best]) for k, v in measured.notes.items()}
        done += size
    outcome = _outcome("fails" if violation else "holds", done, started)
    outcome.worst_margin = None if math.isinf(worst_margin) else worst_margin
    outcome.worst_params, outcome.worst_notes = worst_params, worst_notes
    outcome.counterexample = violation
    outcome.margins = histogram.to_json()
    outcome.domain = domain.to_json()
    outcome.rounding_only = rounding_only
    return outcome


def _outcome(verdict: str, swept: int, started: float, error: str | None = None) -> Outcome:
    return Outcome(
        verdict=verdict,  # type: ignore[arg-type]
        examples=0,
        worst_margin=None,
        worst_notes={},
        worst_params=None,
        counterexample=None,
        error=error,
        seconds=time.perf_counter() - started,
        swept=swept,
    )


def merge_sweep(searched: Outcome, swept: Outcome) -> Outcome:
    """The Hypothesis search's outcome, with what the sweep saw added: its instance count,
    a smaller worst margin, an error, or (only when the search missed it) its violation."""
    searched.swept = swept.swept
    searched.seconds += swept.seconds
    if swept.verdict == "error" and searched.verdict != "error":
        searched.verdict, searched.error = "error", f"sweep: {swept.error}"
    if swept.worst_margin is not None and (
        searched.worst_margin is None or swept.worst_margin < searched.worst_margin
    ):
        searched.worst_margin = swept.worst_margin
        searched.worst_params, searched.worst_notes = swept.worst_params, swept.worst_notes
    if swept.verdict == "fails" and searched.verdict == "holds":
        searched.verdict, searched.counterexample = "fails", swept.counterexample
        searched.error = None
    searched.margins = merge_histograms([searched.margins, swept.margins])
    searched.domain = merge_domains([searched.domain, swept.domain])
    searched.rounding_only += swept.rounding_only
    return searched
