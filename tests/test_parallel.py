"""A run spread over units of work: the same results however the units are spread, run
or lost (``trajcheck.work``, ``trajcheck.driver``, ``trajcheck.executors``).

The first tests drive the merge with an executor that hands the units back in a random
order, in this process; the slow ones run real worker processes and a real Dask
cluster, and kill a worker."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.helpers import toy_claim, toy_measure, toy_property
from trajcheck.cli import HASH_SEED, main
from trajcheck.compare import comparable
from trajcheck.core import Measurement, Mutant, Property, Result
from trajcheck.discovery import Catalogue
from trajcheck.driver import WorkerLost, run_entries
from trajcheck.profiles import get_profile
from trajcheck.runner import run_claim
from trajcheck.work import (
    FamilyJob,
    Job,
    SearchJob,
    Settings,
    Unit,
    import_every_module,
    plan,
    run_job,
)

CPU = torch.device("cpu")
#: three seeds (shards) per model and a small sweep: every way a search can stop early
THREE = dataclasses.replace(get_profile("ci"), seeds=3, sweep=200, examples=60,
                            mutant_examples=60)  # fmt: skip


def _broken(batch, constants) -> Measurement:  # type: ignore[no-untyped-def]
    x = batch["x"]
    return Measurement(lhs=x * x + 1e-3 * (x > 0.9), rhs=constants["c"] * x * x)


def _uniform_sweep(count, generator, profile, device):  # type: ignore[no-untyped-def]
    return {"x": 2 * torch.rand(count, generator=generator, dtype=torch.float64) - 1}


def _catalogue() -> Catalogue:
    """Two claims: one that holds, with mutants, and one with a model that breaks it
    only near x = 1 (a shard may miss it), both swept."""
    mutants = (Mutant("half", "c -> 0.5", {"c": 0.5}), Mutant("near", "c -> 0.999", {"c": 0.999}))
    sound_claim = toy_claim("toy.sound", mutants=mutants)
    broken_claim = toy_claim("toy.broken", mutants=mutants[:1])
    props = []
    for claim, measure in ((sound_claim, toy_measure), (broken_claim, _broken)):
        first = dataclasses.replace(toy_property(claim), sweep=_uniform_sweep)
        second = Property(claim, first.instances, measure, first.dimension, model="edge")
        props += [(first, "test"), (second, "test")]
    return Catalogue(props)


def _settings(seed: int | None = 11) -> Settings:
    return Settings(modules=(), profile=THREE, device="cpu", seed=seed, session=5)


class Shuffled:
    """Runs the jobs in this process but hands them back in a random order, a few at a
    time, as workers would; ``lose`` names units whose worker dies."""

    def __init__(self, catalogue: Catalogue, seed: int, lose: frozenset[Unit] = frozenset()):
        self.catalogue, self.rng, self.lose = catalogue, random.Random(seed), lose
        self.pending: list[tuple[object, Settings, Job]] = []
        self.cancelled = 0
        self.description = {"kind": "shuffled"}

    def submit(self, settings: Settings, job: Job) -> object:
        handle = object()
        self.pending.append((handle, settings, job))
        return handle

    def completed(self, timeout: float) -> list[tuple[object, Any]]:
        self.rng.shuffle(self.pending)
        taken, self.pending = self.pending[:3], self.pending[3:]
        answers: list[tuple[object, Any]] = []
        for handle, settings, job in taken:
            if isinstance(job, SearchJob) and job.unit in self.lose:
                answers.append((handle, WorkerLost("its worker process died (killed by SIGKILL)")))
            else:
                answers.append((handle, run_job(settings, job, self.catalogue)))
        return answers

    def cancel(self, handle: object) -> None:
        self.pending = [item for item in self.pending if item[0] is not handle]
        self.cancelled += 1

    def close(self) -> None:
        self.pending.clear()


def _comparable(result: Result) -> dict[str, Any]:
    """A result's JSON without its times."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "seconds"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(result.to_json())  # type: ignore[no-any-return]


