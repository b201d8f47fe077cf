"""``index.html`` of a reports folder: every run under it, newest first, with its date,
profile, device and verdict counts, linked to its report."""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from trajcheck.report.folder import write_text_atomically
from trajcheck.report.html import STYLE, badge, table
from trajcheck.report.results import MalformedResults, load_results

INDEX = "index.html"


def _runs(folder: Path) -> list[tuple[str, dict[str, Any] | None, str]]:
    """(subfolder name, its results or None, why not) for every run folder under ``folder``."""
    runs: list[tuple[str, dict[str, Any] | None, str]] = []
    for child in sorted(folder.iterdir()):
        if (
            not child.is_dir()
            or child.name.startswith(".")
            or not (child / "results.json").exists()
        ):
            continue
        try:
            runs.append((child.name, load_results(child), ""))
        except MalformedResults as exc:
            runs.append((child.name, None, str(exc)))
    return sorted(runs, key=lambda run: str((run[1] or {}).get("created") or ""), reverse=True)


def _row(name: str, document: dict[str, Any] | None, problem: str) -> list[str]:
    link = f'<a href="{escape(name)}/report.html">{escape(name)}</a>'
    if document is None:
        return [link, "", "", "", "", "", "", "", escape(problem)]
    claims = document["claims"]
    verdicts = Counter(c["verdict"] for c in claims)
    unexpected = sum(not c["as_expected"] for c in claims)
    counts = " ".join(
        f"{badge(v)} {verdicts[v]}" for v in ("holds", "fails", "error") if verdicts[v]
    )
    return [
        link,
        escape(str(document.get("created") or "")),
        escape(document["profile"]),
        escape(document["device"]),
        escape(str(document.get("seed", "-"))),
        str(len(claims)),
        counts,
        f"{document['seconds']:.0f} s",
        "all as expected" if not unexpected else f"<b>{unexpected} not as expected</b>",
    ]


def render_index(folder: Path) -> str:
    rows = []
    for name, document, problem in _runs(Path(folder)):
        try:
            rows.append(_row(name, document, problem))
        except Exception as exc:  # a run this version cannot read: listed, with why
            rows.append(_row(name, None, f"cannot be listed ({type(exc).__name__}: {exc})"))
    header = ["run", "created", "profile", "device", "seed", "claims", "verdicts", "time", "status"]
    body = table(header, rows, {5}) if rows else "<p>No runs yet.</p>"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            "<title>trajcheck runs</title>",
            f"<style>{STYLE}</style></head><body>",
            "<h1>trajcheck runs</h1>",
            f"<p class='muted'>{len(rows)} run{'' if len(rows) == 1 else 's'} under "
            f"{escape(str(folder))}, newest first.</p>",
            body,
            "</body></html>",
            "",
        ]
    )


def write_index(folder: Path) -> Path:
    """Write ``folder/index.html`` whole (a reader never sees half of it, and a failure
    leaves the earlier one)."""
    folder = Path(folder)
    write_text_atomically(folder / INDEX, render_index(folder))
    return folder / INDEX
