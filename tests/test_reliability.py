"""Reliability, second round: nothing a user saved is removed, a folder that cannot be
swapped or filled is found out in one line, and every reader refuses what no run writes
(non-finite numbers, integers past float64, special files, impossible instances).

Each test failed before the mechanism it names existed."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import trajcheck
from trajcheck.cli import main
from trajcheck.report.folder import commit, prepare, run_files

pytestmark = pytest.mark.slow

ENV = {**os.environ, "PYTHONHASHSEED": "0"}


def _one_line(capsys) -> str:  # type: ignore[no-untyped-def]
    """The one line of stderr besides the progress lines (a claim finished)."""
    lines = [
        line for line in capsys.readouterr().err.strip().splitlines()
        if not line.startswith("trajcheck: finished ")
    ]  # fmt: skip
    assert len(lines) == 1, lines
    assert lines[0].startswith("trajcheck: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of one refuted claim, under a folder whose name has spaces."""
    out = tmp_path_factory.mktemp("run") / "with spaces" / "run"
    assert main(["verify", "smoothing.any_step", "--profile", "ci", "--seed", "1",
                 "--out", str(out)]) == 0  # fmt: skip
    return out


def _files_of(run: Path) -> dict[str, str]:
    return {name: (run / name).read_text() for name in run_files(run) or set()}


