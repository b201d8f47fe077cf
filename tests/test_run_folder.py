"""A run's folder: checked before the search, locked while a run writes to it, replaced
whole, and never left half-written or emptied by an interrupt, a kill or a second run.

These run real processes and send them real signals."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from trajcheck.cli import main
from trajcheck.report.folder import MANIFEST, FolderProblem, commit, prepare, run_files

pytestmark = pytest.mark.slow

#: Two quick claims: a few seconds of search, with a counterexample to write.
QUICK = ["smoothing.quadratic_rate", "smoothing.any_step"]
ENV = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1"}


def _verify(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "trajcheck", "verify", *QUICK, "--profile", "ci",
            "--seed", "1", "--out", str(out), *extra]  # fmt: skip


def _snapshot(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _complete(folder: Path) -> bool:
    """Every file the manifest lists is there, and results.json reads."""
    listed = run_files(folder)
    if not listed:
        return False
    json.loads((folder / "results.json").read_text())
    return all((folder / name).is_file() for name in listed)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.*"))


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert main(["verify", *QUICK, "--profile", "ci", "--seed", "2", "--out", str(out)]) == 0
    return out


# 7. Ctrl-C always stops the run: exit 130, nothing written --------------------------------


def _interrupted_trial(earlier_run: Path, out: Path, delay: float) -> str:
    """One run replacing ``earlier_run``'s copy at ``out``, sent SIGINT after ``delay``."""
    subprocess.run(["cp", "-r", str(earlier_run), str(out)], check=True)
    before = _snapshot(out)
    process = subprocess.Popen(
        _verify(out, "--force"), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert not _leftovers(out), (process.returncode, stderr.decode()[-3000:])
    # 130, or killed by the signal itself when it came before the interpreter reached
    # trajcheck's first line (trajcheck.__main__): the shell reads both as 130
    if process.returncode in (130, -signal.SIGINT):
        assert _snapshot(out) == before, stderr.decode()
        if process.returncode == 130:
            assert b"interrupted; nothing was written" in stderr
        return "stopped"
    # the signal came after the new run was written (or after the process ended)
    assert process.returncode in (0, 1), stderr.decode()
    assert _complete(out)
    return "finished"


def test_an_interrupt_at_any_moment_stops_the_run_and_writes_nothing(
    earlier_run: Path, tmp_path: Path
) -> None:
    """SIGINT at 24 random moments (startup, search, writing) of a run replacing an
    earlier one with --force, two runs at a time: either exit 130 and the earlier run
    untouched, or (when the signal came after the new run was committed) a complete new
    run. Never a run that carried on after swallowing the interrupt."""
    started = time.perf_counter()  # how long one whole run takes here, start to exit
    subprocess.run(_verify(tmp_path / "timed"), env=ENV, check=True, capture_output=True)
    duration = time.perf_counter() - started
    rng = random.Random(7)
    delays = [rng.uniform(0.2, duration) for _ in range(24)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(
            pool.map(
                lambda trial: _interrupted_trial(
                    earlier_run, tmp_path / f"run{trial}", delays[trial]
                ),
                range(len(delays)),
            )
        )
    assert outcomes.count("stopped") >= 12, outcomes


def test_an_interrupt_while_starting_exits_130(tmp_path: Path) -> None:
    """SIGINT while Python imports torch and the catalogue: recorded, then exit 130 with
    one line. Raised there instead, it aborted the process from inside torch's C++
    (SIGABRT) or broke numpy's import (exit 1). Only a signal before the interpreter has
    run trajcheck's first line may still end the process by SIGINT itself."""
    command = [sys.executable, "-m", "trajcheck", "list"]

    def trial(delay: float) -> tuple[int, bytes]:
        process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        return process.returncode, stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(trial, [0.15 + 0.1 * i for i in range(10)]))
    for code, stderr in outcomes:
        assert code in (130, -signal.SIGINT), stderr.decode()
        if code == 130:
            assert stderr.decode().strip() == "trajcheck: interrupted; nothing was written"
    assert [code for code, _ in outcomes].count(130) >= 5


def test_an_interrupted_run_into_a_new_folder_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "run"
    process = subprocess.Popen(_verify(out), env=ENV, stderr=subprocess.PIPE)
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    assert process.returncode in (130, -signal.SIGINT)
    assert not (tmp_path / "a").exists()


SWALLOWED = textwrap.dedent(
    """
    import os, signal, time
    from trajcheck.interrupts import checkpoint, pending, watching

    with watching():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
        except KeyboardInterrupt:
            pass  # swallowed, as a garbage-collection callback would
        assert pending()
        try:
            checkpoint()
        except KeyboardInterrupt:
            print("raised again")
    """
)


def test_a_swallowed_interrupt_is_raised_again_at_the_next_example() -> None:
    """What Python does with a KeyboardInterrupt raised in a GC or weakref callback:
    prints "Exception ignored" and carries on. The handler records it first. (In a
    process of its own: a signal goes to the main thread, not to a test's.)"""
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWED], env=ENV, capture_output=True, timeout=60
    )
    assert done.stdout.decode().strip() == "raised again", done.stderr.decode()