@pytest.mark.parametrize("order", [0, 1, 2])
def test_units_finishing_in_any_order_merge_to_the_sequential_result(order: int) -> None:
    """Every shard of every model and mutant, handed back in a random order: the results
    equal the sequential runner's (which stops each search at its first violation), and
    the units such a stop makes moot were cancelled or ignored."""
    catalogue = _catalogue()
    entries = list(catalogue)
    # the modules a job imports first, imported before the sequential run too: Hypothesis
    # draws constants from the local modules a process has loaded (trajcheck.work says why)
    import_every_module()
    sequential = [
        run_claim(e.props, e.origin_by_model, THREE, CPU, seed=11, session=5) for e in entries
    ]
    executor = Shuffled(catalogue, order)
    heard: list[str] = []
    results = run_entries(
        entries, _settings(), executor, on_claim=lambda r: heard.append(r.claim.id)
    )
    for parallel, alone in zip(results, sequential, strict=True):
        assert _comparable(parallel) == _comparable(alone)
    assert sorted(heard) == ["toy.broken", "toy.sound"]
    assert results[1].outcome.verdict == "fails"  # the edge model breaks it
    assert all(m.outcome.verdict == "fails" for r in results for m in r.mutants)


def test_a_lost_unit_is_an_error_with_its_reason_and_the_rest_is_complete() -> None:
    catalogue = _catalogue()
    entries = list(catalogue)
    lost = Unit("toy.sound", None, "edge", 0)
    results = run_entries(entries, _settings(), Shuffled(catalogue, 3, frozenset({lost})))
    sound, broken = results
    assert sound.outcome.verdict == "error" and not sound.as_expected
    assert "toy.sound [edge, shard 1]: its worker process died (killed by SIGKILL)" in (
        sound.outcome.error or ""
    )
    assert all(m.outcome.verdict == "fails" for m in sound.mutants)  # its other searches ran
    assert broken.outcome.verdict == "fails" and broken.outcome.error is None


def test_a_census_family_is_one_job_and_every_other_claim_is_its_units() -> None:
    def census(cid: str) -> Property:
        return dataclasses.replace(toy_property(toy_claim(cid)), census=True)

    catalogue = Catalogue([(census("fam.a"), "t"), (toy_property(), "t"), (census("fam.b"), "t")])
    jobs = plan(list(catalogue), THREE)
    families = [j for j in jobs if isinstance(j, FamilyJob)]
    assert families == [FamilyJob(("fam.a", "fam.b"))]
    assert [j.unit.shard for j in jobs if isinstance(j, SearchJob)] == [0, 1, 2]


# -- real processes ---------------------------------------------------------------------

#: the hash seed of a seeded run, which a Dask nanny also gives its workers
ENV = {**os.environ, "PYTHONHASHSEED": HASH_SEED, "PYTHONUNBUFFERED": "1"}
#: claims with sweeps, a shrunk counterexample, a frontier, mutants and a certificate;
#: the census family comes from a --module file (CENSUS), where the catalogue's own (cot,
#: icl.trained_lsa) train models for a minute
FAMILIES = ["descent.lemma", "descent.error_contraction_nonconvex", "convergence.convex_gd"]

CENSUS = textwrap.dedent(
    """
    from hypothesis import strategies as st
    from trajcheck.core import CensusRule, Claim, Measurement, Property

    def claim(cid):
        return Claim(
            id=cid, title="a census", statement="x <= 0.9 for x in [0, 1]", assumptions=(),
            source="established", citation="none", kind="conjecture", expected="open",
            rtol=1e-12, tolerance_note="exact", census_rule=CensusRule(0.2),
        )

    def sample(count, generator, profile, device):
        import torch
        return {"x": torch.rand(count, generator=generator, dtype=torch.float64)}

    def measure(batch, constants):
        return Measurement(lhs=batch["x"], rhs=0.9 + 0 * batch["x"])

    FIRST, SECOND = (
        Property(claim(cid), lambda profile: st.fixed_dictionaries({"x": st.floats(0, 1)}),
                 measure, lambda params: 1, census=True, sample=sample,
                 max_examples=lambda profile: 40)
        for cid in ("toycensus.first", "toycensus.second")
    )
    """
)


def _verify(
    out: Path, *extra: str, selectors: list[str] = FAMILIES
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "trajcheck", "verify", *selectors, "--profile", "ci",
               "--seed", "4", "--sweep", "2000", "--out", str(out), *extra]  # fmt: skip
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)


