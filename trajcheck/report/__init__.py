"""Report writers: ``results.json`` (machines), ``report.md`` and ``report.html`` (people)."""

from typing import Any

from trajcheck.report.html import render_html
from trajcheck.report.markdown import render_markdown
from trajcheck.report.results import (
    MalformedResults,
    build_results,
    holds_a_run,
    load_results,
    write_run,
)

__all__ = [
    "MalformedResults",
    "build_results",
    "holds_a_run",
    "load_results",
    "render_html",
    "render_markdown",
    "renders",
    "write_run",
]


def renders(document: dict[str, Any]) -> dict[str, str]:
    """Every human-readable file of a run, by name, from ``results.json`` alone."""
    return {"report.md": render_markdown(document), "report.html": render_html(document)}
