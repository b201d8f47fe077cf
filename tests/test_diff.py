"""``trajcheck diff``: two real runs that differ, identical runs, and each kind of change."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from trajcheck import Run, diff
from trajcheck.cli import main

#: A --module file that binds descent.lemma to a model where its bound does not hold
#: (the lemma's own bound, given twice what it allows): a run with it refutes the claim.
BREAKER = """
from hypothesis import strategies as st

from trajcheck.core import Measurement, Property
from trajcheck_catalogue.theory.descent import LEMMA


def instances(profile):
    return st.fixed_dictionaries({"x": st.floats(0.5, 2.0)})


def measure(batch, constants):
    x = batch["x"]
    return Measurement(lhs=2 * x, rhs=x)


BROKEN = Property(LEMMA, instances, measure, lambda params: 1, model="broken")
"""

RUN = ["verify", "descent.lemma", "--profile", "ci", "--seed", "2", "--sweep", "2000"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run A, run A again, and run B with the breaking module."""
    home = tmp_path_factory.mktemp("diff")
    breaker = home / "breaker.py"
    breaker.write_text(BREAKER)
    folders = {name: home / name for name in ("a", "a_again", "b")}
    assert main([*RUN, "--out", str(folders["a"]), "--jobs", "1"]) == 0
    assert main([*RUN, "--out", str(folders["a_again"]), "--jobs", "1"]) == 0
    assert main([*RUN, "--module", str(breaker), "--out", str(folders["b"])]) == 1
    return folders


def _diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["diff", *args])
    return code, capsys.readouterr().out


