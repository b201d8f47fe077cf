"""The batched sweep: it counts what it tried, finds what the search finds, hands the
shrinking to Hypothesis, and reports its own instance only when the search missed it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from tests.helpers import toy_claim, toy_instances
from trajcheck.core import Batch, Measurement, Profile, Property
from trajcheck.discovery import discover
from trajcheck.modes.sweep import sweep
from trajcheck.profiles import get_profile
from trajcheck.runner import run_claim, search_models

CATALOGUE = discover()
CPU = torch.device("cpu")
CI = get_profile("ci")


def test_sweep_counts_its_instances_and_finds_no_false_alarm() -> None:
    prop = CATALOGUE.entries["smoothing.quadratic"].props[0]
    outcome = sweep(prop, None, CI, CPU, count=20_000, seed=3)
    assert outcome.verdict == "holds" and outcome.swept == 20_000
    assert outcome.worst_margin is not None and outcome.worst_margin > -1e-12


def test_sweep_finds_the_refuted_claim_and_hypothesis_shrinks_it() -> None:
    entry = CATALOGUE.entries["smoothing.any_step"]
    swept = sweep(entry.props[0], None, CI, CPU, count=CI.sweep, seed=3)
    assert swept.verdict == "fails" and swept.counterexample is not None
    assert swept.counterexample.notes["a*L"] > 2
    outcome = search_models(entry.props, None, CI, CPU, seed=3)
    assert outcome.swept > 0
    found = outcome.counterexample
    assert found is not None and found.found_by.startswith("hypothesis") and found.dimension == 1


def test_reports_are_the_same_with_and_without_the_sweep() -> None:
    entry = CATALOGUE.entries["smoothing.any_step"]
    without = dataclasses.replace(CI, sweep=0)
    plain = run_claim(entry.props, entry.origin_by_model, without, CPU, seed=5)
    swept = run_claim(entry.props, entry.origin_by_model, CI, CPU, seed=5)
    assert plain.outcome.swept == 0 and swept.outcome.swept > 0
    assert plain.outcome.verdict == swept.outcome.verdict == "fails"
    assert plain.outcome.counterexample is not None and swept.outcome.counterexample is not None
    assert plain.outcome.counterexample.params == swept.outcome.counterexample.params
    assert plain.outcome.frontier == swept.outcome.frontier


def _threshold(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    x = batch["x"]
    return Measurement(lhs=x, rhs=torch.full_like(x, 1.5))


def _wide_sweep(count: int, generator: torch.Generator, profile: Profile, device) -> Batch:  # type: ignore[no-untyped-def]
    return {"x": 2 * torch.rand(count, generator=generator, dtype=torch.float64, device=device)}


def test_a_violation_only_the_sweep_reaches_is_reported_as_unshrunk() -> None:
    """x <= 1.5: Hypothesis draws x in [-1, 1] and cannot break it; the sweep draws in
    [0, 2] and does. The report says where the counterexample came from."""
    prop = Property(toy_claim(), toy_instances, _threshold, lambda p: 1, sweep=_wide_sweep)
    outcome = search_models([prop], None, CI, CPU, seed=1)
    assert outcome.verdict == "fails"
    assert outcome.counterexample is not None
    assert outcome.counterexample.found_by == "sweep (not shrunk)"
    assert outcome.counterexample.params["x"] > 1.5


def test_a_non_finite_side_in_the_sweep_is_an_error() -> None:
    def nan_sweep(count, generator, profile, device):  # type: ignore[no-untyped-def]
        return {"x": torch.full((count,), float("nan"), dtype=torch.float64)}

    prop = Property(toy_claim(), toy_instances, _threshold, lambda p: 1, sweep=nan_sweep)
    outcome = search_models([prop], None, CI, CPU, seed=1)
    assert outcome.verdict == "error" and "sweep" in (outcome.error or "")
