"""The runner: a claim searched on every model it is bound to, then each of its mutants.

Each property is searched in its own mode (``trajcheck.modes``: the Hypothesis hunt, the
census, and the batched sweep before the hunt where a model can draw batches); the
runner splits the examples among the models, merges their outcomes (the claim fails
where any model does), locates the frontier of a counterexample, and attaches what the
catalogue adds: the figure of an instance, certificates and studies. A search that
raises gives the verdict ``error`` without stopping the other claims.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from trajcheck.core import (
    Claim,
    Counterexample,
    Mutant,
    MutantResult,
    Outcome,
    Profile,
    Property,
    Result,
    to_batch,
)
from trajcheck.evaluation import evaluate
from trajcheck.modes import search
from trajcheck.modes.sweep import merge_sweep, sweep
from trajcheck.tracking import merge_domains, merge_histograms

__all__ = [
    "Finish",
    "assemble",
    "combine",
    "finish_claim",
    "locate_frontier",
    "merge_models",
    "merge_shards",
    "model_budget",
    "run_claim",
    "search",
    "search_models",
    "search_shard",
    "shard_seeds",
]


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
        swept_violations=sum(o.swept_violations for _, o in outcomes),
    )


def seeds_of(seed: int | None, count: int) -> list[int | None]:
    """The seeds of a profile's ``count`` searches: the run's own first, then seeds derived
    from it (a hash, so that seed 1's second search is not seed 2's first); all random
    when the run has no seed."""
    if seed is None:
        return [None] * count
    derived = [
        int.from_bytes(hashlib.sha256(f"{seed}/{i}".encode()).digest()[:4], "little")
        for i in range(1, count)
    ]
    return [seed, *derived]


def shard_seeds(prop: Property, profile: Profile, seed: int | None) -> list[int | None]:
    """The seeds of one model's shards: the profile's ``seeds`` searches (a census draws
    its experiments once, whatever the seeds). A shard is the smallest unit of work."""
    return seeds_of(seed, 1 if prop.census else profile.seeds)


def model_budget(
    props: Sequence[Property], prop: Property, mutant: Mutant | None, profile: Profile
) -> int:
    """The examples one shard of ``prop`` gets: a claim's examples are shared among its
    models, a mutant's are each model's whole; a property may cap them."""
    budget = profile.mutant_examples if mutant else math.ceil(profile.examples / len(props))
    if prop.max_examples is not None:
        budget = min(budget, prop.max_examples(profile))
    return budget


def search_shard(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    budget: int,
    run_seed: int | None,
    on_example: Callable[[int], None] | None = None,
    session: int | None = None,
) -> Outcome:
    """One model searched with one seed: the batched sweep where the model has one, then
    the property's mode."""
    count = profile.sweep if prop.max_swept is None else min(profile.sweep, prop.max_swept(profile))
    swept = None
    if prop.sweep is not None and count > 0:
        swept = sweep(prop, mutant, profile, device, count, run_seed)
    outcome = search(prop, mutant, profile, device, run_seed, on_example, budget, session)
    return merge_sweep(outcome, swept) if swept is not None else outcome


def _through_first(outcomes: Sequence[Outcome], stops: Callable[[Outcome], bool]) -> list[Outcome]:
    """The outcomes up to and including the first that ``stops`` the search."""
    for i, outcome in enumerate(outcomes):
        if stops(outcome):
            return list(outcomes[: i + 1])
    return list(outcomes)


def merge_shards(model: str, runs: Sequence[Outcome]) -> Outcome:
    """One model's outcome from its shards, in seed order: the search stops at the first
    shard that finds a violation (or errs), so later shards do not count even where they
    ran (in parallel): the merged outcome does not depend on how the work was spread."""
    kept = _through_first(runs, lambda o: o.verdict != "holds")
    if len(kept) == 1:
        return kept[0]
    merged = combine([(model, run) for run in kept])
    merged.models, merged.worst_model = [], None
    return merged


def merge_models(outcomes: Sequence[tuple[str, Outcome]], mutant: Mutant | None) -> Outcome:
    """A search's outcome from its models, in the claim's order; a mutant's search stops at
    the first model that refutes it (later models do not count, as in ``merge_shards``)."""
    if mutant is None:
        return combine(outcomes)
    kept = _through_first([o for _, o in outcomes], lambda o: o.verdict == "fails")
    return combine(list(outcomes[: len(kept)]))


