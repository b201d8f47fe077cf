"""Bad input gets one line on stderr and exit 2, before any long work, and runs no code:
counterexample files, results documents, --module files and options out of range."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from trajcheck.cli import main
from trajcheck.discovery import discover
from trajcheck.modes.sweep import sweep
from trajcheck.profiles import get_profile

pytestmark = pytest.mark.slow

CLAIM_FILE = """
from pathlib import Path
from hypothesis import strategies as st
from trajcheck.core import Claim, Measurement, Property

Path(__file__).with_suffix(".imported").write_text("this file ran")

CLAIM = Claim(
    id="outside.always_false", title="false", statement="x <= x - 1",
    assumptions=(), source="established", citation="-", kind="conjecture",
    expected="fails", rtol=1e-12, tolerance_note="-",
)


def measure(batch, constants):
    x = batch["x"]
    return Measurement(lhs=x, rhs=x - 1)


PROP = Property(CLAIM, lambda profile: st.fixed_dictionaries({"x": st.floats(0, 1)}),
                measure, lambda params: 1)
"""


def _one_line(capsys) -> str:  # type: ignore[no-untyped-def]
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("trajcheck: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def run_with_module(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run of a claim that comes from a local --module file."""
    folder = tmp_path_factory.mktemp("module")
    claims = folder / "outside_claims.py"
    claims.write_text(CLAIM_FILE)
    out = folder / "run"
    assert main(["verify", "outside", "--module", str(claims), "--profile", "ci",
                 "--seed", "1", "--out", str(out)]) == 0  # fmt: skip
    (folder / "outside_claims.imported").unlink()
    return out, claims


# 12. replay never imports a file named in a counterexample --------------------------------


def test_replay_does_not_import_the_module_a_counterexample_names(
    run_with_module: tuple[Path, Path], capsys
) -> None:  # type: ignore[no-untyped-def]
    out, claims = run_with_module
    file = out / "counterexamples" / "outside.always_false.json"
    assert main(["replay", str(file)]) == 2
    line = _one_line(capsys)
    assert f"--module {claims.resolve()}" in line
    assert not claims.with_suffix(".imported").exists()
    assert main(["replay", str(file), "--module", str(claims)]) == 0
    claims.with_suffix(".imported").unlink()


# 13. malformed documents -----------------------------------------------------------------


@pytest.fixture(scope="module")
def a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["verify", "smoothing.any_step", "--profile", "ci", "--seed", "1",
                 "--out", str(out)]) == 0  # fmt: skip
    return out


def _broken_copy(a_run: Path, tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    copy = tmp_path / "broken"
    shutil.copytree(a_run, copy)
    document = json.loads((copy / "results.json").read_text())
    change(document)
    (copy / "results.json").write_text(json.dumps(document))
    return copy


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["claims"][0].__setitem__("study", "a string"),
        lambda d: d["claims"][0]["mutants"].append(
            {"id": "x~y", "verdict": "fails", "counterexample": 7}
        ),
        lambda d: d["claims"][0].__setitem__("margins", {"counts": "many"}),
        lambda d: d.__setitem__("claims", {"not": "a list"}),
    ],
    ids=["study a string", "mutant counterexample an int", "histogram wrong", "claims a dict"],
)
def test_report_on_a_wrongly_typed_document_is_one_line(a_run: Path, tmp_path: Path, change,
                                                        capsys) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    broken = _broken_copy(a_run, tmp_path, change)
    before = (broken / "report.md").read_bytes()
    assert main(["report", str(broken)]) == 2
    assert "not a trajcheck results document (at $" in _one_line(capsys)
    assert (broken / "report.md").read_bytes() == before