# 2. a run removes only what runs wrote ---------------------------------------------------


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two renames"])
def test_a_file_saved_during_the_run_is_kept(
    a_run: Path, tmp_path: Path, exchange: bool, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """A file written into --out after the check of its contents went away with the
    retired folder; the earlier run's own files must still go."""
    folder = tmp_path / "run"
    shutil.copytree(a_run, folder)
    (folder / "report.md").write_text("the earlier run's report, to be replaced")
    prepared = prepare(folder, force=True)
    (folder / "notes.txt").write_text("saved by the user while the run searched")
    (folder / "mine").mkdir()
    (folder / "mine" / "plot.png").write_bytes(b"\x89PNG")
    if not exchange:
        monkeypatch.setattr("trajcheck.report.folder._exchange", lambda a, b: False)
    try:
        commit(prepared, _files_of(a_run))
    finally:
        prepared.release(keep_created=True)
    assert (folder / "notes.txt").read_text() == "saved by the user while the run searched"
    assert (folder / "mine" / "plot.png").read_bytes() == b"\x89PNG"
    assert (folder / "report.md").read_text() == (a_run / "report.md").read_text()
    assert sorted(p.name for p in folder.parent.iterdir()) == ["run"]
    assert "kept 2 file(s) saved into" in capsys.readouterr().err


def test_a_leftover_of_a_killed_swap_keeps_the_users_files(a_run: Path, tmp_path: Path) -> None:
    """The next run tidies a retired folder left by a kill after the exchange: it used to
    be removed whole, user files and all."""
    folder = tmp_path / "run"
    shutil.copytree(a_run, folder)
    leftover = tmp_path / ".run.new.abc123"
    shutil.copytree(a_run, leftover)
    (leftover / "draft.txt").write_text("mine")
    prepared = prepare(folder, force=True)
    prepared.release(keep_created=True)
    assert (folder / "draft.txt").read_text() == "mine"
    assert not leftover.exists()


def test_an_empty_out_is_a_usage_error(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--out '' was taken as the current folder, which the run then replaced."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("x")
    assert main(["verify", "smoothing.any_step", "--profile", "ci", "--out", ""]) == 2
    assert "the folder name is empty" in _one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    with pytest.raises(trajcheck.UsageError, match="empty"):
        trajcheck.verify("smoothing.any_step", profile="ci", out="")


# 3. and 4. a mount point, a read-only volume, a full disk ----------------------------------


@contextlib.contextmanager
def _tmpfs(where: Path, *options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(["size=1m", *options]), "tmpfs", str(where)],
        capture_output=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_volume_is_refused_before_the_search(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """It searched for minutes, then printed a 37-line EROFS traceback."""
    with _tmpfs(tmp_path / "volume", "ro") as volume:
        assert main(["verify", "smoothing", "--profile", "thorough", "--out", str(volume)]) == 2
        line = _one_line(capsys)
        assert "Read-only file system" in line and str(volume) in line


def test_a_mount_point_is_written_in_place(a_run: Path, tmp_path: Path) -> None:
    """A mount point cannot be renamed (EBUSY): the run is written into it, and a
    second run replaces the first's files there, keeping the user's."""
    with _tmpfs(tmp_path / "volume") as volume:
        (volume / "README.txt").write_text("the volume's own file")
        for seed in ("1", "2"):
            code = main(["verify", "smoothing.any_step", "--profile", "ci", "--seed", seed,
                         "--out", str(volume), "--force"])  # fmt: skip
            assert code == 0
            assert json.loads((volume / "results.json").read_text())["seed"] == int(seed)
        assert (volume / "README.txt").read_text() == "the volume's own file"
        assert not [p.name for p in volume.iterdir() if p.name.startswith(".results")]


def test_a_full_disk_is_one_line_and_leaves_nothing(a_run: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A 51-line ENOSPC traceback, and the staging folder stayed behind, keeping the disk
    full. Now: one line, exit 1, the earlier run whole, no staging."""
    with _tmpfs(tmp_path / "small") as small:
        folder = small / "run"
        shutil.copytree(a_run, folder)
        before = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        free = shutil.disk_usage(small).free
        (small / "filler").write_bytes(b"\0" * max(0, free - 24_000))
        code = main(["verify", "smoothing.any_step", "--profile", "ci", "--seed", "2",
                     "--out", str(folder), "--force"])  # fmt: skip
        assert code == 1
        line = _one_line(capsys)
        assert "could not be written" in line and "No space left" in line
        assert {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
        assert sorted(p.name for p in small.iterdir()) == ["filler", "run"]


# 5. and 6. numbers no run writes ------------------------------------------------------------


def _changed(a_run: Path, tmp_path: Path, text_change) -> Path:  # type: ignore[no-untyped-def]
    copy = tmp_path / "changed"
    shutil.copytree(a_run, copy)
    path = copy / "results.json"
    path.write_text(text_change(path.read_text()))
    return copy


def _worst_margin(value: str):  # type: ignore[no-untyped-def]
    def change(text: str) -> str:
        document = json.loads(text)
        document["claims"][0]["worst_margin"] = "PLACEHOLDER"
        return json.dumps(document).replace('"PLACEHOLDER"', value)

    return change


@pytest.mark.parametrize(
    ("value", "said"),
    [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e999", "1e999"),
     ("1" * 5000, "5,000 digits"), ("9" * 400, "400 digits")],
    ids=["nan", "inf", "-inf", "1e999", "5000 digits", "400 digits"],
)  # fmt: skip
def test_every_reader_refuses_numbers_no_run_writes(
    a_run: Path, tmp_path: Path, value: str, said: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    """NaN read as a number: validate said "conforms", report drew "+nan", diff saw nothing
    worse; 5,000 digits made a ValueError traceback."""
    changed = _changed(a_run, tmp_path, _worst_margin(value))
    results = str(changed / "results.json")
    assert main(["validate", results]) == 2
    out = capsys.readouterr().out
    assert said in out and len(out.strip().splitlines()) == 1
    for command in (["report", str(changed)], ["diff", str(a_run), str(changed)]):
        assert main(command) == 2
        assert said in _one_line(capsys)
    with pytest.raises(trajcheck.MalformedResults, match=said):
        trajcheck.load(changed)
    counterexample = tmp_path / "ce.json"
    text = (a_run / "counterexamples" / "smoothing.any_step.json").read_text()
    counterexample.write_text(text.replace('"lhs": 4.0', f'"lhs": {value}'))
    assert main(["replay", str(counterexample)]) == 2
    assert said in _one_line(capsys)


# 7. replay checks the claim's assumptions ---------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [("a", -3.0, "a must be"), ("K", -5, "K: -5 is outside"), ("rotation", [[5.0]], "orthogonal"),
     ("a", True, "a holds a boolean"), ("K", 1.5, "K must hold integers"),
     ("spectrum", [[1.0]], "spectrum has 2 axes")],
    ids=["negative step", "negative K", "not a rotation", "true for a", "fractional K", "axes"],
)  # fmt: skip
def test_replay_refuses_what_the_search_could_not_draw(
    a_run: Path, tmp_path: Path, key: str, value: object, said: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Each printed "violated", exit 0."""
    document = json.loads((a_run / "counterexamples" / "smoothing.any_step.json").read_text())
    document["params"][key] = value
    file = tmp_path / "edited.json"
    file.write_text(json.dumps(document))
    assert main(["replay", str(file)]) == 2
    line = _one_line(capsys)
    assert "could have drawn" in line and said in line


def test_a_non_finite_replay_is_never_violated(a_run: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """a = 1e308 printed "not finite on replay" and then "violated", exit 0."""
    document = json.loads((a_run / "counterexamples" / "smoothing.any_step.json").read_text())
    document["params"]["a"] = 1e308
    file = tmp_path / "huge.json"
    file.write_text(json.dumps(document))
    assert main(["replay", str(file)]) == 1
    out = capsys.readouterr().out
    assert "not finite on replay" in out and out.strip().endswith("not violated on replay")


def test_replay_admits_the_counterexamples_a_run_saves(a_run: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for file in (a_run / "counterexamples").glob("*.json"):
        assert main(["replay", str(file)]) == 0, capsys.readouterr()
        assert capsys.readouterr().out.strip().endswith("violated")


# 8. special files, untyped parameters -------------------------------------------------------


def test_validate_refuses_a_fifo_without_waiting(tmp_path: Path) -> None:
    """validate x.json where x.json is a FIFO hung forever."""
    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "trajcheck", "validate", str(fifo)],
        capture_output=True, text=True, timeout=60, env=ENV, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "not a regular file" in done.stdout
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_the_schema_types_every_parameter(a_run: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A K of "1; import os" conformed."""
    document = json.loads((a_run / "counterexamples" / "smoothing.any_step.json").read_text())
    document["params"]["K"] = "1; import os"
    file = tmp_path / "string.json"
    file.write_text(json.dumps(document))
    assert main(["validate", str(file)]) == 2
    assert "does not conform" in capsys.readouterr().out


# 9. a thread a module leaves running --------------------------------------------------------

THREAD_MODULE = """
import threading, time
from hypothesis import strategies as st
from trajcheck.core import Claim, Measurement, Property

threading.Thread(target=lambda: time.sleep(3600), name="left-running").start()

CLAIM = Claim(
    id="outside.true", title="true", statement="x <= x + 1", assumptions=(),
    source="established", citation="-", kind="theorem", expected="holds", rtol=1e-12,
    tolerance_note="-",
)


def measure(batch, constants):
    x = batch["x"]
    return Measurement(lhs=x, rhs=x + 1)


PROP = Property(CLAIM, lambda profile: st.fixed_dictionaries({"x": st.floats(0, 1)}),
                measure, lambda params: 1)
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_thread_left_running_by_a_module_does_not_keep_the_command(
    tmp_path: Path, jobs: str
) -> None:
    """The run wrote its folder and then never exited."""
    module = tmp_path / "threads.py"
    module.write_text(THREAD_MODULE)
    done = subprocess.run(
        [sys.executable, "-m", "trajcheck", "verify", "outside", "--module", str(module),
         "--profile", "ci", "--jobs", jobs, "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, env=ENV, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "left-running" in done.stderr
    assert (tmp_path / "run" / "results.json").is_file()


# 10. file modes; 11. a replay command that pastes ----------------------------------------


def test_report_and_index_keep_the_users_umask(a_run: Path, tmp_path: Path) -> None:
    """report rewrote report.md, report.html and summary.csv as 0600, index wrote 0600."""
    home = tmp_path / "home"
    shutil.copytree(a_run, home / "run")
    previous = os.umask(0o022)
    try:
        assert main(["report", str(home / "run")]) == 0
        assert main(["index", str(home)]) == 0
    finally:
        os.umask(previous)
    for path in [home / "run" / n for n in ("report.md", "report.html", "summary.csv")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE((home / "index.html").stat().st_mode) == 0o644


def test_the_stored_replay_command_is_shell_quoted(a_run: Path) -> None:
    """Under a folder with spaces, the pasted command failed: unexpected extra arguments."""
    document = json.loads((a_run / "results.json").read_text())
    command = document["claims"][0]["counterexample"]["replay"]
    path = a_run / "counterexamples" / "smoothing.any_step.json"
    assert shlex.split(command) == ["trajcheck", "replay", str(path)]
