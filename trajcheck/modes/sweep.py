"""The batched sweep: many instances at once, drawn with torch's generator on the device.

Where a property can draw its instances as a batch (``Property.sweep``), the sweep
evaluates the batched measure on a large number of them before the Hypothesis search,
at a small fraction of the cost per instance. It does not replace the search: it cannot
shrink, so a violation it finds is handed on, and the Hypothesis search (which runs
anyway) reports the minimal counterexample. Only if that search misses the violation is
the sweep's own, unshrunk instance reported, and said to be so.

A claim's sweep goes on past its first violation to its count, and says how many
instances lie past the tolerance; a mutant's stops at the first.

Memory does not grow with the number of instances: each batch adds to a histogram of
margins kept on the device and may replace the worst instance, and is then dropped. The
host reads one summary of each batch (``BatchSummary``), in one transfer.
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
    measured_alone,
)
from trajcheck.interrupts import checkpoint
from trajcheck.tracking import (
    Domain,
    MarginHistogram,
    histogram_counts,
    merge_domains,
    merge_histograms,
)

#: Instances per batch. On the CPU, small enough that a sweep of 10^4 sees ten shapes
#: (each batch draws its own dimension), at a quarter of the speed of 4096 at most; on a
#: GPU, as many as fit in about 1 GiB per (B, d, d) float64 tensor at the profile's
#: largest d, at most 2^16.
CPU_BATCH = 1024
GPU_BATCH = 65536
GPU_BATCH_BYTES = 2**30
#: Violating instances of one batch checked against rounding before the batch is taken
#: to hold: more than this many rounding-only violations in one batch is a scale problem
#: that the report shows anyway (rounding_only), not a reason to measure them all again.
CONFIRMATIONS = 8
#: A sampler whose assumptions reject so much that it draws this many times the count
#: asked for stops there, with the instances it has (results.json's ``swept`` says how many).
REJECTION_LIMIT = 20


def batch_size(device: torch.device, profile: Profile) -> int:
    """How many instances one batch holds on ``device`` under ``profile``."""
    if device.type == "cpu":
        return CPU_BATCH
    per_instance = 8 * max(1, profile.max_dimension) ** 2
    return max(CPU_BATCH, min(GPU_BATCH, GPU_BATCH_BYTES // per_instance))


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
    """The first violation of the batch that is more than rounding, and how many were not.

    Each candidate is measured again alone first (:func:`measured_alone`): what a
    counterexample reports, and what replay will measure, is the instance alone, and a
    violation that exists only inside the batch is a broken measure (``BatchDependent``,
    raised on), never rounding."""
    rtol = prop.claim.rtol
    order = torch.argsort(worst_tolerated)
    rejected = 0
    size = measured.size
    for index in order[:CONFIRMATIONS].tolist():
        if not float(worst_tolerated[index]) < -rtol:
            break
        params = instance(batch, index)
        evaluation = measured_alone(
            prop, params, constants, device, measured.evaluation(index), size
        )
        if not evaluation.violates(rtol) or decided_by_rounding(
            prop, params, constants, device, evaluation
        ):
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


class BatchSummary:
    """What the host needs of one batch, gathered on the device and read in one transfer:
    the counts of non-finite and violating instances, the smallest telling margin with its
    instance (every tensor of the batch at that index) and notes, and each note's range.
    Decoding it is the batch's only host synchronisation when nothing went wrong."""

    def __init__(
        self,
        batch: Mapping[str, torch.Tensor],
        measured: BatchMargins,
        worst_tolerated: torch.Tensor,
        telling: torch.Tensor,
        violates: torch.Tensor,
    ) -> None:
        candidates = torch.where(telling, worst_tolerated, math.inf)
        best = candidates.argmin().reshape(1)
        notes = torch.stack(list(measured.notes.values())) if measured.notes else None
        pieces = [
            (~measured.finite).sum().reshape(1).to(torch.float64),
            violates.sum().reshape(1).to(torch.float64),
            candidates.index_select(0, best).to(torch.float64),
        ]
        self.shapes = {key: value.shape[1:] for key, value in batch.items()}
        self.integer = {key: not value.is_floating_point() for key, value in batch.items()}
        pieces += [v.index_select(0, best).reshape(-1).to(torch.float64) for v in batch.values()]
        self.note_names = list(measured.notes)
        if notes is not None:
            finite = torch.isfinite(notes)
            pieces += [
                notes.index_select(1, best).reshape(-1),
                torch.where(finite, notes, math.inf).amin(dim=1),
                torch.where(finite, notes, -math.inf).amax(dim=1),
            ]
        values = torch.cat(pieces).cpu().tolist()  # the one synchronisation
        self.nonfinite, self.violations, self.best = int(values[0]), int(values[1]), values[2]
        position = 3
        self.params: Params = {}
        for key, shape in self.shapes.items():
            size = math.prod(shape)
            flat = values[position : position + size]
            position += size
            tensor = torch.tensor(flat, dtype=torch.float64).reshape(shape)
            self.params[key] = (tensor.long() if self.integer[key] else tensor).tolist()
        count = len(self.note_names)
        self.best_notes = dict(
            zip(self.note_names, values[position : position + count], strict=True)
        )
        self.lows = values[position + count : position + 2 * count]
        self.highs = values[position + 2 * count : position + 3 * count]


