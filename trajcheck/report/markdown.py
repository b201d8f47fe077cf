"""``report.md``: a summary table, then one section per claim."""

from __future__ import annotations

from typing import Any

from trajcheck.report import summary


def _table(header: list[str] | tuple[str, ...], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(r) for r in rows)]


def _counterexample(found: dict[str, Any], heading: str) -> list[str]:
    lines = [
        f"{heading}",
        "",
        f"- dimension {found['dimension']}"
        + (f"; failing part: `{found['part']}`" if found.get("part") else "")
        + f"; found by {found.get('found_by', 'hypothesis (shrunk)')}",
        f"- lhs = {summary.number(found['lhs'])}, rhs = {summary.number(found['rhs'])}, "
        f"margin = {summary.margin(found['margin'])}",
    ]
    if found.get("notes"):
        lines.append(f"- {summary.notes(found['notes'])}")
    lines += ["", "```text", summary.params_text(found["params"]), "```"]
    if found.get("replay"):
        lines += ["", f"Replay: `{found['replay']}`"]
    return [*lines, ""]


def _section(claim: dict[str, Any]) -> list[str]:
    mark = "as expected" if claim["as_expected"] else "NOT AS EXPECTED"
    lines = [
        f"## {claim['id']}: {claim.get('title', '')}",
        "",
        f"**Verdict: {claim['verdict']}** (expected {claim['expected']}, {mark}): "
        f"{summary.verdict_sentence(claim)}.",
        "",
        f"- Statement: {claim.get('statement', '')}",
        f"- Assumptions: {'; '.join(claim.get('assumptions', []))}",
        f"- Source: {claim['source']} ({claim.get('citation', '')})",
        f"- Kind: {claim['kind']}",
        f"- Tolerance (rtol {summary.number(claim.get('rtol'))}): "
        f"{claim.get('tolerance_note', '')}",
        f"- Search: {claim.get('search_note', '')}",
        f"- Models: {summary.models_text(claim)}",
        f"- Worst margin: {summary.margin(claim.get('worst_margin'))}"
        + (f" ({summary.notes(claim['worst_notes'])})" if claim.get("worst_notes") else ""),
        f"- Scope: {summary.scope_sentence(claim) or '-'}",
        f"- Time: {claim['seconds']:.2f} s",
        "",
    ]
    if claim.get("worst_instance") and not claim.get("counterexample"):
        lines += [
            f"Tightest instance ({claim.get('worst_model')}):",
            "",
            "```text",
            summary.params_text(claim["worst_instance"]),
            "```",
            "",
        ]
    if summary.frontier_text(claim):
        lines += [f"- Frontier: {summary.frontier_text(claim)}", ""]
    if summary.certificate_rows(claim):
        lines += ["### Certificate", ""]
        lines += _table(["", "value"], [list(row) for row in summary.certificate_rows(claim)])
        lines.append("")
    if claim.get("study"):
        lines += [f"### {claim['study'].get('title', 'Study')}", "", summary.study_text(claim), ""]
        header, rows = summary.study_table(claim)
        if rows:
            lines += [*_table(header, rows), ""]
        if claim["study"].get("figure"):
            lines += ["(The figure is in report.html.)", ""]
    if claim.get("counterexample"):
        lines += _counterexample(
            claim["counterexample"], f"### {summary.counterexample_heading(claim)}"
        )
    if claim["mutants"]:
        rows = [
            [
                m["id"],
                m.get("change", ""),
                m["verdict"] + (" (refuted)" if m["verdict"] == "fails" else " (SURVIVED)"),
                str(m.get("examples", "")),
                summary.notes((m.get("counterexample") or {}).get("notes", {})),
            ]
            for m in claim["mutants"]
        ]
        lines += ["### Mutants", ""]
        lines += _table(["mutant", "change", "verdict", "examples", "counterexample"], rows)
        lines.append("")
        for m in claim["mutants"]:
            if m.get("counterexample"):
                lines += _counterexample(m["counterexample"], f"#### {m['id']}")
    return lines


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
        lines += _section(claim)
    return "\n".join(lines).rstrip() + "\n"