def test_deeply_nested_json_is_one_line(a_run: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "deep"
    shutil.copytree(a_run, broken)
    (broken / "results.json").write_text("[" * 100_000)
    assert main(["report", str(broken)]) == 2
    assert "nested too deeply" in _one_line(capsys)
    bad = tmp_path / "deep.json"
    bad.write_text("[" * 100_000)
    assert main(["replay", str(bad)]) == 2
    assert "nested too deeply" in _one_line(capsys)


def test_replay_of_a_wrongly_typed_counterexample_is_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"claim": "smoothing.any_step", "params": [], "lhs": 1, "rhs": 0}))
    assert main(["replay", str(file)]) == 2
    assert "not a trajcheck counterexample (at $.params" in _one_line(capsys)


def test_index_lists_a_broken_sibling_with_a_note(a_run: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(a_run, tmp_path / "good")
    _broken_copy(a_run, tmp_path, lambda d: d.__setitem__("created", None)).rename(
        tmp_path / "no-date"
    )
    _broken_copy(a_run, tmp_path, lambda d: d.__setitem__("claims", 3)).rename(tmp_path / "bad")
    assert main(["index", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    assert "good" in page and "no-date" in page and "not a trajcheck results document" in page
    assert not list(tmp_path.glob(".index*"))


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """chmod where it binds; as root, the immutable attribute (chattr +i) instead."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode
    ):
        pytest.skip("running as root without chattr +i: no way to make a folder read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_report_and_index_on_a_read_only_folder_are_one_line(a_run: Path, tmp_path: Path,
                                                             capsys) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    copy = tmp_path / "ro" / "run"
    shutil.copytree(a_run, copy)
    with _read_only(copy):
        assert main(["report", str(copy)]) == 2
        assert "cannot write" in _one_line(capsys)
    with _read_only(copy.parent):
        assert main(["index", str(copy.parent)]) == 2
        assert "cannot write index.html" in _one_line(capsys)
        assert main(["report", str(copy)]) in (0, 2)  # the run's own folder is writable
        capsys.readouterr()


# 14. a --module that exits, an instance too large to replay ------------------------------


def test_a_module_that_calls_sys_exit_is_a_usage_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    exiting = tmp_path / "exits.py"
    exiting.write_text("import sys\nsys.exit(0)\n")
    out = tmp_path / "run"
    assert main(["verify", "--module", str(exiting), "--profile", "ci", "--out", str(out)]) == 2
    assert f"--module {exiting}: called sys.exit(0)" in _one_line(capsys)
    assert not out.exists()


def test_replay_refuses_an_instance_beyond_every_profile(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    file = tmp_path / "huge.json"
    params = {"spectrum": [1.0], "rotation": [[1.0]], "a": 3.0, "K": 10**9}
    file.write_text(json.dumps({"claim": "smoothing.any_step", "params": params,
                                "lhs": 1.0, "rhs": 0.5}))  # fmt: skip
    started = time.perf_counter()
    assert main(["replay", str(file)]) == 2
    assert time.perf_counter() - started < 30
    assert "beyond what any profile searches" in _one_line(capsys)


# 15. --sweep has a bound, and memory that does not grow with it ---------------------------


def test_sweep_beyond_its_bound_is_a_usage_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["verify", "smoothing.quadratic", "--sweep", str(10**10)]) == 2
    assert "--sweep" in _one_line(capsys)


def test_sweep_memory_does_not_grow_with_the_instances() -> None:
    """Python memory at the peak of a sweep of 4,096 and of 40,960 instances: the margins
    were kept, 65 bytes an instance; now a histogram and the worst instance are."""
    prop = discover().entries["smoothing.quadratic"].props[0]
    peaks = []
    for count in (4096, 40960):
        tracemalloc.start()
        sweep(prop, None, get_profile("ci"), torch.device("cpu"), count=count, seed=1)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0] + 200_000, peaks


def test_a_claim_file_is_not_run_by_listing_a_folder(tmp_path: Path) -> None:
    """Sanity: discovery runs --module files only when asked."""
    (tmp_path / "outside_claims.py").write_text(CLAIM_FILE)
    result = subprocess.run([sys.executable, "-m", "trajcheck", "list"], cwd=tmp_path,
                            capture_output=True)  # fmt: skip
    assert result.returncode == 0
    assert not (tmp_path / "outside_claims.imported").exists()
