"""Verdicts that cannot lie: what a measure returns is checked before a margin is taken,
a violation made of rounding is not a counterexample, and a worst margin is measured,
not capped. Each test names the mechanism it guards; each failed before it existed."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Mapping

import pytest
import torch
from hypothesis import strategies as st

from tests.helpers import toy_claim, toy_instances
from trajcheck.core import Batch, Measurement, Mutant, Params, Profile, Property
from trajcheck.discovery import discover
from trajcheck.evaluation import evaluate
from trajcheck.modes.sweep import sweep
from trajcheck.profiles import get_profile
from trajcheck.runner import search, search_models

CPU = torch.device("cpu")
CI = get_profile("ci")


def _uniform(count: int, generator: torch.Generator, profile: Profile, device) -> Batch:  # type: ignore[no-untyped-def]
    return {"x": torch.rand(count, generator=generator, dtype=torch.float64, device=device)}


def _property(measure, **options) -> Property:  # type: ignore[no-untyped-def]
    return Property(toy_claim(), toy_instances, measure, lambda p: 1, sweep=_uniform, **options)


def _both_paths(prop: Property) -> list[tuple[str, str | None]]:
    """(verdict, error) of the Hypothesis search and of the sweep."""
    searched = search(prop, None, CI, CPU, seed=1)
    swept = sweep(prop, None, CI, CPU, count=5000, seed=1)
    return [(searched.verdict, searched.error), (swept.verdict, swept.error)]


# 1. a non-finite scale -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_scale_is_an_error_in_both_paths(bad: float) -> None:
    """lhs = x + 5 > rhs = 1 everywhere, hidden behind a scale of nan or inf: it used to
    hold (exit 0)."""

    def measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
        x = batch["x"]
        return Measurement(lhs=x + 5, rhs=torch.ones_like(x), scale=torch.full_like(x, bad))

    for verdict, error in _both_paths(_property(measure)):
        assert verdict == "error"
        assert "non-finite scale" in (error or "")


# 2. sides of the wrong shape or type -----------------------------------------------------


def _shaped(lhs_columns: int | None, rhs_columns: int | None):  # type: ignore[no-untyped-def]
    def measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
        x = batch["x"]

        def side(columns: int | None, value: float) -> torch.Tensor:
            base = torch.full_like(x, value)
            return base if columns is None else base.unsqueeze(-1).expand(-1, columns)

        return Measurement(lhs=side(lhs_columns, 0.0), rhs=side(rhs_columns, 1.0))

    return measure


@pytest.mark.parametrize(("lhs", "rhs"), [(1, 3), (3, 2), (None, 3), (2, None)])
def test_sides_of_different_shapes_are_an_error_naming_both(
    lhs: int | None, rhs: int | None
) -> None:
    """(B, 1) against (B, 3) was broadcast and could hold; (B, 3) against (B, 2) gave a
    counterexample of nonsense."""
    for verdict, error in _both_paths(_property(_shaped(lhs, rhs))):
        assert verdict == "error"
        assert "lhs (" in (error or "") and "rhs (" in (error or "")


@pytest.mark.parametrize(
    "returned",
    [
        lambda x: Measurement(lhs=0.0, rhs=1.0),  # type: ignore[arg-type]
        lambda x: Measurement(lhs=[0.0], rhs=[1.0]),  # type: ignore[arg-type]
        lambda x: (x, x),
        lambda x: Measurement(lhs=x.reshape(-1)[0], rhs=x.reshape(-1)[0]),
    ],
    ids=["floats", "lists", "a tuple", "0-d tensors"],
)
def test_a_measure_that_returns_no_tensors_is_one_clear_error(returned) -> None:  # type: ignore[no-untyped-def]
    def measure(batch: Batch, constants: Mapping[str, float]):  # type: ignore[no-untyped-def]
        return returned(batch["x"])

    for verdict, error in _both_paths(_property(measure)):
        assert verdict == "error"
        assert "expected" in (error or "") and "Error" not in (error or "").split(":")[0]


# 3. sides in another precision -----------------------------------------------------------


def test_a_side_in_float32_is_an_error() -> None:
    def measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
        x = batch["x"]
        return Measurement(lhs=(x * 0).float(), rhs=torch.ones_like(x))

    for verdict, error in _both_paths(_property(measure)):
        assert verdict == "error" and "float32" in (error or "")


def test_a_hidden_mutant_of_convex_gd_gets_its_bound_in_float64() -> None:
    """offset 2.2: 4K + 2.2 with K an integer tensor was computed in float32."""
    prop = discover().entries["convergence.convex_gd"].prop_for("quadratic")
    assert prop is not None
    params = {"spectrum": [1.0], "rotation": [[1.0]], "x0": [1.0], "K": 1, "a": 1.0}
    evaluation = evaluate(prop, params, {"offset": 2.2}, CPU)
    assert evaluation.rhs == 1 / 6.2


# 5. rounding is not a counterexample -----------------------------------------------------


def _cancellation(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """((1 + x) - 1) - x <= 0: exactly 0 <= 0, computed as a residue of about eps."""
    x = batch["x"]
    residue = ((1 + x) - 1) - x
    return Measurement(lhs=residue * constants["c"], rhs=torch.zeros_like(x))


def test_a_violation_made_of_rounding_is_set_aside_not_reported() -> None:
    """The measure gives no scale, so its rounding residue of 1e-17 breaks 0 <= 0 by far
    more than rtol: the rounding check must see that a few ulps away it moves as much."""
    prop = Property(toy_claim(), toy_instances, _cancellation, lambda p: 1, sweep=_uniform)
    searched = search(prop, None, CI, CPU, seed=2)
    assert searched.verdict == "holds" and searched.counterexample is None
    assert searched.rounding_only > 0
    swept = sweep(prop, None, CI, CPU, count=5000, seed=2)
    assert swept.verdict == "holds" and swept.rounding_only > 0


def test_a_real_violation_survives_the_rounding_check() -> None:
    claim = toy_claim(mutants=(Mutant("0.999", "c -> 0.999", {"c": 0.999}),))
    prop = Property(claim, toy_instances, lambda b, c: Measurement(
        lhs=b["x"] * b["x"], rhs=c["c"] * b["x"] * b["x"]), lambda p: 1)  # fmt: skip
    outcome = search(prop, claim.mutants[0], CI, CPU, seed=1)
    assert outcome.verdict == "fails" and outcome.rounding_only == 0


def test_first_order_error_mutant_is_not_shown_at_an_exact_cancellation() -> None:
    """The instance the 0.99 aL mutant used to be shown at: spectrum [1, 0, 0, 0], x0 =
    e_4, a*L = 1. grad f(U_a(x)) is exactly 0 there and both sides are rounding; the
    scale now counts the terms that gradient is computed from."""
    prop = discover().entries["meta.first_order_error"].prop_for("quadratic")
    assert prop is not None
    eye = torch.eye(4, dtype=torch.float64).tolist()
    params = {"spectrum": [1.0, 0.0, 0.0, 0.0], "rotation": eye,
              "x0": [0.0, 0.0, 0.0, 1.0], "a": 1.0, "K": 1}  # fmt: skip
    mutant = prop.claim.mutants[0]
    assert not evaluate(prop, params, prop.claim.constants_for(mutant), CPU).violates(
        prop.claim.rtol
    )
    rotated = [[0.5, 0.5, 0.5, 0.5], [0.5, -0.5, 0.5, -0.5],
               [0.5, 0.5, -0.5, -0.5], [0.5, -0.5, -0.5, 0.5]]  # fmt: skip
    params["rotation"] = rotated  # the top eigenvector no longer along x0: same story
    assert not evaluate(prop, params, prop.claim.constants_for(mutant), CPU).violates(
        prop.claim.rtol
    )


def test_first_order_error_mutant_is_still_refuted() -> None:
    entry = discover().entries["meta.first_order_error"]
    claim = entry.claim
    outcome = search_models(entry.props, claim.mutants[0], CI, CPU, seed=4)
    assert outcome.verdict == "fails"
    found = outcome.counterexample
    assert found is not None and found.lhs - found.rhs > 1e-6 * found.rhs


# 6. the worst margin is measured, not capped ---------------------------------------------


def _near_identity(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """(1 + x) - 1 == x, rounded at the size of 1 + |x|."""
    x = batch["x"]
    return Measurement(lhs=(1 + x) - 1, rhs=x, scale=1 + x.abs())


def test_an_identity_reports_its_measured_worst_difference() -> None:
    """It agrees to about 1e-16 of its terms; relative to |x| (tiny x) the differences
    are anything, and the tracker used to keep those just above -rtol: -9.99e-13."""

    def tiny(profile: Profile) -> st.SearchStrategy[Params]:
        return st.fixed_dictionaries({"x": st.floats(-1.0, 1.0) | st.floats(-1e-9, 1e-9)})

    claim = toy_claim(kind="identity")
    outcome = search(Property(claim, tiny, _near_identity, lambda p: 1), None, CI, CPU, seed=3)
    assert outcome.verdict == "holds"
    assert outcome.worst_margin is not None
    assert -5e-16 <= outcome.worst_margin <= 0.0


# honest scope ----------------------------------------------------------------------------


def test_an_outcome_states_the_domain_it_searched() -> None:
    entry = discover().entries["smoothing.quadratic_rate"]
    outcome = search_models(entry.props, None, CI, CPU, seed=1)
    domain = outcome.domain
    assert 1 <= domain["dimension"][0] <= domain["dimension"][1] <= CI.max_dimension
    assert 1 <= domain["steps"][0] <= domain["steps"][1] <= CI.max_steps
    assert 0 < domain["a*L"][0] <= domain["a*L"][1] <= 1.0


def test_the_frontiers_two_ends_print_differently() -> None:
    """A bisection ends one ulp apart: with 12 significant digits it read "holds at 2,
    fails at 2"."""
    from trajcheck.report.summary import frontier_text

    ends = {"holds_at": 2.0, "fails_at": math.nextafter(2.0, 3.0)}
    claim = {"frontier": {"located": True, "label": "a*L", "boundary": 2.0, **ends}}
    assert "(holds at 2.0, fails at 2.0000000000000004)" in frontier_text(claim)