@pytest.mark.slow
def test_identical_runs_differ_in_nothing_but_where_they_were_written(runs, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = _diff(capsys, str(runs["a"]), str(runs["a_again"]))
    assert code == 0
    assert "same results (times, executor and folder aside)" in out
    assert out.splitlines()[2:] == [
        "same results (times, executor and folder aside)",
        "no verdict got worse",
    ]
    code, out = _diff(capsys, "--json", str(runs["a"]), str(runs["a_again"]))
    found = json.loads(out)
    assert code == 0 and found["same_results"] and not found["worse"]
    assert found["verdicts"] == found["mutants"] == found["counterexamples"] == []
    assert found["other"] == found["environment"] == []


@pytest.mark.slow
def test_a_claim_broken_by_a_module_is_a_worse_verdict(runs, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = _diff(capsys, str(runs["a"]), str(runs["b"]))
    assert code == 1
    assert "verdict  WORSE   descent.lemma: holds -> fails (NOT as expected)" in out
    assert "counterexample new     descent.lemma: dimension 1 on broken" in out
    assert "a verdict got worse" in out
    code, out = _diff(capsys, "--json", str(runs["a"]), str(runs["b"]))
    found = json.loads(out)
    assert code == 1 and found["worse"] and not found["same_results"]
    (verdict,) = found["verdicts"]
    assert verdict["before"] == {"verdict": "holds", "as_expected": True}
    assert verdict["after"] == {"verdict": "fails", "as_expected": False}
    (counterexample,) = found["counterexamples"]
    assert counterexample["change"] == "new" and counterexample["after"]["model"] == "broken"
    # the other way round the verdict got better: exit 0
    code, out = _diff(capsys, str(runs["b"]), str(runs["a"]))
    assert code == 0 and "verdict  better  descent.lemma" in out
    assert "counterexample gone" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda home: home / "missing", "no such"),
        (lambda home: _write(home / "broken", "{not json"), "unreadable JSON"),
        (lambda home: _write(home / "foreign", '{"claims": 3}'), "not a trajcheck results"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, make, message, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = make(tmp_path)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_document()))
    for args in ([str(bad), str(good)], [str(good), str(bad)]):
        capsys.readouterr()
        assert main(["diff", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    assert main(["diff", str(good), str(good), "--factor", "1"]) == 2
    assert main(["diff", str(good), str(good), "--factor", "nan"]) == 2


def _write(folder: Path, content: str) -> Path:
    folder.mkdir()
    (folder / "results.json").write_text(content)
    return folder


def _document() -> dict[str, Any]:
    """A small results document: one claim, one mutant refuted, margins and environment."""
    found = {"params": {"x": 1.0}, "lhs": 2.0, "rhs": 1.0, "dimension": 1}
    mutant = {"id": "toy.bound~tight", "verdict": "fails", "refuted": True, "counterexample": found}
    claim = {
        "id": "toy.bound", "family": "toy", "kind": "theorem", "source": "established",
        "expected": "holds", "verdict": "holds", "as_expected": True, "examples": 300,
        "seconds": 1.0, "worst_margin": 1e-3, "rtol": 1e-12, "counterexample": None,
        "mutants": [mutant],
    }  # fmt: skip
    return {
        "version": "0.1.0", "format": 2, "profile": "ci", "device": "cpu", "seed": 1,
        "seconds": 1.0, "environment": {"torch": "2.13.0", "python": "3.11.2"},
        "settings": {"examples": 300, "sweep": 10000}, "claims": [claim],
    }  # fmt: skip


def _changed(edit) -> tuple[dict[str, Any], dict[str, Any]]:  # type: ignore[no-untyped-def]
    before = _document()
    after = copy.deepcopy(before)
    edit(after)
    return before, after


def test_a_mutant_that_survives_is_worse_and_one_newly_refuted_is_better() -> None:
    def survive(document: dict[str, Any]) -> None:
        mutant = document["claims"][0]["mutants"][0]
        mutant.update(verdict="holds", refuted=False, counterexample=None)
        document["claims"][0]["as_expected"] = False

    before, after = _changed(survive)
    found = diff(Run(before), Run(after))
    assert found.worse
    assert found.mutants == [
        {"id": "toy.bound~tight", "before": "refuted", "after": "survives (holds)", "worse": True}
    ]
    assert [c["change"] for c in found.counterexamples] == ["gone"]
    back = diff(Run(after), Run(before))
    assert not back.worse and back.mutants[0]["after"] == "refuted"


@pytest.mark.parametrize(
    ("before", "after", "reported"),
    [
        (1e-3, 2e-3, False),  # moved by 2
        (1e-3, 2e-2, True),  # moved by 20
        (1e-3, -1e-3, True),  # changed sign beyond the tolerance
        (1e-15, -3e-14, False),  # both within rtol 1e-12: rounding, not a move
        (1e-15, 1e-9, True),  # 1000 rtol
        (None, 1e-3, False),
    ],
)
def test_a_margin_is_reported_when_it_moved_by_more_than_the_factor(
    before: float | None, after: float | None, reported: bool
) -> None:
    def move(document: dict[str, Any]) -> None:
        document["claims"][0]["worst_margin"] = after

    old, new = _changed(move)
    old["claims"][0]["worst_margin"] = before
    found = diff(Run(old), Run(new), factor=10)
    assert bool(found.margins) is reported
    assert not found.worse  # a margin alone is never a worse verdict


def test_the_environment_differences_are_listed_and_never_worse() -> None:
    def elsewhere(document: dict[str, Any]) -> None:
        document["environment"]["torch"] = "2.14.0"
        document["settings"]["sweep"] = 2000
        document["seed"] = 7
        document["device"] = "cuda"

    found = diff(*(Run(d) for d in _changed(elsewhere)))
    fields = {row["field"]: (row["before"], row["after"]) for row in found.environment}
    assert fields == {
        "torch": ("2.13.0", "2.14.0"),
        "settings.sweep": (10000, 2000),
        "seed": (1, 7),
        "device": ("cpu", "cuda"),
    }
    assert not found.worse and not found.same_results
    assert "environment torch: 2.13.0 -> 2.14.0" in found.text()


def test_claims_only_one_run_has_are_listed() -> None:
    def more(document: dict[str, Any]) -> None:
        extra = copy.deepcopy(document["claims"][0])
        extra["id"] = "toy.other"
        document["claims"].append(extra)

    found = diff(*(Run(d) for d in _changed(more)))
    assert found.only_in_b == ["toy.other"] and found.only_in_a == []
    assert "only in B toy.other" in found.text() and not found.worse
    with pytest.raises(ValueError, match="factor"):
        diff(Run(_document()), Run(_document()), factor=1)


def test_a_difference_below_every_threshold_is_still_named() -> None:
    def more_examples(document: dict[str, Any]) -> None:
        document["claims"][0]["examples"] = 301

    found = diff(*(Run(d) for d in _changed(more_examples)))
    assert found.other == ["toy.bound"] and not found.same_results and not found.worse
    assert "other differences (examples, margins within the factor, ...): toy.bound" in (
        found.text()
    )
