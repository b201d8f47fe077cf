"""``report.html``: one self-contained page, readable offline and printable.

Everything is inline: the style, the figures (SVG drawn by ``figures``) and a few lines of
script for the filters. Without the script the page still reads in full; printing shows
every claim whatever the filters say.
"""

from __future__ import annotations

from html import escape
from typing import Any

from trajcheck.report import figures, summary

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 76rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; }
h1 { margin-bottom: .25rem; }
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
.filters { display: flex; gap: 1.5rem; align-items: center; margin: 1rem 0 .25rem;
           padding: .5rem .75rem; background: #f6f8fa; border-radius: .4rem; }
.filters label { font-size: 14px; }
.muted { color: #5a5a66; font-size: 14px; }
pre { background: #f6f8fa; padding: .5rem .75rem; overflow-x: auto; font-size: 13px; }
section { border-top: 1px solid #e0e0e6; margin-top: 1.5rem; }
code { font-size: 13px; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: .5rem 0; max-width: 100%; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #5a5a66; max-width: 36rem; }
.sides td { font-variant-numeric: tabular-nums; }
@media print {
  .filters { display: none; }
  tr[hidden] { display: table-row; }
  section[hidden] { display: block; }
  section { break-inside: avoid-page; }
}
"""

# The filters: show the rows and sections whose family and verdict match the selection.
_SCRIPT = """
document.addEventListener("DOMContentLoaded", function () {
  var family = document.getElementById("family-filter");
  var verdict = document.getElementById("verdict-filter");
  var shown = document.getElementById("shown");
  function matches(element) {
    var f = family.value, v = verdict.value, data = element.dataset;
    var familyOk = f === "all" || data.family === f;
    var verdictOk = v === "all" || data.verdict === v ||
      (v === "unexpected" && data.expected === "no");
    return familyOk && verdictOk;
  }
  function apply() {
    var rows = 0;
    document.querySelectorAll("[data-family]").forEach(function (element) {
      element.hidden = !matches(element);
      if (element.tagName === "TR" && !element.hidden) { rows += 1; }
    });
    shown.textContent = rows + " shown";
  }
  family.addEventListener("change", apply);
  verdict.addEventListener("change", apply);
  apply();
});
"""


def badge(verdict: str, expected: bool = True) -> str:
    extra = "" if expected else " unexpected"
    return f'<span class="badge {escape(verdict)}{extra}">{escape(verdict)}</span>'


def table(
    header: tuple[str, ...] | list[str], rows: list[list[str]], numeric: set[int],
    row_attributes: list[str] | None = None,
) -> str:  # fmt: skip
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    attributes = row_attributes or [""] * len(rows)
    body = "".join(
        f"<tr{attributes[r]}>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for r, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(figure: dict[str, Any] | None, caption: str = "") -> str:
    svg = figures.figure_svg(figure)
    if not svg:
        return ""
    text = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{text}</figure>"


def _counterexample(found: dict[str, Any], heading: str) -> str:
    part = f"; failing part: <code>{escape(found['part'])}</code>" if found.get("part") else ""
    sides = table(
        ["lhs", "rhs", "margin"],
        [[escape(summary.number(found["lhs"])), escape(summary.number(found["rhs"])),
          escape(summary.margin(found["margin"]))]],
        {0, 1, 2},
    )  # fmt: skip
    parts = [
        f"<h4>{escape(heading)}</h4>",
        f"<p>model {escape(found.get('model') or '-')}, dimension {found['dimension']}{part}; "
        f"found by {escape(found.get('found_by', 'hypothesis (shrunk)'))}</p>",
        f'<div class="sides">{sides}</div>',
    ]
    if found.get("notes"):
        parts.append(f"<p>{escape(summary.notes(found['notes']))}</p>")
    parts.append(f"<pre>{escape(summary.params_text(found['params']))}</pre>")
    if found.get("replay"):
        parts.append(f"<p>Replay: <code>{escape(found['replay'])}</code></p>")
    return "".join(parts)


def _study(claim: dict[str, Any]) -> str:
    """The claim's study: its summary, its figure and its table (folded)."""
    study = claim["study"]
    parts = [
        f"<h3>{escape(study.get('title', 'Study'))}</h3>",
        f"<p>{escape(summary.study_text(claim))}</p>",
        _figure(study.get("figure")),
    ]
    header, rows = summary.study_table(claim)
    if rows:
        numeric = {i for i, cell in enumerate(rows[0]) if _is_number(cell)}
        folded = table(header, [[escape(c) for c in r] for r in rows], numeric)
        parts.append(f"<details><summary>Table ({len(rows)} rows)</summary>{folded}</details>")
    return "".join(parts)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _pictures(claim: dict[str, Any]) -> str:
    """The instance's figure (fitted to the family) and the histogram of the margins."""
    parts = []
    sketch = claim.get("sketch")
    if sketch and "error" in sketch:
        parts.append(f"<p class='muted'>figure failed: {escape(str(sketch['error']))}</p>")
    elif sketch:
        caption = f"{sketch.get('title', '')} ({sketch.get('instance', '')}). "
        parts.append(_figure(sketch.get("figure"), caption + sketch.get("caption", "")))
    histogram = summary.margins_figure(claim)
    if histogram:
        parts.append(_figure(histogram, summary.margins_caption(claim)))
    parts = [p for p in parts if p]
    return f'<div class="figures">{"".join(parts)}</div>' if parts else ""


def _attributes(claim: dict[str, Any]) -> str:
    expected = "yes" if claim["as_expected"] else "no"
    return (
        f' data-family="{escape(claim["family"])}" data-verdict="{escape(claim["verdict"])}"'
        f' data-expected="{expected}"'
    )


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
        ("Scope", escape(summary.scope_sentence(claim) or "-")),
        ("Time", f"{claim['seconds']:.2f} s"),
    ]
    html = [
        f'<section id="{escape(claim["id"])}"{_attributes(claim)}>',
        f"<h2>{escape(claim['id'])}: {escape(claim.get('title', ''))}</h2>",
        f"<p>{badge(claim['verdict'], claim['as_expected'])} expected "
        f"{escape(claim['expected'])}, {mark}: {escape(summary.verdict_sentence(claim))}.</p>",
        "<ul>" + "".join(f"<li><b>{k}:</b> {v}</li>" for k, v in items) + "</ul>",
        _pictures(claim),
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
        html.append("<h3>Certificate</h3>" + table(["", "value"], rows, {1}))
    if claim.get("study"):
        html.append(_study(claim))
    if claim.get("counterexample"):
        html.append(_counterexample(claim["counterexample"], summary.counterexample_heading(claim)))
    if claim["mutants"]:
        rows = [
            [
                escape(m["id"]),
                escape(m.get("change", "")),
                badge(m["verdict"], m["verdict"] == "fails"),
                str(m.get("examples", "")),
                escape(summary.notes((m.get("counterexample") or {}).get("notes", {}))),
            ]
            for m in claim["mutants"]
        ]
        html.append("<h3>Mutants</h3>")
        html.append(table(["mutant", "change", "verdict", "examples", "counterexample"], rows, {3}))
        for m in claim["mutants"]:
            if m.get("counterexample"):
                html.append(_counterexample(m["counterexample"], m["id"]))
    html.append("</section>")
    return "\n".join(h for h in html if h)


def _filters(claims: list[dict[str, Any]]) -> str:
    families = list(dict.fromkeys(c["family"] for c in claims))
    family_options = "".join(f'<option value="{escape(f)}">{escape(f)}</option>' for f in families)
    verdicts = [("all", "all"), ("holds", "holds"), ("fails", "fails"), ("error", "error"),
                ("unexpected", "not as expected")]  # fmt: skip
    verdict_options = "".join(f'<option value="{v}">{escape(t)}</option>' for v, t in verdicts)
    return (
        '<div class="filters">'
        '<label>Family <select id="family-filter"><option value="all">all</option>'
        f"{family_options}</select></label>"
        f'<label>Verdict <select id="verdict-filter">{verdict_options}</select></label>'
        f'<span class="muted" id="shown">{len(claims)} shown</span></div>'
    )


def render_html(document: dict[str, Any]) -> str:
    claims = document["claims"]
    rows = []
    for claim in claims:
        row = [escape(cell) for cell in summary.summary_row(claim)]
        row[0] = f'<a href="#{row[0]}">{row[0]}</a>'
        row[5] = badge(claim["verdict"], claim["as_expected"])
        rows.append(row)
    overview = table(summary.SUMMARY_COLUMNS, rows, {7, 8, 9, 10}, [_attributes(c) for c in claims])
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>trajcheck report</title>",
            f"<style>{STYLE}</style>",
            f"<script>{_SCRIPT}</script></head><body>",
            "<h1>trajcheck report</h1>",
            f"<p class='muted'>{escape(summary.run_line(document))}</p>",
            f"<p><b>{escape(summary.headline(document))}</b></p>",
            f"<p class='muted'>{escape(summary.MARGIN_RULE)}</p>",
            _filters(claims),
            overview,
            *(_section(c) for c in claims),
            "</body></html>",
            "",
        ]
    )
