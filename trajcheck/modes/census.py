"""The census: every instance drawn is an experiment, measured and counted; none is
shrunk, and the verdict reads the failure proportion against the claim's rule.

For properties whose instances are training runs (``Property.census``), where shrinking
would mean hundreds of runs and the question is how often, not whether. The instances are
drawn first, all of them (independently, by the property's ``sample``, where it has one),
then handed to the property's ``prepare`` (cot trains them as ensembles), then measured
one by one. The count f of n failing instances gives the failure proportion and its 95 %
Wilson score interval (scipy.stats.binomtest), and the claim's ``CensusRule``, fixed
before the run, turns them into the verdict.

The claims of one family read the same experiments: their census draws with a seed
derived from the family and the run's seed (:func:`census_seed`), so every process of a
run, whichever claims it gets, draws the same instances; a property's cache keyed on the
instance then trains each once per process. Violations are not checked against rounding:
an experiment's violation is a matter of statistics, not of ulps.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from typing import Any

import torch

from trajcheck.core import CensusRule, Mutant, Outcome, Params, Profile, Property
from trajcheck.evaluation import Evaluation, evaluate
from trajcheck.interrupts import checkpoint
from trajcheck.modes.hunt import NonFinite, Violation, counterexample, error_of
from trajcheck.modes.hypothesis_test import CENSUS_PHASES, hypothesis_test, place
from trajcheck.modes.sweep import instance
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


def failure_statistics(failures: int, count: int, rule: CensusRule) -> dict[str, Any]:
    """The failure proportion f/n, its Wilson score interval at the rule's confidence, and
    the verdict the rule gives (``holds`` when the interval's upper end is at most the
    rule's ``max_failure``; with ``max_failure`` 0, when nothing failed)."""
    from scipy.stats import binomtest

    if count == 0:
        return {"failures": 0, "count": 0, "proportion": None, "interval": None,
                "confidence": rule.confidence, "max_failure": rule.max_failure,
                "rule": rule.describe(), "decision": "holds"}  # fmt: skip
    interval = binomtest(failures, count).proportion_ci(rule.confidence, method="wilson")
    low, high = float(interval.low), float(interval.high)
    # the strict rule: an interval's upper end is never 0, so it reads the count itself
    holds = failures == 0 if rule.max_failure == 0.0 else high <= rule.max_failure
    return {
        "failures": failures,
        "count": count,
        "proportion": failures / count,
        "interval": [low, high],
        "confidence": rule.confidence,
        "max_failure": rule.max_failure,
        "rule": rule.describe(),
        "decision": "holds" if holds else "fails",
    }


def draw_census(
    prop: Property, mutant: Mutant | None, profile: Profile, device: torch.device,
    budget: int, drawn_with: int,
) -> list[Params]:  # fmt: skip
    """The census's instances, all of them, before any is measured: ``budget`` independent
    draws from the property's sampler; without one, those Hypothesis generates (each
    counted once: Hypothesis may draw one twice)."""
    if prop.sample is not None:
        # a CPU generator, whatever the device: the census is the same everywhere
        generator = torch.Generator().manual_seed(drawn_with)
        batch = prop.sample(budget, generator, profile, device)
        size = len(next(iter(batch.values())))
        return [instance(batch, i) for i in range(size)]
    drawn: list[Params] = []

    def keep(params: Params) -> None:
        checkpoint()
        if params not in drawn:
            drawn.append(params)

    hypothesis_test(prop, mutant, profile, keep, budget, drawn_with, CENSUS_PHASES)()
    return drawn


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
    """Draw, prepare, measure and count ``budget`` instances of ``prop``; the verdict by
    the claim's census rule, and the worst violation as its counterexample."""
    claim = prop.claim
    constants = claim.constants_for(mutant)
    tracker = Tracker(identity=claim.kind == "identity")
    drawn_with = census_seed(claim.family, seed, session)
    instances: list[dict[str, Any]] = []
    violations: list[Violation] = []
    started = time.perf_counter()
    found, error, verdict = None, None, "holds"
    try:
        drawn = draw_census(prop, mutant, profile, device, budget, drawn_with)
        if prop.prepare is not None:
            prop.prepare(drawn, device)
        for params in drawn:
            checkpoint()
            evaluation = evaluate(prop, params, constants, device)
            if not evaluation.finite:
                raise NonFinite(params, evaluation)
            violated = evaluation.violates(claim.rtol)
            tracker.observe(params, evaluation, place(prop, params))
            if on_example is not None:
                on_example(tracker.examples)
            instances.append(_entry(params, evaluation, violated))
            if violated:
                violations.append(Violation(params, evaluation))
    except Exception as exc:  # a broken measure must not stop the other claims
        verdict, error = "error", error_of(exc, prop)
    statistics = failure_statistics(len(violations), len(instances), claim.census_rule)
    if verdict != "error" and statistics["decision"] == "fails":
        verdict = "fails"
    if violations and verdict == "fails":
        worst = min(violations, key=lambda v: v.evaluation.tolerated)
        found_by = (
            f"census: the worst of {len(violations)} violating instances in "
            f"{len(instances)} (not shrunk: each is an experiment)"
        )
        found = counterexample(prop, worst, found_by)
    seconds = time.perf_counter() - started
    sampled = "independent draws" if prop.sample is not None else "hypothesis generation"
    outcome = tracker.outcome(
        verdict, found, error, seconds,
        census={"seed": drawn_with, "drawn_by": sampled, **statistics,
                "instances": instances},
    )  # fmt: skip
    outcome.domain["census instances"] = [len(instances)] * 2
    return outcome
