"""What the hunt and the census share: one Hypothesis test around a probe of instances.

The probe is called with each instance Hypothesis draws; the test is keyed by the claim
(or mutant), seeded when the run is, and told which of Hypothesis's phases to run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed

from trajcheck.core import Claim, Mutant, Params, Profile, Property
from trajcheck.evaluation import Evaluation

#: Every phase: replay stored failures, generate, target, shrink.
HUNT_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
#: A census: no replay of stored failures (its draws are its sample) and no shrinking.
CENSUS_PHASES = (Phase.explicit, Phase.generate, Phase.target)


def place(prop: Property, params: Params) -> dict[str, float]:
    """Where an instance lies in the searched domain: its dimension and inner steps."""
    where = {"dimension": float(prop.dimension(params))}
    if prop.steps is not None:
        where["steps"] = float(prop.steps(params))
    return where


def steer(evaluation: Evaluation, claim: Claim, counted_as_violation: bool) -> None:
    """Tell Hypothesis how close this instance came (``hypothesis.target``): the search
    then steers toward the smallest margin.

    An identity steers toward its largest relative difference on the tolerated basis; an
    inequality toward its smallest plain margin (the tightness), except where only
    rounding took that margin below -rtol (sides near 0), or where a violation was set
    aside as rounding: both would steer toward noise.
    """
    if evaluation.trivial:
        return
    violates = evaluation.violates(claim.rtol)
    if violates and not counted_as_violation:
        return
    if claim.kind == "identity":
        value = evaluation.tolerated
    elif evaluation.margin < -claim.rtol and not violates:
        return
    else:
        value = evaluation.margin
    # Hypothesis maximizes a target; clip so that one huge value cannot dominate.
    target(min(-value, 1e6), label="negative relative margin")


def hypothesis_test(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    probe: Callable[[Params], None],
    budget: int,
    seed: int | None,
    phases: tuple[Phase, ...],
    key_suffix: str = "",
) -> Callable[[], None]:
    """The Hypothesis test that calls ``probe`` on up to ``budget`` drawn instances.

    ``key_suffix`` keeps apart the example database of a search that draws from a
    narrower domain than the claim's (the hunt's search below a dimension)."""
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
        "phases": phases,
    }
    if seed is not None:
        options["database"] = None  # a seeded run replays exactly, whatever is stored
    test = settings(**options)(given(prop.instances(profile))(probe))
    # One probe function serves every claim: key Hypothesis's example database by the
    # claim (or mutant) so that one claim's stored failures do not replay on another.
    claim = prop.claim
    key = ((claim.mutant_id(mutant) if mutant else claim.id) + key_suffix).encode()
    test.hypothesis.inner_test._hypothesis_internal_add_digest = key  # type: ignore[attr-defined]
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    return test
