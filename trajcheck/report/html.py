"""``report.html``: one self-contained page, readable offline and printable.

Everything is inline: the style, the figures (SVG drawn by ``figures``) and a few lines of
script for the filters. Without the script the page still reads in full; printing shows
every claim whatever the filters say.
"""

from __future__ import annotations

from html import escape
from typing import Any

from trajcheck.report import figures, maths, summary
from trajcheck.report.section import (
    Block,
    Code,
    Details,
    Figures,
    Heading,
    Items,
    Math,
    Paragraph,
    References,
    Table,
    Text,
    claim_blocks,
    reference_blocks,
)

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
.math { margin: .5rem 0 .25rem; padding: .5rem .75rem; background: #fafaff;
        border-left: 3px solid #c9c9e8; overflow-x: auto; }
.math-line svg { display: block; max-width: none; margin: .3rem 0; }
.references li { margin: .25rem 0; font-size: 14px; }
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


def _text(text: Text) -> str:
    parts = []
    for span in text:
        if span.style == "badge":
            parts.append(badge(span.text, span.expected))
        elif span.style == "ref":
            key = escape(span.text)
            parts.append(f'<a class="ref" href="#ref-{key}">[{key}]</a>')
        elif span.style in ("bold", "code"):
            tag = "b" if span.style == "bold" else "code"
            parts.append(f"<{tag}>{escape(span.text)}</{tag}>")
        else:
            parts.append(escape(span.text))
    return "".join(parts)


def _figure(figure: dict[str, Any], caption: str) -> str:
    svg = figures.figure_svg(figure)
    if not svg:
        return ""
    text = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{text}</figure>"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        muted = ' class="muted"' if block.muted else ""
        return f"<p{muted}>{_text(block.text)}</p>"
    if isinstance(block, Items):
        items = "".join(f"<li><b>{escape(k)}:</b> {_text(v)}</li>" for k, v in block.items)
        return f"<ul>{items}</ul>"
    if isinstance(block, Table):
        rows = [[_text(cell) for cell in row] for row in block.rows]
        return table(block.header, rows, block.numeric)
    if isinstance(block, Code):
        return f"<pre>{escape(block.text)}</pre>"
    if isinstance(block, Figures):
        drawn = "".join(_figure(figure, caption) for figure, caption in block.figures)
        return f'<div class="figures">{drawn}</div>' if drawn else ""
    if isinstance(block, Details):
        inner = "".join(_block(b) for b in block.blocks)
        return f"<details><summary>{escape(block.summary)}</summary>{inner}</details>"
    if isinstance(block, Math):
        return _math(block)
    if isinstance(block, References):
        entries = "".join(
            f'<li id="ref-{escape(key)}"><b>[{escape(key)}]</b> {escape(text)}</li>'
            for key, text in block.entries
        )
        return f'<ul class="references">{entries}</ul>'
    raise TypeError(f"no HTML for {type(block).__name__}")


def _math(block: Math) -> str:
    """The statement drawn (inline SVG, one per line), labelled with its plain text for
    screen readers; nothing where mathtext cannot read it (the plain text follows)."""
    try:
        drawn = maths.statement_svg(block.latex)
    except maths.UnreadableLatex:
        return ""
    lines = "".join(f'<div class="math-line">{svg}</div>' for svg in drawn)
    label = escape(block.text)
    return f'<div class="math" role="img" aria-label="{label}">{lines}</div>'


def _attributes(claim: dict[str, Any]) -> str:
    expected = "yes" if claim["as_expected"] else "no"
    return (
        f' data-family="{escape(claim["family"])}" data-verdict="{escape(claim["verdict"])}"'
        f' data-expected="{expected}"'
    )


def _section(claim: dict[str, Any]) -> str:
    blocks = [_block(b) for b in claim_blocks(claim)]
    return "\n".join(
        [f'<section id="{escape(claim["id"])}"{_attributes(claim)}>', *filter(None, blocks),
         "</section>"]
    )  # fmt: skip


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


def summary_table(claims: list[dict[str, Any]], *, links: bool = True) -> str:
    """The summary table: one row a claim, its verdict as a badge; ``links``: each id
    links to the claim's section (the report has them; a notebook does not)."""
    rows = []
    for claim in claims:
        row = [escape(cell) for cell in summary.summary_row(claim)]
        if links:
            row[0] = f'<a href="#{row[0]}">{row[0]}</a>'
        row[5] = badge(claim["verdict"], claim["as_expected"])
        rows.append(row)
    return table(summary.SUMMARY_COLUMNS, rows, {7, 8, 9, 10}, [_attributes(c) for c in claims])


def render_html(document: dict[str, Any]) -> str:
    claims = document["claims"]
    overview = summary_table(claims)
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
            *(_block(b) for b in reference_blocks(document)),
            "</body></html>",
            "",
        ]
    )
