"""The Python API (``trajcheck.verify``, ``load``, ``Run``) and the README's notebook example."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

import trajcheck
from trajcheck.report.table import COLUMNS

README = Path(__file__).resolve().parents[1] / "README.md"


def notebook_cells() -> list[str]:
    """The README's notebook example, cut into cells at its blank lines."""
    section = README.read_text(encoding="utf-8").split("## Python and notebooks", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README.md has no python example under 'Python and notebooks'"
    return [cell for cell in match.group(1).split("\n\n") if cell.strip()]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The README's example run cell by cell in one namespace, in a fresh folder; an
    expression cell's value is kept, as a notebook would display it."""
    import os

    home = tmp_path_factory.mktemp("notebook")
    namespace: dict[str, object] = {}
    shown: list[object] = []
    before = Path.cwd()
    os.chdir(home)
    try:
        for cell in notebook_cells():
            *body, last = cell.strip().splitlines()
            exec("\n".join(body), namespace)  # the cell's statements, as a kernel runs them
            try:
                shown.append(eval(last.split("  #")[0], namespace))
            except SyntaxError:
                exec(last, namespace)
    finally:
        os.chdir(before)
    namespace["_shown"], namespace["_home"] = shown, home
    return namespace


@pytest.mark.slow
def test_the_readme_notebook_example_runs(notebook: dict[str, object]) -> None:
    run = notebook["run"]
    assert isinstance(run, trajcheck.Run) and run.folder is None and run.as_expected
    # the first cell's value is the run: its summary table as HTML, badges and all
    html = notebook["_shown"][0]._repr_html_()  # type: ignore[index]
    assert "<table>" in html and 'class="badge fails"' in html and "smoothing.any_step" in html
    table = notebook["table"]
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["id", "model", *COLUMNS[1:]]
    assert set(table["id"]) == {"descent.lemma", "smoothing.any_step"}
    lemma = table[table["id"] == "descent.lemma"]
    assert len(lemma) == 4 and set(lemma["verdict"]) == {"holds"}  # four models
    found = notebook["found"]
    assert found["claim"] == "smoothing.any_step" and found["lhs"] > found["rhs"]  # type: ignore[index]
    home = notebook["_home"]
    assert (home / "runs" / "lemma" / "report.html").is_file()  # type: ignore[operator]


@pytest.mark.slow
def test_a_saved_run_loads_with_its_counterexamples(notebook: dict[str, object]) -> None:
    saved, again = notebook["saved"], notebook["again"]
    assert isinstance(again, trajcheck.Run) and again.document == saved.document  # type: ignore[attr-defined]
    folder = notebook["_home"] / "runs" / "lemma"  # type: ignore[operator]
    assert trajcheck.load(folder / "results.json").document == again.document
    mutant = "descent.lemma~aL-over-4"
    on_disk = json.loads((folder / "counterexamples" / f"{mutant}.json").read_text())
    assert again.counterexample(mutant) == on_disk
    assert shlex.split(on_disk["replay"])[-1].endswith(f"{mutant}.json")  # quoted for a shell
    with pytest.raises(KeyError, match=r"those that have one: descent\.lemma~aL-over-4"):
        again.counterexample("descent.lemma")
    per_claim = again.frame(per="claim")
    written = pd.read_csv(folder / "summary.csv")
    assert list(per_claim.columns) == list(written.columns) == list(COLUMNS)
    assert per_claim[["id", "verdict", "examples"]].equals(written[["id", "verdict", "examples"]])
    with pytest.raises(KeyError, match=r"its claims: descent\.lemma"):
        again.claim("smoothing.any_step")
    assert repr(again).startswith("<trajcheck.Run in runs/lemma: 1 claims, 1 as expected")


def test_the_public_names_are_listed_and_importable() -> None:
    for name in trajcheck.__all__:
        assert getattr(trajcheck, name) is not None, name
    assert {"verify", "load", "diff", "Run", "RunDiff", "UsageError"} <= set(trajcheck.__all__)
    assert set(trajcheck.__all__) <= set(dir(trajcheck))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        trajcheck.nothing  # noqa: B018


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"selectors": "descent.lemmma"}, "did you mean descent.lemma"),
        ({"profile": "quick"}, "quick"),
        ({"seed": -1}, r"seed -1 is out of range"),
        ({"seed": 2**32}, "out of range"),
        ({"jobs": 0}, r"jobs 0 is out of range"),
        ({"sweep": 10**10}, "sweep"),
        ({"jobs": 2, "scheduler": "tcp://127.0.0.1:1"}, "cluster's workers set"),
        ({"modules": ["no/such/file.py"]}, "file.py"),
    ],
)
def test_a_refused_request_raises_one_line_and_writes_nothing(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    arguments = {"selectors": "descent.lemma", "profile": "ci", **options}
    with pytest.raises(trajcheck.UsageError, match=message) as raised:
        trajcheck.verify(out=tmp_path / "run", **arguments)  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "run").exists()


def test_a_folder_holding_another_run_is_refused_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_text('{"keep": true}')
    with pytest.raises(trajcheck.UsageError, match="holds"):
        trajcheck.verify("descent.lemma", profile="ci", out=folder)
    assert (folder / "results.json").read_text() == '{"keep": true}'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "holds no results.json"),
        ("{not json", "unreadable JSON"),
        ('{"claims": []}', "not a trajcheck results document"),
    ],
)
def test_a_missing_or_malformed_run_does_not_load(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    with pytest.raises(trajcheck.MalformedResults, match=message) as raised:
        trajcheck.load(tmp_path)
    assert "\n" not in str(raised.value)