def _document(out: Path) -> dict[str, Any]:
    """results.json without what may differ between two equal runs: times, the date,
    the executor, and the replay commands (which name the folder)."""

    return comparable(json.loads((out / "results.json").read_text()))  # type: ignore[no-any-return]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real Dask scheduler and two one-thread workers on 127.0.0.1, each its own
    process, started as the README says."""
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    python = [sys.executable, "-m"]
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    scheduler = subprocess.Popen(
        [*python, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
         address.rsplit(":", 1)[1], "--no-dashboard"],
        env=ENV, stdout=subprocess.DEVNULL, stderr=(logs / "scheduler").open("w"),
    )  # fmt: skip
    worker = [*python, "distributed.cli.dask_worker", address, "--nthreads", "1",
              "--no-dashboard", "--resources", "trajcheck=1"]  # fmt: skip
    workers = [
        subprocess.Popen(
            [*worker, "--name", f"w{i}"],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=(logs / f"worker{i}").open("w"),
        )
        for i in range(2)
    ]
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in [*workers, scheduler]:
            process.terminate()
        for process in [*workers, scheduler]:
            process.wait(timeout=60)


@pytest.mark.slow
def test_jobs_1_jobs_2_and_a_dask_cluster_give_the_same_results(
    tmp_path: Path, dask_cluster: str
) -> None:
    runs = {
        "jobs 1": ("--jobs", "1"),
        "jobs 2": ("--jobs", "2"),
        "dask": ("--scheduler", dask_cluster),
    }
    module = tmp_path / "census.py"
    module.write_text(CENSUS)
    documents = {}
    for name, extra in runs.items():
        out = tmp_path / name.replace(" ", "")
        done = _verify(out, "--module", str(module), *extra,
                       selectors=[*FAMILIES, "toycensus"])  # fmt: skip
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        documents[name] = _document(out)
        executor = json.loads((out / "results.json").read_text())["executor"]
        assert executor["kind"] == {"jobs 1": "this process", "jobs 2": "processes",
                                    "dask": "dask"}[name]  # fmt: skip
        if name == "dask":
            assert executor["workers"] == 2 and executor["one job per worker"]
    assert documents["jobs 2"] == documents["jobs 1"]
    assert documents["dask"] == documents["jobs 1"]
    census = [c["census"] for c in documents["jobs 1"]["claims"] if c.get("census")]
    assert len(census) == 2 and census[0]["instances"] == census[1]["instances"]


KILLER = textwrap.dedent(
    """
    import os, signal
    from hypothesis import strategies as st
    from trajcheck.core import Claim, Measurement, Property

    CLAIM = Claim(
        id="lost.worker", title="a measure that kills its process",
        statement="x <= 1", assumptions=(), source="established", citation="none",
        kind="theorem", expected="holds", rtol=1e-12, tolerance_note="exact",
    )

    def measure(batch, constants):
        os.kill(os.getpid(), signal.SIGKILL)
        return Measurement(lhs=batch["x"], rhs=batch["x"])

    PROPERTY = Property(
        CLAIM, lambda profile: st.fixed_dictionaries({"x": st.floats(0, 1)}), measure,
        lambda params: 1,
    )
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("executor", [("--jobs", "2"), ("--scheduler", "local", "--jobs", "2")])
def test_a_killed_worker_is_an_error_for_its_unit_and_the_rest_is_reported(
    tmp_path: Path, executor: tuple[str, ...]
) -> None:
    if executor[0] == "--scheduler":
        pytest.importorskip("distributed")
    module = tmp_path / "killer.py"
    module.write_text(KILLER)
    out = tmp_path / "run"
    done = _verify(out, "--module", str(module), *executor,
                   selectors=["lost.worker", "smoothing.quadratic_rate"])  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    claims = {c["id"]: c for c in json.loads((out / "results.json").read_text())["claims"]}
    lost = claims["lost.worker"]
    assert lost["verdict"] == "error"
    reason = "killed by SIGKILL" if executor[0] == "--jobs" else "Dask worker was lost, 3 times"
    assert "lost.worker [instances, shard 1]" in lost["error"] and reason in lost["error"]
    rest = claims["smoothing.quadratic_rate"]
    assert rest["verdict"] == "holds" and rest["examples"] > 0, (
        rest.get("error"),
        done.stderr[-3000:],
    )
    assert all(m["verdict"] == "fails" for m in rest["mutants"])
    assert (out / "report.html").is_file() and (out / "report.md").is_file()


def test_without_dask_the_scheduler_option_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # an import of it fails
    code = main(["verify", "descent.lemma", "--scheduler", "local", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "pip install 'trajcheck[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jobs", "0"], "--jobs"),
        (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:9"], "--jobs with --scheduler"),
    ],
)
def test_bad_parallel_options_are_usage_errors(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "descent.lemma", *args, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    done = _verify(tmp_path / "r", "--scheduler", f"tcp://127.0.0.1:{_free_port()}",
                   selectors=["descent.lemma"])  # fmt: skip
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("trajcheck: error")]
    assert len(lines) == 1 and "cannot reach a Dask scheduler" in lines[0], done.stderr
    assert not (tmp_path / "r").exists()