# 8. replacing a run is atomic ------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from trajcheck.report.folder import commit, prepare

    out = Path(sys.argv[1])
    big = "x" * 2_000_000
    n = 0
    while True:
        n += 1
        files = {"results.json": '{"n": %d}' % n, "report.md": big,
                 "counterexamples/a.json": str(n)}
        folder = prepare(out, force=True)
        commit(folder, files)
        folder.release(keep_created=True)
    """
)


def test_a_run_killed_while_replacing_another_leaves_one_of_them_whole(tmp_path: Path) -> None:
    """A writer replaces a run again and again; SIGKILL at a random moment, five times.
    A watcher checks all along that the folder always shows a run; afterwards it holds a
    whole run, and the next run removes what the killed one left, saying so."""
    out = tmp_path / "run"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = random.Random(3)
    for _ in range(5):
        writer = subprocess.Popen([sys.executable, str(script), str(out)], env=ENV)
        deadline = time.monotonic() + 20
        while not (out / "results.json").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        missing = []
        stop = threading.Event()

        def watch(missing: list[float] = missing, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                if not (out / "results.json").exists():
                    missing.append(time.monotonic())

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(rng.uniform(0.2, 1.5))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        stop.set()
        watcher.join()
        assert not missing, "the folder showed no run for a moment"
        assert _complete(out)
        files = set(run_files(out) or ())
        assert files == {"results.json", "report.md", "counterexamples/a.json"}
        folder = prepare(out, force=True)  # recovers, and says so on stderr
        folder.release(keep_created=True)
        assert not [name for name in _leftovers(out) if ".new." in name or ".old." in name]


def test_leftovers_of_a_killed_swap_are_put_back(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Where the filesystem cannot exchange two folders, the swap is two renames; killed
    between them, the old run waits in .NAME.old.*: the next run puts it back."""
    out = tmp_path / "run"
    folder = prepare(out, force=True)
    commit(folder, {"results.json": "{}", "report.md": "old"})
    folder.release(keep_created=True)
    out.rename(tmp_path / ".run.old.abc123")
    (tmp_path / ".run.new.def456").mkdir()
    folder = prepare(out, force=True)
    folder.release(keep_created=True)
    assert (out / "report.md").read_text() == "old"
    assert not _leftovers(out)
    err = capsys.readouterr().err
    assert "restored" in err and "removed" in err


# 9. two runs into one folder -------------------------------------------------------------


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    first = subprocess.Popen(_verify(out), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3)
    second = subprocess.run(_verify(out), env=ENV, capture_output=True, timeout=120)
    assert second.returncode == 2
    assert b"another run is writing to it" in second.stderr
    assert len(second.stderr.decode().strip().splitlines()) == 1
    first.communicate(timeout=180)
    assert first.returncode == 0 and _complete(out)


# 10. a bad --out is found before the search ----------------------------------------------


@pytest.mark.parametrize(
    "out",
    ["", "{file}/sub", "/proc/trajcheck-run", "/proc/no/such/run"],
    ids=["empty", "under a file", "read-only parent", "read-only ancestor"],
)
def test_a_bad_out_is_refused_before_any_search(out: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    started = time.perf_counter()
    code = main(["verify", "--profile", "thorough", "--out", out.format(file=blocker)])
    assert code == 2
    assert time.perf_counter() - started < 30  # the thorough search takes hours
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trajcheck: error: --out")


# 11. files no run wrote ------------------------------------------------------------------


def test_a_folder_with_someone_elses_files_is_refused_without_force(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert main(_verify(out)[3:]) == 2
    assert "no trajcheck run wrote (notes.txt)" in capsys.readouterr().err
    assert _snapshot(out) == {"notes.txt": b"my notes"}


def test_a_users_report_md_is_never_overwritten(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("my report")
    for extra in ([], ["--force"]):
        assert main([*_verify(out)[3:], *extra]) == 2
        assert "report.md" in capsys.readouterr().err
    assert _snapshot(out) == {"report.md": b"my report"}


def test_force_replaces_the_run_and_keeps_the_users_files(
    earlier_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    subprocess.run(["cp", "-r", str(earlier_run), str(out)], check=True)
    (out / "counterexamples" / "my-notes.txt").write_text("keep me")
    (out / "plots").mkdir()
    (out / "plots" / "figure.png").write_bytes(b"\x89PNG")
    before = json.loads((out / "results.json").read_text())
    assert main([*_verify(out)[3:], "--force"]) == 0
    after = json.loads((out / "results.json").read_text())
    assert after["seed"] == 1 and before["seed"] == 2
    assert (out / "counterexamples" / "my-notes.txt").read_text() == "keep me"
    assert (out / "plots" / "figure.png").read_bytes() == b"\x89PNG"
    assert "counterexamples/my-notes.txt" not in json.loads((out / MANIFEST).read_text())["files"]


def test_prepare_refuses_a_run_without_force(earlier_run: Path) -> None:
    with pytest.raises(FolderProblem, match="already holds a run"):
        prepare(earlier_run, force=False)