def search_seeds(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    budget: int,
    seed: int | None = None,
    on_example: Callable[[int], None] | None = None,
    session: int | None = None,
) -> Outcome:
    """One model searched with each of the profile's seeds (its shards, one after the
    other), until one finds a violation; merged by ``merge_shards``."""
    runs: list[Outcome] = []
    for run_seed in shard_seeds(prop, profile, seed):
        runs.append(
            search_shard(prop, mutant, profile, device, budget, run_seed, on_example, session)
        )
        if runs[-1].verdict != "holds":
            break
    return merge_shards(prop.model, runs)


def search_models(
    props: Sequence[Property],
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    seed: int | None = None,
    on_example: Callable[[int], None] | None = None,
    session: int | None = None,
) -> Outcome:
    """Search a claim (or a mutant) on every model it is bound to, one after the other.

    A claim's examples are shared among its models, so that a profile's examples are per
    claim (and per seed). Each model gets a mutant's whole budget, and the search of a mutant
    stops at the first model that refutes it. A model that can draw batches is swept
    first (the profile's ``sweep`` instances, for the claim and for each mutant), and
    each model is searched with each of the profile's seeds (``search_seeds``).
    ``trajcheck.work`` runs the same shards in parallel and merges them the same way.
    """
    outcomes: list[tuple[str, Outcome]] = []
    for prop in props:
        budget = model_budget(props, prop, mutant, profile)
        outcome = search_seeds(prop, mutant, profile, device, budget, seed, on_example, session)
        outcomes.append((prop.model, outcome))
        if mutant is not None and outcome.verdict == "fails":
            break
    return merge_models(outcomes, mutant)


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


def _attach(prop: Property, make: Callable[[Outcome], Any], outcome: Outcome) -> dict[str, Any]:
    """A property's certificate or study as JSON; one whose solver fails is recorded, not
    raised."""
    try:
        made = make(outcome)
        return made.to_json() if hasattr(made, "to_json") else dict(made)
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


@dataclass
class Finish:
    """What a claim adds once its search is merged: where its counterexample's frontier
    lies, the figure of an instance, its certificates and its study (all plain JSON, so
    that a worker process can hand it back)."""

    frontier: dict[str, Any] | None
    sketch: dict[str, Any] | None
    certificates: list[dict[str, Any]]
    study: dict[str, Any] | None


def finish_claim(props: Sequence[Property], outcome: Outcome, device: torch.device) -> Finish:
    """Locate the frontier of the claim's counterexample, draw its sketch, and attach the
    certificates and the study; each is recorded on ``outcome`` too, for those that read
    it."""
    claim: Claim = props[0].claim
    found = outcome.counterexample
    if found is not None:
        prop = next(p for p in props if p.model == found.model)
        outcome.frontier = locate_frontier(prop, found, claim.constants, device)
    outcome.sketch = _sketch(props, outcome)
    certificates = [_attach(p, p.certificate, outcome) for p in props if p.certificate]
    studies = [_attach(p, p.study, outcome) for p in props if p.study]
    return Finish(outcome.frontier, outcome.sketch, certificates, studies[0] if studies else None)


def assemble(
    claim: Claim,
    outcome: Outcome,
    finish: Finish,
    mutants: Sequence[Outcome],
    origins: Mapping[str, str],
) -> Result:
    """A claim's result from its merged search, what ``finish_claim`` added, and its
    mutants' outcomes (in the claim's order)."""
    outcome.frontier, outcome.sketch = finish.frontier, finish.sketch
    return Result(
        claim=claim,
        outcome=outcome,
        mutants=[
            MutantResult(claim.mutant_id(m), m.change, o)
            for m, o in zip(claim.mutants, mutants, strict=True)
        ],
        origins=dict(origins),
        certificates=finish.certificates,
        study=finish.study,
    )


def run_claim(
    props: Sequence[Property],
    origins: Mapping[str, str],
    profile: Profile,
    device: torch.device,
    seed: int | None = None,
    on_search: Callable[[str], None] | None = None,
    on_example: Callable[[int], None] | None = None,
    session: int | None = None,
) -> Result:
    """Search the claim on all its models, then each of its mutants, which must be refuted;
    everything in this process, one search after the other.

    ``origins`` says where each model's property was found (for replay). ``on_search``
    hears the id of each search as it starts, ``on_example`` the running count of
    examples every hundred. ``session`` is the run's key for the draws its processes share
    (``trajcheck.modes.census``).
    """
    claim: Claim = props[0].claim
    if on_search:
        on_search(claim.id)
    outcome = search_models(props, None, profile, device, seed, on_example, session)
    finish = finish_claim(props, outcome, device)
    mutants = []
    for mutant in claim.mutants:
        if on_search:
            on_search(claim.mutant_id(mutant))
        mutants.append(search_models(props, mutant, profile, device, seed, on_example, session))
    return assemble(claim, outcome, finish, mutants, origins)
