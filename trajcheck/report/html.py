"""``report.html``: one self-contained page (no network, no scripts needed to read it)."""

from __future__ import annotations

from html import escape
from typing import Any

from trajcheck.report import figures, summary

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: 14px; }
th, td { border: 1px solid #d0d0d7; padding: .25rem .5rem; text-align: left; }
th { background: #f3f3f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: .6rem; font-weight: 600;
         font-size: 13px; }
.holds { background: #d8f3dc; color: #1b4332; }
.fails { background: #ffe5d9; color: #7f2704; }
.error { background: #f8d7da; color: #721c24; }
.unexpected { outline: 2px solid #c1121f; }
pre { background: #f6f8fa; padding: .5rem .75rem; overflow-x: auto; font-size: 13px; }
section { border-top: 1px solid #e0e0e6; margin-top: 1.5rem; }
code { font-size: 13px; }
figure.study { margin: .5rem 0; }
figure.study svg { max-width: 100%; height: auto; }
@media print { section { break-inside: avoid; } }
"""


def _badge(verdict: str, expected: bool = True) -> str:
    extra = "" if expected else " unexpected"
    return f'<span class="badge {escape(verdict)}{extra}">{escape(verdict)}</span>'


def _table(header: tuple[str, ...] | list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _counterexample(found: dict[str, Any], heading: str) -> str:
    part = f"; failing part: <code>{escape(found['part'])}</code>" if found.get("part") else ""
    parts = [
        f"<h4>{escape(heading)}</h4>",
        f"<p>dimension {found['dimension']}{part}<br>",
        f"lhs = {escape(summary.number(found['lhs']))}, rhs = "
        f"{escape(summary.number(found['rhs']))}, margin = "
        f"{escape(summary.margin(found['margin']))}",
    ]
    if found.get("notes"):
        parts.append(f"<br>{escape(summary.notes(found['notes']))}")
    parts.append(f"</p><pre>{escape(summary.params_text(found['params']))}</pre>")
    if found.get("replay"):
        parts.append(f"<p>Replay: <code>{escape(found['replay'])}</code></p>")
    return "".join(parts)


def _study(claim: dict[str, Any]) -> str:
    """The claim's study: its summary, its figure (inline SVG) and its table (folded)."""
    study = claim["study"]
    parts = [
        f"<h3>{escape(study.get('title', 'Study'))}</h3>",
        f"<p>{escape(summary.study_text(claim))}</p>",
    ]
    svg = figures.figure_svg(study.get("figure"))
    if svg:
        parts.append(f'<figure class="study">{svg}</figure>')
    header, rows = summary.study_table(claim)
    if rows:
        numeric = {i for i, cell in enumerate(rows[0]) if _is_number(cell)}
        table = _table(header, [[escape(c) for c in r] for r in rows], numeric)
        parts.append(f"<details><summary>Table ({len(rows)} rows)</summary>{table}</details>")
    return "".join(parts)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _section(claim: dict[str, Any]) -> str:
    mark = "as expected" if claim["as_expected"] else "NOT AS EXPECTED"
    worst = escape(summary.margin(claim.get("worst_margin")))
    if claim.get("worst_notes"):
        worst += f" ({escape(summary.notes(claim['worst_notes']))})"
    items = [
        ("Statement", escape(claim.get("statement", ""))),
        ("Assumptions", escape("; ".join(claim.get("assumptions", [])))),
        ("Source", f"{escape(claim['source'])} ({escape(claim.get('citation', ''))})"),
        ("Kind", escape(claim["kind"])),
        (
            f"Tolerance (rtol {escape(summary.number(claim.get('rtol')))})",
            escape(claim.get("tolerance_note", "")),
        ),
        ("Search", escape(claim.get("search_note", ""))),
        ("Models", escape(summary.models_text(claim))),
        ("Worst margin", worst),
        ("Time", f"{claim['seconds']:.2f} s"),
    ]
    html = [
        f'<section id="{escape(claim["id"])}">',
        f"<h2>{escape(claim['id'])}: {escape(claim.get('title', ''))}</h2>",
        f"<p>{_badge(claim['verdict'], claim['as_expected'])} expected "
        f"{escape(claim['expected'])}, {mark}: {escape(summary.verdict_sentence(claim))}.</p>",
        "<ul>" + "".join(f"<li><b>{k}:</b> {v}</li>" for k, v in items) + "</ul>",
    ]
    if claim.get("worst_instance") and not claim.get("counterexample"):
        html.append(
            f"<details><summary>Tightest instance ({escape(str(claim.get('worst_model')))})"
            f"</summary><pre>{escape(summary.params_text(claim['worst_instance']))}</pre>"
            "</details>"
        )
    if summary.frontier_text(claim):
        html.append(f"<p><b>Frontier:</b> {escape(summary.frontier_text(claim))}</p>")
    if summary.certificate_rows(claim):
        rows = [[escape(k), escape(v)] for k, v in summary.certificate_rows(claim)]
        html.append("<h3>Certificate</h3>" + _table(["", "value"], rows, {1}))
    if claim.get("study"):
        html.append(_study(claim))
    if claim.get("counterexample"):
        html.append(_counterexample(claim["counterexample"], "Minimal counterexample"))
    if claim["mutants"]:
        rows = [
            [
                escape(m["id"]),
                escape(m.get("change", "")),
                _badge(m["verdict"], m["verdict"] == "fails"),
                str(m.get("examples", "")),
                escape(summary.notes((m.get("counterexample") or {}).get("notes", {}))),
            ]
            for m in claim["mutants"]
        ]
        html.append("<h3>Mutants</h3>")
        html.append(
            _table(["mutant", "change", "verdict", "examples", "counterexample"], rows, {3})
        )
        for m in claim["mutants"]:
            if m.get("counterexample"):
                html.append(_counterexample(m["counterexample"], m["id"]))
    html.append("</section>")
    return "\n".join(html)


def render_html(document: dict[str, Any]) -> str:
    rows = []
    for claim in document["claims"]:
        row = [escape(cell) for cell in summary.summary_row(claim)]
        row[0] = f'<a href="#{row[0]}">{row[0]}</a>'
        row[5] = _badge(claim["verdict"], claim["as_expected"])
        rows.append(row)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>trajcheck report</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<h1>trajcheck report</h1>",
            f"<p>{escape(summary.run_line(document))}</p>",
            f"<p><b>{escape(summary.headline(document))}</b></p>",
            f"<p>{escape(summary.MARGIN_RULE)}</p>",
            _table(summary.SUMMARY_COLUMNS, rows, {7, 8, 9, 10}),
            *(_section(c) for c in document["claims"]),
            "</body></html>",
            "",
        ]
    )