def sweep(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    count: int,
    seed: int | None = None,
) -> Outcome:
    """Evaluate ``count`` instances drawn by ``prop.sweep``, a batch at a time."""
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
    identity = claim.kind == "identity"
    histogram = MarginHistogram(identity=identity)
    counts = torch.zeros(histogram.counts.size + 1, dtype=torch.float64, device=device)
    domain = Domain()
    violation: Counterexample | None = None
    rounding_only = done = 0
    largest = batch_size(device, profile)
    drawn = 0  # instances drawn, rejected ones included: a bound on the loop
    violating = 0
    # a claim's sweep goes on past its first violation, to count how often it fails; a
    # mutant's stops there (refuted is all it needs)
    while (
        done < count and drawn < REJECTION_LIMIT * count and (violation is None or mutant is None)
    ):
        checkpoint()
        asked = min(largest, max(count - done, 1))
        batch = prop.sweep(asked, generator, profile, device)
        # a sampler may drop the instances its assumptions reject: count what it gave
        size = min((int(value.shape[0]) for value in batch.values()), default=0)
        drawn += asked
        if size == 0:
            continue
        try:
            measured = measure_batch(prop, batch, constants, size)
        except MeasureError as broken:
            return _outcome("error", done + size, started, error=f"{broken} (model {prop.model})")
        worst_tolerated = measured.at_worst(measured.tolerated)
        size_of_sides = measured.at_worst(torch.maximum(measured.lhs.abs(), measured.rhs.abs()))
        violates = worst_tolerated < -claim.rtol
        telling = (size_of_sides >= SUBNORMAL_SIDE) & ~violates
        summary = BatchSummary(batch, measured, worst_tolerated, telling, violates)
        if summary.nonfinite:
            bad = int((~measured.finite).nonzero()[0])
            return _outcome(
                "error",
                done + size,
                started,
                error=f"{measured.nonfinite(bad)} at {instance(batch, bad)!r}",
            )
        # one shape a batch: its dimension is that of any of its instances
        dimension = float(prop.dimension(summary.params))
        domain.extend("dimension", dimension, dimension)
        for name, low, high in zip(summary.note_names, summary.lows, summary.highs, strict=True):
            if low <= high:
                domain.extend(name, low, high)
        violating += summary.violations
        if summary.violations and violation is None:
            try:
                violation, rejected = _violation(
                    prop, batch, measured, worst_tolerated, constants, device
                )
            except MeasureError as broken:
                return _outcome(
                    "error", done + size, started, error=f"{broken} (model {prop.model})"
                )
            rounding_only += rejected
        if summary.violations and violation is not None:
            # once the claim is refuted, its violations count, and the worst is the margin
            telling = telling | violates
            index = int(torch.where(violates, worst_tolerated, math.inf).argmin())
            if float(worst_tolerated[index]) < worst_margin:
                worst_margin, worst_params = float(worst_tolerated[index]), instance(batch, index)
                worst_notes = {k: float(v[index]) for k, v in measured.notes.items()}
        counts += histogram_counts(worst_tolerated, telling, identity)
        if summary.best < worst_margin:
            worst_margin, worst_params, worst_notes = (
                summary.best, summary.params, summary.best_notes,
            )  # fmt: skip
        done += size
    histogram.add_counts(counts.cpu().numpy())
    outcome = _outcome("fails" if violation else "holds", done, started)
    outcome.worst_margin = None if math.isinf(worst_margin) else worst_margin
    outcome.worst_params, outcome.worst_notes = worst_params, worst_notes
    outcome.counterexample = violation
    outcome.margins = histogram.to_json()
    outcome.domain = domain.to_json()
    outcome.rounding_only = rounding_only
    outcome.swept_violations = violating if violation is not None else 0
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
    searched.swept_violations = swept.swept_violations
    return searched
