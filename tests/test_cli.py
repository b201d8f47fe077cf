"""The command line end to end: files written, exit codes, and usage errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trajcheck.cli import main
from trajcheck.discovery import discover
from trajcheck.report import load_results

pytestmark = pytest.mark.slow


TRAINED_LSA = "icl.trained_lsa"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ci-profile run of the catalogue, shared by the tests that read it: every claim
    but those whose instances are training runs (cot, icl.trained_lsa: a minute and more
    on one worker), which test_catalogue verifies, and whose path through the command
    line test_parallel takes (a census family from a --module file)."""
    out = tmp_path_factory.mktemp("run") / "ci"
    claims = [c for c in discover().entries if c.split(".")[0] != "cot" and c != TRAINED_LSA]
    # a short sweep: what is tested here is the run's files, not the search's power
    args = ["verify", *claims, "--profile", "ci", "--seed", "3", "--sweep", "2000",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_verify_writes_results_reports_and_counterexamples(run_folder: Path) -> None:
    document = json.loads((run_folder / "results.json").read_text())
    for field in ("version", "profile", "device", "seed", "seconds", "claims"):
        assert field in document
    assert document["profile"] == "ci" and document["seed"] == 3
    claims = {c["id"]: c for c in document["claims"]}
    for claim in claims.values():
        for field in (
            "id", "family", "kind", "source", "expected", "verdict", "as_expected",
            "examples", "worst_margin", "seconds", "counterexample", "certificate", "mutants",
        ):  # fmt: skip
            assert field in claim
        assert claim["as_expected"], claim["id"]
    any_step = claims["smoothing.any_step"]["counterexample"]
    assert any_step["dimension"] == 1 and any_step["notes"]["a*L"] > 2
    assert any_step["replay"].startswith("trajcheck replay ")
    assert (run_folder / "counterexamples" / "smoothing.any_step.json").is_file()
    assert (run_folder / "counterexamples" / "descent.lemma~aL-over-4.json").is_file()
    markdown = (run_folder / "report.md").read_text()
    assert "| smoothing.any_step |" in markdown and "a*L = " in markdown
    assert (run_folder / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_studies_are_recorded_and_drawn(run_folder: Path) -> None:
    """A study (the cost map of decomposition.cheaper) goes into results.json as data,
    into report.md as a table and into report.html as an inline SVG figure."""
    claims = {c["id"]: c for c in json.loads((run_folder / "results.json").read_text())["claims"]}
    study = claims["decomposition.cheaper"]["study"]
    assert study["table"]["rows"] and study["figure"]["panels"]
    assert "### Cost map" in (run_folder / "report.md").read_text()
    html = (run_folder / "report.html").read_text()
    section = html[html.index('<section id="decomposition.cheaper"') :]
    assert "<svg" in section.split("</section>")[0]


def test_certificates_are_recorded_and_drawn_whatever_the_claim(run_folder: Path) -> None:
    """The four performance-estimation certificates of the catalogue, each at the
    parameters of the search's tightest instance, agree with their closed forms to 1e-6,
    and each is drawn in report.html (its worst case beside that instance)."""
    claims = {c["id"]: c for c in json.loads((run_folder / "results.json").read_text())["claims"]}
    html = (run_folder / "report.html").read_text()
    for cid in (
        "convergence.convex_gd", "convergence.strongly_convex_gd", "descent.lemma",
        "descent.error_contraction",
    ):  # fmt: skip
        (certificate,) = claims[cid]["certificates"]
        assert claims[cid]["certificate"] == certificate  # the field of format 1, kept
        assert certificate["relative_gap"] <= 1e-6, (cid, certificate)
        assert certificate["parameters"] and certificate["figure"]["panels"]
        series = [s["label"] for s in certificate["figure"]["panels"][0]["series"]]
        assert "PEP worst case" in series and "search's tightest instance" in series
        section = html[html.index(f'<section id="{cid}"') :].split("</section>")[0]
        drawn = section[section.index("<h3>Certificate") :]
        assert "<svg" in drawn.split("<h3>")[1]


def test_summary_csv_has_a_row_per_claim(run_folder: Path) -> None:
    import pandas as pd

    table = pd.read_csv(run_folder / "summary.csv")
    claims = json.loads((run_folder / "results.json").read_text())["claims"]
    assert list(table["id"]) == [c["id"] for c in claims]
    assert set(table["verdict"]) <= {"holds", "fails", "error"}
    cheaper = table.set_index("id").loc["decomposition.cheaper"]
    assert cheaper["counterexample_dimension"] == 2


def test_index_lists_the_runs_of_a_folder(run_folder: Path, tmp_path, capsys) -> None:
    for name in ("first", "second"):
        shutil.copytree(run_folder, tmp_path / name)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json")
    assert main(["index", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    for name in ("first", "second", "broken"):
        assert f'href="{name}/report.html"' in page
    assert "unreadable JSON" in page  # a broken run is listed with its problem
    assert main(["index", str(tmp_path / "nowhere")]) == 2


def test_replay_reproduces_a_counterexample(run_folder: Path, capsys) -> None:
    path = run_folder / "counterexamples" / "smoothing.any_step.json"
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    recorded = json.loads(path.read_text())
    assert f"lhs:    {recorded['lhs']!r}" in out and "violated" in out


def test_report_rebuilds_the_same_files_from_results_json(run_folder: Path, tmp_path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_folder, copy)
    (copy / "report.md").unlink()
    (copy / "report.html").unlink()
    (copy / "summary.csv").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.md").read_text() == (run_folder / "report.md").read_text()
    assert (copy / "summary.csv").read_text() == (run_folder / "summary.csv").read_text()
    assert (copy / "report.html").read_text() == (run_folder / "report.html").read_text()
    assert load_results(copy)["claims"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "no.such.claim"], "unknown claim or family 'no.such.claim'"),
        (["verify", "smoothing.quadratc"], "did you mean smoothing.quadratic"),
        (["verify", "--profile", "nope"], "unknown profile 'nope'"),
        (["verify", "--module", "/no/such/file.py"], "no such file"),
        (["verify", "--seed", "-1"], "--seed"),
        (["verify", "--sweep", "-5"], "--sweep"),
        (["show", "nothing.here"], "unknown claim or family"),
        (["replay", "/no/such/counterexample.json"], "unreadable"),
        (["report", "/no/such/folder"], "no such folder"),
    ],
)
def test_usage_errors_print_one_line_and_exit_2(args, message, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trajcheck: error: ")
    assert message in err


def test_cuda_without_a_gpu_is_a_usage_error(capsys, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["verify", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_errors_leave_an_earlier_run_untouched(run_folder: Path, tmp_path, capsys) -> None:
    earlier = tmp_path / "earlier"
    shutil.copytree(run_folder, earlier)
    before = _snapshot(earlier)
    bad_module = tmp_path / "bad.py"
    bad_module.write_text("raise RuntimeError('broken on import')")
    unreadable = tmp_path / "unreadable.py"
    unreadable.mkdir()  # a folder where a file is expected cannot be read as a module
    for args in (
        ["verify", "descent", "--out", str(earlier)],  # already holds a run, no --force
        ["verify", "no.such.claim", "--out", str(earlier), "--force"],
        ["verify", "--profile", "nope", "--out", str(earlier), "--force"],
        ["verify", "--module", str(bad_module), "--out", str(earlier), "--force"],
        ["verify", "--module", str(unreadable), "--out", str(earlier), "--force"],
    ):
        assert main(args) == 2, args
        assert _snapshot(earlier) == before, args
    err = capsys.readouterr().err
    assert "already holds a run" in err and "broken on import" in err


def test_force_replaces_a_run(run_folder: Path, tmp_path) -> None:
    earlier = tmp_path / "earlier"
    shutil.copytree(run_folder, earlier)
    (earlier / "notes.txt").write_text("mine")
    code = main(["verify", "descent.lemma", "--profile", "ci", "--out", str(earlier), "--force"])
    assert code == 0
    assert [c["id"] for c in load_results(earlier)["claims"]] == ["descent.lemma"]
    # the earlier run's counterexamples went with it; files that are not the run's stayed
    assert sorted(p.name for p in (earlier / "counterexamples").iterdir()) == [
        "descent.lemma~aL-over-4.json"
    ]
    assert (earlier / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2, 3]", json.dumps({"version": "1", "claims": "many"})],
)
def test_malformed_results_json_is_refused(tmp_path, content, capsys) -> None:
    (tmp_path / "results.json").write_text(content)
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("trajcheck: error: ")
    assert not (tmp_path / "report.md").exists()


def test_list_and_show(capsys) -> None:
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} >= {"smoothing.any_step", "descent.lemma"}
    lemma = next(r for r in rows if r["id"] == "descent.lemma")
    assert lemma["references"] == ["nesterov2018lectures"] and "\\nabla" in lemma["latex"]
    assert main(["show", "descent.lemma"]) == 0
    out = capsys.readouterr().out
    assert "descent.lemma~aL-over-4" in out and "Nesterov" in out
    assert "references:  nesterov2018lectures" in out and "\\nabla" not in out  # plain text


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trajcheck", "list"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "smoothing.quadratic" in done.stdout


def test_results_and_counterexamples_conform_to_their_schemas(run_folder: Path) -> None:
    from trajcheck.report.schema import COUNTEREXAMPLE_SCHEMA, RESULTS_SCHEMA, problem

    assert problem(json.loads((run_folder / "results.json").read_text()), RESULTS_SCHEMA) is None
    files = list((run_folder / "counterexamples").glob("*.json"))
    assert files
    for file in files:
        assert problem(json.loads(file.read_text()), COUNTEREXAMPLE_SCHEMA) is None, file


def test_report_rebuilds_a_run_of_format_1(tmp_path: Path) -> None:
    """A run written before certificates had one shape (trajcheck 0.1, results.json format
    1: convex_gd's certificate with its own fields) still loads, and its report is rebuilt
    with that certificate's every field."""
    old = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "data" / "format1_run", old)
    assert load_results(old)["format"] == 1
    assert main(["report", str(old)]) == 0
    markdown = (old / "report.md").read_text()
    section = markdown[markdown.index("## convergence.convex_gd") :]
    rows = section[section.index("### Certificate") :].split("###")[1]
    for row in (
        "| certified worst case |",
        "| relative gap |",
        "| observed_worst_ratio |",
        "| K |",
    ):
        assert row in rows
    assert "<h3>Certificate</h3>" in (old / "report.html").read_text()


def test_progress_inside_a_claim_is_one_log_line_off_a_terminal(capsys) -> None:  # type: ignore[no-untyped-def]
    """A census's training (minutes) logs a line per ensemble; off a terminal each shows
    once on stderr, however many runs set the handler up."""
    import logging

    from trajcheck.progress import log_progress_lines

    for name in ("trajcheck", "trajcheck_catalogue"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "trajcheck_lines", False)]:
            logger.removeHandler(handler)
    log_progress_lines()
    log_progress_lines()
    logging.getLogger("trajcheck_catalogue.properties.cot").info("cot: trained %d", 16)
    assert capsys.readouterr().err == "trajcheck: cot: trained 16\n"
