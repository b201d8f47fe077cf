"""The census: every instance drawn is an experiment, measured and counted; none is
shrunk, and the verdict says on how many of them the claim fails.

For properties whose instances are training runs (``Property.census``), where shrinking
would mean hundreds of runs and the question is how often, not whether. The claims of one
family read the same experiments: their census draws with a seed derived from the family
and the run's seed (:func:`census_seed`), so every process of a run, whichever claims it
gets, draws the same instances; a property's cache keyed on the instance (cot's trained
models) then trains each once per process. Violations are not checked against rounding:
an experiment's violation is a matter of statistics, not of ulps.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from typing import Any

import torch

from trajcheck.core import Mutant, Outcome, Params, Profile, Property
from trajcheck.evaluation import Evaluation, evaluate
from trajcheck.interrupts import checkpoint
from trajcheck.modes.hunt import NonFinite, Violation, counterexample, error_of
from trajcheck.modes.hypothesis_test import CENSUS_PHASES, hypothesis_test, place, steer
from trajcheck.tracking import Tracker


def census_seed(family: str, seed: int | None, session: int | None) -> int:
    """The seed a family's census draws with: the run's seed when it has one, else one
    derived from the family and the run's ``session`` key (the same in every process of
    the run: the CLI draws it once per run, the pytest plugin once per test session,
    shared by its xdist workers). With neither, a fresh seed: that call's census is its
    own."""
    if seed is not None:
        return seed
    if session is None:
        return random.SystemRandom().randrange(2**32)
    digest = hashlib.sha256(f"{session}:{family}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _entry(params: Params, evaluation: Evaluation, violated: bool) -> dict[str, Any]:
    return {
        "params": params,
        "violated": violated,
        "margin": evaluation.margin,
        "part": evaluation.part,
        "notes": evaluation.notes,
    }


def census(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    budget: int,
    seed: int | None = None,
    on_example: Callable[[int], None] | None = None,
    session: int | None = None,
) -> Outcome:
    """Measure and count up to ``budget`` instances of ``prop``; report the worst violation."""
    claim = prop.claim
    constants = claim.constants_for(mutant)
    tracker = Tracker(identity=claim.kind == "identity")
    drawn_with = census_seed(claim.family, seed, session)
    instances: list[dict[str, Any]] = []
    violations: list[Violation] = []

    def probe(params: Params) -> None:
        checkpoint()
        if any(entry["params"] == params for entry in instances):
            return  # each experiment counts once (Hypothesis may draw one twice)
        evaluation = evaluate(prop, params, constants, device)
        if not evaluation.finite:
            raise NonFinite(params, evaluation)
        violated = evaluation.violates(claim.rtol)
        tracker.observe(params, evaluation, place(prop, params))
        if on_example is not None:
            on_example(tracker.examples)
        steer(evaluation, claim, counted_as_violation=violated)
        instances.append(_entry(params, evaluation, violated))
        if violated:
            violations.append(Violation(params, evaluation))

    test = hypothesis_test(prop, mutant, profile, probe, budget, drawn_with, CENSUS_PHASES)
    started = time.perf_counter()
    found, error, verdict = None, None, "holds"
    try:
        test()
    except Exception as exc:  # a broken measure must not stop the other claims
        verdict, error = "error", error_of(exc, prop)
    if violations and verdict != "error":
        worst = min(violations, key=lambda v: v.evaluation.tolerated)
        found_by = (
            f"hypothesis census: the worst of {len(violations)} violating instances "
            f"in {len(instances)} (not shrunk: each is an experiment)"
        )
        verdict, found = "fails", counterexample(prop, worst, found_by)
    seconds = time.perf_counter() - started
    outcome = tracker.outcome(
        verdict, found, error, seconds, census={"seed": drawn_with, "instances": instances}
    )
    outcome.domain["census instances"] = [len(instances)] * 2
    return outcome