def test_the_rounding_check_survives_torch_func_hessians() -> None:
    """A violation on the tanh network is re-measured under random rounding through
    torch.func.hessian, whose forward mode makes ZeroTensors; jittering one crashed the
    whole process (a segmentation fault, torch 2.13), hence a separate process here."""
    script = (
        "import torch\n"
        "from trajcheck.discovery import discover\n"
        "from trajcheck.modes.sweep import sweep\n"
        "from trajcheck.profiles import get_profile\n"
        "entry = discover().entries['meta.gradient_identity']\n"
        "prop = next(p for p in entry.props if p.model == 'tanh-network')\n"
        "o = sweep(prop, entry.claim.mutants[0], get_profile('ci'), torch.device('cpu'), 2048, 1)\n"
        "print(o.verdict)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "fails"


# a value seen only inside a batch --------------------------------------------------------


def _batch_dependent(shift: float):  # type: ignore[no-untyped-def]
    """A broken measure: true for a batch of one, but the first instance of every larger
    batch gets lhs = rhs + ``shift`` (a reduction across the batch is the classic slip)."""

    def measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
        x = batch["x"]
        lhs = x.clone()
        if x.shape[0] > 1:
            lhs[0] = x[0] + shift
        return Measurement(lhs=lhs, rhs=x + 1)

    return measure


def test_a_violation_seen_only_in_a_batch_is_an_error_not_a_pass() -> None:
    """It used to be re-measured alone under random rounding, found to hold there, and set
    aside as rounding: verdict holds, exit 0, no violation counted."""
    swept = sweep(_property(_batch_dependent(6.0)), None, CI, CPU, count=5000, seed=1)
    assert swept.verdict == "error"
    assert swept.error is not None
    assert "does not reproduce alone" in swept.error and "batch of 1024" in swept.error
    assert "lhs=" in swept.error and "instance {'x':" in swept.error


def test_an_honest_batch_reproduces_alone() -> None:
    """The check costs a true claim nothing: the same measure without the slip holds."""
    swept = sweep(_property(_batch_dependent(0.0)), None, CI, CPU, count=5000, seed=1)
    assert (swept.verdict, swept.error) == ("holds", None)
