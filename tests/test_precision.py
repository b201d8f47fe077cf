"""No side is computed in float32 behind the run's back.

torch promotes an int64 tensor combined with a Python float to its *default* dtype,
float32 unless set: ``4 * K + 2.2`` with K an integer tensor rounds to 6.19999981, and a
bound built on it is off by 3e-8 relative while its dtype still says float64. The engine
measures under the run's default dtype (float64), so a search never sees it; this test
measures every property under both defaults, with constants moved off the values float32
holds exactly, and asks for the same sides bit for bit, so that the bounds are right
however they are called (a study, a notebook, another engine).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from tests.helpers import toy_claim, toy_instances
from trajcheck.core import Profile, Property, to_batch
from trajcheck.discovery import discover
from trajcheck.evaluation import DTYPE, MeasureError, check, measure_batch

CATALOGUE = discover()
CPU = torch.device("cpu")
LIMITS = Profile("ci", max_dimension=4, max_steps=6)
#: Every property but those whose instances are training runs (a census, or a property
#: that opts out of the rounding check for that reason): seconds each, trained in float32
#: on purpose, and checked by their own reproducibility tests.
PROPS = [
    pytest.param(p, id=f"{p.claim.id}[{p.model}]")
    for entry in CATALOGUE
    for p in entry.props
    if not p.census and p.rounding_check
]


def _awkward(constants: dict[str, float]) -> dict[str, float]:
    """Each constant moved by 1/3000 of itself: no longer a float32 number."""
    return {name: value * (1 + 1 / 3000) for name, value in constants.items()}


def _sides(prop: Property, params: dict, default: torch.dtype) -> list[torch.Tensor]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        m = prop.measure(to_batch(params, CPU), _awkward(dict(prop.claim.constants)))
    finally:
        torch.set_default_dtype(previous)
    return [t for t in (m.lhs, m.rhs, m.scale) if t is not None]


@pytest.mark.parametrize("prop", PROPS)
def test_sides_do_not_depend_on_torchs_default_dtype(prop: Property) -> None:
    @settings(
        max_examples=5,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(prop.instances(LIMITS))
    def check_instance(params: dict) -> None:
        in_float32 = _sides(prop, params, torch.float32)
        in_float64 = _sides(prop, params, torch.float64)
        for low, high in zip(in_float32, in_float64, strict=True):
            assert low.dtype == high.dtype == DTYPE
            torch.testing.assert_close(low, high, rtol=0, atol=0, equal_nan=True)

    check_instance()


def test_a_bound_computed_in_float32_is_caught_here() -> None:
    """The test above can fail: a bound written like the old convex_gd one does."""

    def careless(batch, constants):  # type: ignore[no-untyped-def]
        x = batch["x"]
        K = torch.ones_like(x, dtype=torch.int64)
        from trajcheck.core import Measurement

        return Measurement(lhs=x * 0, rhs=x * 0 + 1 / (4 * K + constants["c"]))

    prop = Property(toy_claim(), toy_instances, careless, lambda p: 1)
    assert not torch.equal(
        _sides(prop, {"x": 0.5}, torch.float32)[1], _sides(prop, {"x": 0.5}, torch.float64)[1]
    )


def test_the_engine_measures_under_the_runs_dtype() -> None:
    def careless(batch, constants):  # type: ignore[no-untyped-def]
        from trajcheck.core import Measurement

        x = batch["x"]
        K = torch.ones_like(x, dtype=torch.int64)
        return Measurement(lhs=x * 0, rhs=x * 0 + 1 / (4 * K + 2.2))

    prop = Property(toy_claim(), toy_instances, careless, lambda p: 1)
    measured = measure_batch(prop, to_batch({"x": 0.5}, CPU), {}, 1)
    assert measured.rhs.item() == 1 / 6.2


def test_a_side_in_float32_is_refused() -> None:
    from trajcheck.core import Measurement

    x = torch.ones(3, dtype=torch.float64)
    with pytest.raises(MeasureError, match="float32"):
        check(Measurement(lhs=x.float(), rhs=x), 3)
