"""The runner: margins, verdicts, errors, shrinking and reproducibility."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import pytest
import torch

from tests.helpers import nan_measure, raising_measure, toy_claim, toy_property
from trajcheck.core import CensusRule, Measurement, Mutant, Property
from trajcheck.evaluation import evaluate, margins
from trajcheck.modes.census import census_seed, failure_statistics
from trajcheck.profiles import get_profile
from trajcheck.runner import run_claim, search, search_models, seeds_of
from trajcheck.tracking import margin_histogram

CPU = torch.device("cpu")
CI = get_profile("ci")


def test_margin_is_relative_to_rhs_or_scale() -> None:
    lhs, rhs = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0])
    assert margins(lhs, rhs, None).tolist() == [0.5, -0.5]
    scale = torch.tensor([4.0, 1.0])
    assert margins(lhs, rhs, scale).tolist() == [0.25, -0.5]
    parts = margins(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([8.0]))
    assert parts.tolist() == [[0.125, 0.0]]


def test_true_claim_holds_and_reports_its_tightness() -> None:
    outcome = search(toy_property(), None, CI, CPU)
    assert outcome.verdict == "holds"
    assert outcome.examples >= CI.examples
    assert outcome.worst_margin == 0.0  # x^2 <= x^2 is tight everywhere


def test_mutant_is_refuted_and_shrunk() -> None:
    claim = toy_claim(mutants=(Mutant("half", "c -> 0.5", {"c": 0.5}),))
    outcome = search(toy_property(claim), claim.mutants[0], CI, CPU)
    assert outcome.verdict == "fails"
    found = outcome.counterexample
    assert found is not None and found.margin < 0
    assert found.params["x"] != 0.0  # x = 0 satisfies the mutant; every other x breaks it
    assert found.lhs == pytest.approx(found.params["x"] ** 2)


def test_nan_side_is_an_error_never_a_pass() -> None:
    outcome = search(toy_property(measure=nan_measure), None, CI, CPU)
    assert outcome.verdict == "error"
    assert "non-finite" in (outcome.error or "")


def test_raising_measure_is_an_error_and_does_not_propagate() -> None:
    result = run_claim([toy_property(measure=raising_measure)], {}, CI, CPU)
    assert result.outcome.verdict == "error"
    assert "the model broke" in (result.outcome.error or "")
    assert not result.as_expected


def test_identity_claims_are_two_sided() -> None:
    claim = toy_claim(kind="identity", constants={"c": 1.0})

    def off_by_a_bit(batch, constants) -> Measurement:  # type: ignore[no-untyped-def]
        x = batch["x"]
        return Measurement(lhs=x * x + (1.0 - 1e-3), rhs=x * x + 1.0)

    prop = toy_property(claim, off_by_a_bit)
    evaluation = evaluate(prop, {"x": 0.0}, claim.constants, CPU)
    assert evaluation.margin == pytest.approx(-1e-3)  # lhs < rhs still breaks an identity
    assert search(prop, None, CI, CPU).verdict == "fails"


def test_seeded_searches_repeat_exactly() -> None:
    claim = toy_claim(mutants=(Mutant("half", "c -> 0.5", {"c": 0.5}),))
    first = search(toy_property(claim), claim.mutants[0], CI, CPU, seed=7)
    second = search(toy_property(claim), claim.mutants[0], CI, CPU, seed=7)
    assert first.counterexample is not None and second.counterexample is not None
    assert first.counterexample.params == second.counterexample.params
    assert first.examples == second.examples


def test_surviving_mutant_makes_the_result_unexpected() -> None:
    claim = toy_claim(mutants=(Mutant("looser", "c -> 2", {"c": 2.0}),))
    result = run_claim([toy_property(claim)], {}, CI, CPU)
    assert result.outcome.verdict == "holds"
    assert result.mutants[0].outcome.verdict == "holds"
    assert not result.as_expected
    assert not math.isnan(result.outcome.seconds)


def test_claim_rejects_mutants_of_unknown_constants() -> None:
    with pytest.raises(ValueError, match="unknown"):
        toy_claim(mutants=(Mutant("bad", "d -> 1", {"d": 1.0}),))


def test_a_claim_fails_where_any_of_its_models_fails() -> None:
    claim = toy_claim(mutants=(Mutant("half", "c -> 0.5", {"c": 0.5}),))

    def broken(batch, constants) -> Measurement:  # type: ignore[no-untyped-def]
        x = batch["x"]
        return Measurement(lhs=x * x + 1.0, rhs=constants["c"] * x * x)

    sound = toy_property(claim)
    unsound = Property(claim, sound.instances, broken, sound.dimension, model="unsound")
    outcome = search_models([sound, unsound], None, CI, CPU)
    assert outcome.verdict == "fails"
    assert [name for name, _ in outcome.models] == ["instances", "unsound"]
    assert outcome.counterexample is not None and outcome.counterexample.model == "unsound"
    assert outcome.examples == sum(o.examples for _, o in outcome.models)
    # the claim's budget is shared between its models
    assert outcome.models[0][1].examples == CI.examples // 2
    # a mutant stops at the first model that refutes it
    mutant = search_models([sound, unsound], claim.mutants[0], CI, CPU)
    assert mutant.verdict == "fails" and len(mutant.models) == 1


def test_margin_histogram_counts_decades_and_the_attained() -> None:
    histogram = margin_histogram([1e-20, 0.5, 3e-13, 0.0, -1e-15, 1e9, 2.0])
    counts = dict(zip(histogram["log10_edges"], histogram["counts"], strict=False))
    assert histogram["at_or_below_zero"] == 2
    assert counts[-16] == 1  # 1e-20 lands in the first bin
    assert counts[-13] == 1 and counts[-1] == 1 and counts[0] == 1
    assert counts[5] == 1  # 1e9 lands in the last bin
    identity = margin_histogram([-1e-14, 0.0], identity=True)
    assert identity["of"] == "relative difference" and identity["at_or_below_zero"] == 1


def _census_property(cid: str, measured: list[float]) -> Property:
    """x^2 <= 0.25 on x in [-1, 1] (false for |x| > 1/2) as a census, recording the x it
    measures."""

    def measure(batch, constants):  # type: ignore[no-untyped-def]
        measured.extend(batch["x"].tolist())
        return Measurement(lhs=batch["x"] ** 2, rhs=torch.full_like(batch["x"], 0.25))

    claim = toy_claim(cid, kind="conjecture", expected="open")
    return Property(
        claim, toy_property().instances, measure, lambda params: 1, census=True,
        max_examples=lambda profile: 20,
    )  # fmt: skip


def test_a_census_counts_every_instance_and_shrinks_none() -> None:
    measured: list[float] = []
    outcome = search_models([_census_property("toy.census", measured)], None, CI, CPU)
    assert outcome.census is not None
    instances = outcome.census["instances"]
    assert outcome.examples == len(instances) == len(measured) <= 20
    violated = [entry for entry in instances if entry["violated"]]
    assert [e["violated"] for e in instances] == [x * x > 0.25 for x in measured]
    assert violated and len(violated) < len(instances)  # 20 draws in [-1, 1] hit both
    assert outcome.verdict == "fails"
    found = outcome.counterexample  # the worst violation counted, as drawn, not shrunk
    assert found is not None and found.params["x"] ** 2 == max(x * x for x in measured)
    assert "census" in found.found_by


@pytest.mark.parametrize(
    ("failures", "count", "max_failure", "decision"),
    [
        (0, 16, 0.25, "holds"),  # upper end 0.194
        (1, 16, 0.25, "fails"),  # upper end 0.283
        (3, 32, 0.25, "holds"),  # upper end 0.242
        (4, 32, 0.25, "fails"),  # upper end 0.284
        (0, 5, 0.0, "holds"),  # strict: nothing failed
        (1, 1000, 0.0, "fails"),  # strict: one failure refutes
        (40, 100, 0.5, "holds"),
        (45, 100, 0.5, "fails"),
    ],
)
def test_a_census_rule_reads_the_wilson_interval(failures, count, max_failure, decision) -> None:  # type: ignore[no-untyped-def]
    from scipy.stats import binomtest

    statistics = failure_statistics(failures, count, CensusRule(max_failure))
    expected = binomtest(failures, count).proportion_ci(0.95, method="wilson")
    assert statistics["interval"] == pytest.approx([expected.low, expected.high])
    assert statistics["proportion"] == failures / count
    assert statistics["decision"] == decision


def test_a_census_rule_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="max_failure"):
        CensusRule(max_failure=1.0)
    with pytest.raises(ValueError, match="confidence"):
        CensusRule(confidence=1.0)


def _sampled_census(cid: str, max_failure: float, prepared: list[list[float]],
                    measured: list[float]) -> Property:  # fmt: skip
    """x^2 <= 0.25 for x uniform in [-1, 1]: it fails with probability 1/2. Drawn by a
    sampler, prepared in one call, measured one by one."""

    def sample(count, generator, profile, device):  # type: ignore[no-untyped-def]
        return {"x": torch.rand(count, generator=generator, dtype=torch.float64) * 2 - 1}

    def prepare(instances, device):  # type: ignore[no-untyped-def]
        assert not measured, "prepare runs before any measure"
        prepared.append([p["x"] for p in instances])

    def measure(batch, constants):  # type: ignore[no-untyped-def]
        measured.extend(batch["x"].tolist())
        return Measurement(lhs=batch["x"] ** 2, rhs=torch.full_like(batch["x"], 0.25))

    claim = dataclasses.replace(
        toy_claim(cid, kind="conjecture", expected="open"),
        census_rule=CensusRule(max_failure=max_failure),
    )
    return Property(
        claim, toy_property().instances, measure, lambda params: 1, census=True,
        max_examples=lambda profile: 200, sample=sample, prepare=prepare,
    )  # fmt: skip


@pytest.mark.parametrize(("max_failure", "verdict"), [(0.75, "holds"), (0.3, "fails")])
def test_a_sampled_census_is_prepared_whole_and_judged_by_its_rule(max_failure, verdict) -> None:  # type: ignore[no-untyped-def]
    prepared: list[list[float]] = []
    measured: list[float] = []
    prop = _sampled_census("toy.sampled", max_failure, prepared, measured)
    outcome = search_models([prop], None, CI, CPU, seed=3)
    census = outcome.census
    assert census is not None and census["drawn_by"] == "independent draws"
    assert len(prepared) == 1 and prepared[0] == measured and len(measured) == 200
    failures = sum(x * x > 0.25 for x in measured)
    assert census["failures"] == failures and census["count"] == 200
    low, high = census["interval"]
    assert low < failures / 200 < high and high - low < 0.2
    assert outcome.verdict == verdict
    assert (outcome.counterexample is not None) == (verdict == "fails")


def test_the_claims_of_a_family_draw_the_same_census_in_one_run() -> None:
    first: list[float] = []
    second: list[float] = []
    other_run: list[float] = []
    search_models([_census_property("toy.census_a", first)], None, CI, CPU, session=7)
    search_models([_census_property("toy.census_b", second)], None, CI, CPU, session=7)
    search_models([_census_property("toy.census_c", other_run)], None, CI, CPU, session=8)
    assert first == second and len(first) > 1
    assert other_run != first


def test_a_census_seed_is_the_same_in_every_process_of_a_run() -> None:
    """The seed comes from the family and the run's key, not from a process's state (its
    hash seed included): the claims of a family that pytest-xdist sends to different
    workers draw the same experiments."""
    code = "from trajcheck.modes.census import census_seed; print(census_seed('cot', None, 7))"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }  # fmt: skip
    assert seen == {str(census_seed("cot", None, 7))}
    assert census_seed("cot", 5, 7) == 5  # a seeded run's census draws with its seed
    assert census_seed("cot", None, 7) != census_seed("icl", None, 7)


def test_each_seed_of_a_profile_searches_anew_and_the_counts_add_up() -> None:
    """seeds = 3: the run's seed first, then two derived ones, distinct and the same every
    time; the outcome counts every seed's examples and swept instances."""
    assert seeds_of(5, 3)[0] == 5 and len(set(seeds_of(5, 3))) == 3
    assert seeds_of(5, 3) == seeds_of(5, 3) and seeds_of(None, 2) == [None, None]
    prop = toy_property()
    swept = dataclasses.replace(prop, sweep=_uniform_sweep)
    three = dataclasses.replace(CI, seeds=3, sweep=1000)
    outcome = search_models([swept], None, three, CPU, seed=5)
    assert outcome.verdict == "holds"
    assert outcome.examples >= 3 * CI.examples and outcome.swept == 3000


def test_the_seeds_stop_at_the_first_that_refutes() -> None:
    claim = toy_claim(mutants=(Mutant("0.5", "c -> 0.5", {"c": 0.5}),))
    three = dataclasses.replace(CI, seeds=3, sweep=0)
    outcome = search_models([toy_property(claim)], claim.mutants[0], three, CPU, seed=5)
    assert outcome.verdict == "fails" and outcome.examples < 2 * CI.mutant_examples


def _uniform_sweep(count, generator, profile, device):  # type: ignore[no-untyped-def]
    return {"x": 2 * torch.rand(count, generator=generator, dtype=torch.float64) - 1}
