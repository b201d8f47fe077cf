"""The runner: Hypothesis search for violations of a claim, with targeting and shrinking.

For each claim (and each of its mutants) the runner draws instances with the property's
strategy, evaluates both sides as a batch of one (``trajcheck.evaluation``: the checks
and the margin rule), steers the search toward the smallest margin with
``hypothesis.target`` and, on a violation, lets Hypothesis shrink it to a minimal
counterexample. A violation counts only when it is more than rounding
(``decided_by_rounding``), so that the shrinker never trades a real counterexample for a
rounding residue. A NaN or infinite side or scale, a measure that breaks the contract,
or one that raises, gives the verdict ``error`` without stopping the other claims.

A *census* property (each instance an experiment) is searched without shrinking: every
instance drawn is measured and counted, and the verdict is ``fails`` when any violates.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed

from trajcheck.core import (
    Claim,
    Counterexample,
    Mutant,
    MutantResult,
    Outcome,
    Params,
    Property,
    Result,
    to_batch,
)
from trajcheck.evaluation import (
    Evaluation,
    MeasureError,
    decided_by_rounding,
    evaluate,
)
from trajcheck.interrupts import checkpoint
from trajcheck.profiles import Profile
from trajcheck.sweep import merge_sweep, sweep
from trajcheck.tracking import Tracker, merge_domains, merge_histograms


class _Violation(Exception):
    def __init__(self, params: Params, evaluation: Evaluation) -> None:
        super().__init__(f"margin {evaluation.margin:.3e}")
        self.params, self.evaluation = params, evaluation


class _NonFinite(Exception):
    def __init__(self, params: Params, evaluation: Evaluation) -> None:
        super().__init__(f"{evaluation.problem} at {params!r}")


def place(prop: Property, params: Params) -> dict[str, float]:
    """Where an instance lies in the searched domain: its dimension and inner steps."""
    where = {"dimension": float(prop.dimension(params))}
    if prop.steps is not None:
        where["steps"] = float(prop.steps(params))
    return where


def _target_value(evaluation: Evaluation, rtol: float, identity: bool) -> float | None:
    """The margin the search steers toward its minimum, or None when it says nothing.

    An identity steers toward its largest relative difference on the tolerated basis; an
    inequality toward its smallest plain margin (the tightness), except where only
    rounding took that margin below -rtol (sides near 0), which would steer toward noise.
    """
    if evaluation.trivial:
        return None
    if identity:
        return evaluation.tolerated
    if evaluation.margin < -rtol and not evaluation.violates(rtol):
        return None
    return evaluation.margin


def search(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    seed: int | None = None,
    on_example: Callable[[int], None] | None = None,
    budget: int | None = None,
) -> Outcome:
    """Search one property (a claim or one of its mutants, on one model) for a violation.

    ``budget`` defaults to the profile's number of examples for a claim or a mutant.
    """
    claim = prop.claim
    constants = claim.constants_for(mutant)
    identity = claim.kind == "identity"
    tracker = Tracker(identity=identity)
    rounding_only: list[Params] = []
    if budget is None:
        budget = profile.mutant_examples if mutant is not None else profile.examples

    census: dict[str, Any] | None = None
    if prop.census:
        seed = family_seed(claim.family) if seed is None else seed
        census = {"seed": seed, "instances": []}
    violations: list[_Violation] = []

    def probe(params: Params) -> None:
        checkpoint()
        if census is not None and _counted(census, params):
            return  # a census counts each experiment once (Hypothesis may draw one twice)
        evaluation = evaluate(prop, params, constants, device)
        if not evaluation.finite:
            raise _NonFinite(params, evaluation)
        violated = evaluation.violates(claim.rtol)
        if violated and decided_by_rounding(prop, params, constants, device, evaluation):
            violated = False
            rounding_only.append(params)
            tracker.count(params, evaluation, place(prop, params))
        else:
            tracker.observe(params, evaluation, place(prop, params))
        if on_example is not None and (census is not None or tracker.examples % 100 == 0):
            on_example(tracker.examples)
        steer = _target_value(evaluation, claim.rtol, identity)
        if steer is not None and not (evaluation.violates(claim.rtol) and not violated):
            # Hypothesis maximizes a target; clip so that one huge value cannot dominate.
            target(min(-steer, 1e6), label="negative relative margin")
        if census is not None:
            census["instances"].append(_census_entry(params, evaluation, violated))
            if violated:
                violations.append(_Violation(params, evaluation))
        elif violated:
            raise _Violation(params, evaluation)

    options: dict[str, Any] = {
        "max_examples": budget,
        "deadline": None,
        "verbosity": Verbosity.quiet,
        "report_multiple_bugs": False,
        # Instances are matrices and torch calls: slower and larger than Hypothesis's
        # defaults expect, which is fine here.
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.differing_executors,
        ],
        "phases": (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    }
    if census is not None:
        options["phases"] = (Phase.explicit, Phase.generate, Phase.target)
    if seed is not None:
        options["database"] = None  # a seeded run replays exactly, whatever is stored
    test = settings(**options)(given(prop.instances(profile.limits))(probe))
    # One probe function serves every claim: key Hypothesis's example database by the
    # claim (or mutant) so that one claim's stored failures do not replay on another.
    key = (claim.mutant_id(mutant) if mutant else claim.id).encode()
    test.hypothesis.inner_test._hypothesis_internal_add_digest = key  # type: ignore[attr-defined]
    if seed is not None:
        test = hypothesis_seed(seed)(test)

    started = time.perf_counter()
    counterexample, error, verdict = None, None, "holds"
    try:
        test()
        if violations:  # a census: the worst of the violations it counted
            raise min(violations, key=lambda v: v.evaluation.tolerated)
    except _Violation as violation:
        verdict = "fails"
        e = violation.evaluation
        counterexample = Counterexample(
            params=violation.params,
            lhs=e.lhs,
            rhs=e.rhs,
            margin=e.margin,
            dimension=prop.dimension(violation.params),
            part=e.part,
            notes=e.notes,
            model=prop.model,
        )
        if census is not None:
            counterexample.found_by = (
                f"hypothesis census: the worst of {len(violations)} violating instances "
                f"in {len(census['instances'])} (not shrunk: each is an experiment)"
            )
    except _NonFinite as nonfinite:
        verdict, error = "error", str(nonfinite)
    except MeasureError as broken:
        verdict, error = "error", f"{broken} (model {prop.model})"
    except Exception as exc:  # a broken measure must not stop the other claims
        verdict, error = "error", f"{type(exc).__name__}: {exc}"
    domain = tracker.domain.to_json()
    if census is not None:
        domain["census instances"] = [len(census["instances"])] * 2
    return Outcome(
        verdict=verdict,  # type: ignore[arg-type]
        examples=tracker.examples,
        worst_margin=tracker.worst,
        worst_notes=tracker.worst_notes,
        worst_params=tracker.worst_params,
        margins=tracker.histogram.to_json(),
        counterexample=counterexample,
        error=error,
        seconds=time.perf_counter() - started,
        census=census,
        domain=domain,
        rounding_only=len(rounding_only),
    )


#: One seed per family for census searches run without one, drawn once per process: the
#: claims of a family then draw the same experiments (and share their cached runs).
_FAMILY_SEEDS: dict[str, int] = {}


def family_seed(family: str) -> int:
    return _FAMILY_SEEDS.setdefault(family, random.SystemRandom().randrange(2**32))


def _counted(census: dict[str, Any], params: Params) -> bool:
    return any(entry["params"] == params for entry in census["instances"])


def _census_entry(params: Params, evaluation: Evaluation, violated: bool) -> dict[str, Any]:
    return {
        "params": params,
        "violated": violated,
        "margin": evaluation.margin,
        "part": evaluation.part,
        "notes": evaluation.notes,
    }


def combine(outcomes: Sequence[tuple[str, Outcome]]) -> Outcome:
    """One outcome from the searches of a claim's models: it fails where any model does.

    The counterexample is the one of smallest dimension; the worst margin is the smallest.
    """
    verdicts = {o.verdict for _, o in outcomes}
    verdict = "error" if "error" in verdicts else "fails" if "fails" in verdicts else "holds"
    measured = [(name, o) for name, o in outcomes if o.worst_margin is not None]
    worst_model, worst = (
        min(measured, key=lambda item: item[1].worst_margin or 0.0) if measured else (None, None)
    )
    found = [o.counterexample for _, o in outcomes if o.counterexample is not None]
    errors = [f"{name}: {o.error}" for name, o in outcomes if o.error]
    return Outcome(
        verdict=verdict,  # type: ignore[arg-type]
        examples=sum(o.examples for _, o in outcomes),
        worst_margin=worst.worst_margin if worst else None,
        worst_notes=worst.worst_notes if worst else {},
        worst_params=worst.worst_params if worst else None,
        counterexample=min(found, key=lambda c: c.dimension) if found else None,
        error="; ".join(errors) or None,
        seconds=sum(o.seconds for _, o in outcomes),
        worst_model=worst_model,
        models=list(outcomes),
        margins=merge_histograms([o.margins for _, o in outcomes]),
        swept=sum(o.swept for _, o in outcomes),
        census=next((o.census for _, o in outcomes if o.census is not None), None),
        domain=merge_domains([o.domain for _, o in outcomes]),
        rounding_only=sum(o.rounding_only for _, o in outcomes),
    )


def search_models(
    props: Sequence[Property],
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    seed: int | None = None,
    on_example: Callable[[int], None] | None = None,
) -> Outcome:
    """Search a claim (or a mutant) on every model it is bound to.

    A claim's examples are shared among its models, so that the thorough profile's 10^5
    is per claim. Each model gets a mutant's whole budget, and the search of a mutant
    stops at the first model that refutes it. A model that can draw batches is swept
    first (the profile's ``sweep`` instances; claims only, mutants die fast anyway).
    """
    outcomes: list[tuple[str, Outcome]] = []
    for prop in props:
        budget = profile.mutant_examples if mutant else math.ceil(profile.examples / len(props))
        if prop.max_examples is not None:
            budget = min(budget, prop.max_examples(profile.examples, profile.limits))
        swept = None
        if prop.sweep is not None and profile.sweep > 0 and mutant is None:
            swept = sweep(prop, None, profile, device, profile.sweep, seed)
        outcome = search(prop, mutant, profile, device, seed, on_example, budget)
        if swept is not None:
            outcome = merge_sweep(outcome, swept)
        outcomes.append((prop.model, outcome))
        if mutant is not None and outcome.verdict == "fails":
            break
    return combine(outcomes)


def locate_frontier(
    prop: Property, counterexample: Counterexample, constants: Mapping[str, float],
    device: torch.device, steps: int = 60,
) -> dict[str, Any] | None:  # fmt: skip
    """Bisect the frontier's parameter between a value where the counterexample's
    instance satisfies the claim and the value where it breaks it.

    The claim need not be monotone in the parameter: bisection finds one crossing, the
    one between the two ends it starts from, and says so by reporting both ends.
    """
    frontier = prop.frontier
    if frontier is None:
        return None
    params = dict(counterexample.params)

    def breaks(value: float) -> bool:
        trial = {**params, frontier.parameter: value}
        return evaluate(prop, trial, constants, device).violates(prop.claim.rtol)

    holds_at, fails_at = frontier.safe(params), float(params[frontier.parameter])
    if breaks(holds_at):
        return {"label": frontier.label, "located": False, "reason": "no safe value holds"}
    for _ in range(steps):
        middle = (holds_at + fails_at) / 2
        if middle in (holds_at, fails_at):
            break
        holds_at, fails_at = (holds_at, middle) if breaks(middle) else (middle, fails_at)
    return {
        "label": frontier.label,
        "located": True,
        "parameter": frontier.parameter,
        "holds_at": frontier.report(params, holds_at),
        "fails_at": frontier.report(params, fails_at),
        "boundary": frontier.report(params, (holds_at + fails_at) / 2),
    }


def _attach(
    prop: Property, make: Callable[[Outcome], dict[str, Any]], outcome: Outcome
) -> dict[str, Any]:
    """A property's certificate or study; one whose solver fails is recorded, not raised."""
    try:
        return make(outcome)
    except Exception as exc:
        return {"model": prop.model, "error": f"{type(exc).__name__}: {exc}"}


def _sketch(props: Sequence[Property], outcome: Outcome) -> dict[str, Any] | None:
    """The family's figure of the counterexample, or else of the tightest instance."""
    found = outcome.counterexample
    params, model = (found.params, found.model) if found else (
        outcome.worst_params, outcome.worst_model
    )  # fmt: skip
    prop = next((p for p in props if p.model == model), None)
    if params is None or prop is None or prop.sketch is None:
        return None
    sketch = prop.sketch
    drawn = _attach(prop, lambda _: sketch(to_batch(params, torch.device("cpu"))), outcome)
    return {**drawn, "instance": "counterexample" if found else "tightest instance"}


def run_claim(
    props: Sequence[Property],
    origins: Mapping[str, str],
    profile: Profile,
    device: torch.device,
    seed: int | None = None,
    on_search: Callable[[str], None] | None = None,
    on_example: Callable[[int], None] | None = None,
) -> Result:
    """Search the claim on all its models, then each of its mutants, which must be refuted.

    ``origins`` says where each model's property was found (for replay). ``on_search``
    hears the id of each search as it starts, ``on_example`` the running count of
    examples every hundred: the CLI's progress bar listens to both.
    """
    claim: Claim = props[0].claim
    if on_search:
        on_search(claim.id)
    outcome = search_models(props, None, profile, device, seed, on_example)
    found = outcome.counterexample
    if found is not None:
        prop = next(p for p in props if p.model == found.model)
        outcome.frontier = locate_frontier(prop, found, claim.constants, device)
    outcome.sketch = _sketch(props, outcome)
    certificates = [_attach(p, p.certificate, outcome) for p in props if p.certificate]
    studies = [_attach(p, p.study, outcome) for p in props if p.study]
    mutants = []
    for mutant in claim.mutants:
        if on_search:
            on_search(claim.mutant_id(mutant))
        mutants.append(
            MutantResult(
                claim.mutant_id(mutant),
                mutant.change,
                search_models(props, mutant, profile, device, seed, on_example),
            )
        )
    return Result(
        claim=claim,
        outcome=outcome,
        mutants=mutants,
        origins=dict(origins),
        certificate=certificates[0] if certificates else None,
        study=studies[0] if studies else None,
    )
