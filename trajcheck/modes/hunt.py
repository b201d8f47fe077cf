"""The hunt: Hypothesis searches one property for a violation, and shrinks the first it
finds to a minimal counterexample.

Each drawn instance is measured as a batch of one (``trajcheck.evaluation``: the checks
and the margin rule); the search steers toward the smallest margin
(``hypothesis.target``). A violation counts only when it is more than rounding
(``decided_by_rounding``), so that the shrinker never trades a real counterexample for a
rounding residue. A NaN or infinite side or scale, a measure that breaks the contract, or
one that raises, gives the verdict ``error``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import torch

from trajcheck.core import Counterexample, Mutant, Outcome, Params, Profile, Property
from trajcheck.evaluation import Evaluation, MeasureError, decided_by_rounding, evaluate
from trajcheck.interrupts import checkpoint
from trajcheck.modes.hypothesis_test import HUNT_PHASES, hypothesis_test, place, steer
from trajcheck.tracking import Tracker


class Violation(Exception):
    """Raised inside the Hypothesis test at a violation: Hypothesis then shrinks it."""

    def __init__(self, params: Params, evaluation: Evaluation) -> None:
        super().__init__(f"margin {evaluation.margin:.3e}")
        self.params, self.evaluation = params, evaluation


class NonFinite(Exception):
    def __init__(self, params: Params, evaluation: Evaluation) -> None:
        super().__init__(f"{evaluation.problem} at {params!r}")


def counterexample(prop: Property, violation: Violation, found_by: str) -> Counterexample:
    e = violation.evaluation
    return Counterexample(
        params=violation.params,
        lhs=e.lhs,
        rhs=e.rhs,
        margin=e.margin,
        dimension=prop.dimension(violation.params),
        part=e.part,
        notes=e.notes,
        model=prop.model,
        found_by=found_by,
    )


def error_of(exc: BaseException, prop: Property) -> str:
    """The text of an ``error`` verdict: what failed, and in which model."""
    if isinstance(exc, NonFinite):
        return str(exc)
    if isinstance(exc, MeasureError):
        return f"{exc} (model {prop.model})"
    return f"{type(exc).__name__}: {exc}"


def hunt(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    budget: int,
    seed: int | None = None,
    on_example: Callable[[int], None] | None = None,
) -> Outcome:
    """Search ``prop`` (the claim or one of its mutants) with up to ``budget`` examples.

    A claim's counterexample of dimension d > 1 is then searched for again among
    instances of dimension below d, with the same budget, until a search finds none
    smaller. Hypothesis's shrinker lowers the dimension only where the instance of
    dimension d - 1 that it tries (every later choice kept) still violates: on
    smoothing.nonquadratic, whose counterexamples live on one line, it stopped at d = 5
    or 6 on 2 seeds in 40. A mutant only has to be refuted, so it is not searched again.
    """
    claim = prop.claim
    constants = claim.constants_for(mutant)
    tracker = Tracker(identity=claim.kind == "identity")
    rounding_only = 0

    def probe(params: Params) -> None:
        nonlocal rounding_only
        checkpoint()
        evaluation = evaluate(prop, params, constants, device)
        if not evaluation.finite:
            raise NonFinite(params, evaluation)
        violated = evaluation.violates(claim.rtol)
        if violated and decided_by_rounding(prop, params, constants, device, evaluation):
            violated = False
            rounding_only += 1
            tracker.count(params, evaluation, place(prop, params))
        else:
            tracker.observe(params, evaluation, place(prop, params))
        if on_example is not None and tracker.examples % 100 == 0:
            on_example(tracker.examples)
        steer(evaluation, claim, counted_as_violation=violated)
        if violated:
            raise Violation(params, evaluation)

    started = time.perf_counter()
    found: Counterexample | None = None
    error, verdict, searched, key_suffix = None, "holds", profile, ""
    while True:
        test = hypothesis_test(
            prop, mutant, searched, probe, budget, seed, HUNT_PHASES, key_suffix=key_suffix
        )
        try:
            test()
        except Violation as violation:
            candidate = counterexample(prop, violation, "hypothesis (shrunk)")
            if found is None or candidate.dimension < found.dimension:
                verdict, found = "fails", candidate
                if mutant is None and found.dimension > 1:
                    searched = replace(profile, max_dimension=found.dimension - 1)
                    key_suffix = f" below dimension {found.dimension}"
                    continue
        except Exception as exc:  # a broken measure must not stop the other claims
            # an error met in a search below d is as real as one met at d: reported
            verdict, error, found = "error", error_of(exc, prop), None
        break
    seconds = time.perf_counter() - started
    return tracker.outcome(verdict, found, error, seconds, rounding_only=rounding_only)
