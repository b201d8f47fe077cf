"""Report writers: ``results.json`` (machines), ``report.md`` and ``report.html`` (people)."""

from typing import Any

from trajcheck.report.folder import FolderProblem, commit, holds_a_run, prepare
from trajcheck.report.html import render_html
from trajcheck.report.index import write_index
from trajcheck.report.markdown import render_markdown
from trajcheck.report.results import (
    MalformedResults,
    build_results,
    load_results,
    run_files,
    write_run,
)

__all__ = [
    "FolderProblem",
    "MalformedResults",
    "build_results",
    "commit",
    "holds_a_run",
    "load_results",
    "prepare",
    "render_html",
    "render_markdown",
    "renders",
    "run_files",
    "write_index",
    "write_run",
]


def renders(document: dict[str, Any]) -> dict[str, str]:
    """Every file of a run made from ``results.json`` alone, by name."""
    # pandas loads only here, when a run is written (it takes a second)
    from trajcheck.report.table import render_csv

    return {
        "report.md": render_markdown(document),
        "report.html": render_html(document),
        "summary.csv": render_csv(document),
    }
