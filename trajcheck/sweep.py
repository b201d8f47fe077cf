"""The batched sweep: many instances at once, drawn with torch's generator on the device.

Where a property can draw its instances as a batch (``Property.sweep``), the sweep
evaluates the batched measure on a large number of them before the Hypothesis search,
at a small fraction of the cost per instance. It does not replace the search: it cannot
shrink, so a violation it finds is handed on, and the Hypothesis search (which runs
anyway) reports the minimal counterexample. Only if that search misses the violation is
the sweep's own, unshrunk instance reported, and said to be so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import torch

from trajcheck.core import Counterexample, Mutant, Outcome, Params, Property
from trajcheck.profiles import Profile
from trajcheck.runner import SUBNORMAL_SIDE, margin_histogram, margins, merge_histograms

BATCH = 4096


def instance(batch: Mapping[str, torch.Tensor], index: int) -> Params:
    """One instance of a batch as JSON-ready parameters (what a strategy would draw)."""
    return {key: value[index].tolist() for key, value in batch.items()}


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
    violation: Counterexample | None = None
    telling_margins: list[torch.Tensor] = []
    done = 0
    while done < count and violation is None:
        size = min(BATCH, count - done)
        batch = prop.sweep(size, generator, profile.limits, device)
        m = prop.measure(batch, constants)
        lhs, rhs = m.lhs.reshape(size, -1), m.rhs.reshape(size, -1)
        scale = None if m.scale is None else m.scale.reshape(size, -1)
        tolerated, plain = margins(lhs, rhs, scale), margins(lhs, rhs, None)
        if claim.kind == "identity":
            tolerated, plain = -tolerated.abs(), -plain.abs()
        finite = torch.isfinite(lhs).all(-1) & torch.isfinite(rhs).all(-1)
        if not bool(finite.all()):
            bad = int((~finite).nonzero()[0])
            return _outcome(
                "error", done + size, started, error=f"non-finite side at {instance(batch, bad)!r}"
            )
        tolerated = torch.nan_to_num(tolerated, nan=-math.inf)
        part = tolerated.argmin(dim=-1, keepdim=True)
        worst_tolerated = tolerated.gather(-1, part).squeeze(-1)
        worst_plain = plain.gather(-1, part).squeeze(-1)
        size_of_sides = torch.maximum(lhs.abs(), rhs.abs()).gather(-1, part).squeeze(-1)
        violates = worst_tolerated < -claim.rtol
        telling = (size_of_sides >= SUBNORMAL_SIDE) & ~(~violates & (worst_plain < -claim.rtol))
        telling_margins.append(worst_plain[telling].cpu())
        if bool(telling.any()):
            candidates = torch.where(telling, worst_plain, torch.full_like(worst_plain, math.inf))
            best = int(candidates.argmin())
            if float(candidates[best]) < worst_margin:
                worst_margin = float(candidates[best])
                worst_params = instance(batch, best)
                worst_notes = {k: float(v.reshape(size, -1)[best, 0]) for k, v in m.notes.items()}
        if bool(violates.any()):
            first = int(torch.where(violates, worst_tolerated, math.inf).argmin())
            j, params = int(part[first]), instance(batch, first)
            violation = Counterexample(
                params=params,
                lhs=float(lhs[first, j]),
                rhs=float(rhs[first, j]),
                margin=float(plain[first, j]),
                dimension=prop.dimension(params),
                part=m.parts[j] if m.parts else None,
                notes={k: float(v.reshape(size, -1)[first, 0]) for k, v in m.notes.items()},
                model=prop.model,
                found_by="sweep (not shrunk)",
            )
        done += size
    swept: list[float] = torch.cat(telling_margins).double().tolist() if telling_margins else []
    outcome = _outcome("fails" if violation else "holds", done, started)
    outcome.worst_margin = None if math.isinf(worst_margin) else worst_margin
    outcome.worst_params, outcome.worst_notes = worst_params, worst_notes
    outcome.counterexample = violation
    outcome.margins = margin_histogram(swept, identity=claim.kind == "identity")
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
    return searched
