"""``report.md``: a summary table, then one section per claim (``section``'s blocks)."""

from __future__ import annotations

from typing import Any

from trajcheck.report import summary
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


def _text(text: Text) -> str:
    marks = {"bold": "**", "badge": "**", "code": "`", "ref": ""}
    return "".join(
        f"[{s.text}]"
        if s.style == "ref"
        else f"{marks.get(s.style, '')}{s.text}{marks.get(s.style, '')}"
        for s in text
    )


def _table(header: list[str] | tuple[str, ...], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(r) for r in rows)]


def _block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"{'#' * block.level} {block.text}", ""]
    if isinstance(block, Paragraph):
        return [_text(block.text), ""]
    if isinstance(block, Items):
        return [*(f"- {label}: {_text(text)}" for label, text in block.items), ""]
    if isinstance(block, Table):
        return [*_table(block.header, [[_text(c) for c in row] for row in block.rows]), ""]
    if isinstance(block, Code):
        return ["```text", block.text, "```", ""]
    if isinstance(block, Figures):
        count = len(block.figures)
        return [f"({count} figure{'s' if count > 1 else ''} in report.html.)", ""]
    if isinstance(block, Details):
        return [f"{block.summary}:", "", *(line for b in block.blocks for line in _block(b))]
    if isinstance(block, Math):
        return []  # the plain-text statement follows among the items
    if isinstance(block, References):
        return [*(f"- [{key}] {text}" for key, text in block.entries), ""]
    raise TypeError(f"no Markdown for {type(block).__name__}")


def render_markdown(document: dict[str, Any]) -> str:
    lines = [
        "# trajcheck report",
        "",
        f"{summary.run_line(document)}",
        "",
        f"**{summary.headline(document)}**",
        "",
        f"{summary.MARGIN_RULE} See reports/README.md for how to read this report.",
        "",
    ]
    lines += _table(summary.SUMMARY_COLUMNS, [summary.summary_row(c) for c in document["claims"]])
    lines.append("")
    for claim in document["claims"]:
        lines += [line for block in claim_blocks(claim) for line in _block(block)]
    lines += [line for block in reference_blocks(document) for line in _block(block)]
    return "\n".join(lines).rstrip() + "\n"
