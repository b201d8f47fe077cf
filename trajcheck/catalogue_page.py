"""The catalogue as a Markdown page, written from the claims themselves
(``trajcheck list --markdown``): what each claims, under which assumptions, from where,
which verdict is expected, and which mutants must be refuted."""

from __future__ import annotations

from trajcheck.discovery import Catalogue, Entry

INTRODUCTION = (
    "Every claim trajcheck checks, family by family, as the claims themselves describe "
    "it: this page is written by `trajcheck list --markdown` and a test keeps it so. "
    "Kinds: a *theorem* must hold in every instance; an *identity* is two sides that "
    "must agree; a *conjecture* is a claim in circulation, expected to hold, to fail, or "
    "left open. Sources: *established* (textbooks and papers), *paper* (arXiv "
    "2505.19815), *summary* (informal claims made about it)."
)


def _claim(entry: Entry) -> list[str]:
    c = entry.claim
    lines = [
        f"### `{c.id}`: {c.title}",
        "",
        f"{c.statement}",
        "",
        f"- Kind: {c.kind}; expected: **{c.expected}**; source: {c.source} ({c.citation})",
        *(f"- Assumes: {a}" for a in c.assumptions),
        f"- Models: {', '.join(p.model for p in entry.props)}",
        f"- Tolerance: rtol {c.rtol:g}, {c.tolerance_note}",
    ]
    if c.search_note:
        lines.append(f"- Search: {c.search_note}")
    if c.census_rule.max_failure > 0:
        lines.append(f"- Census verdict rule: {c.census_rule.describe()}")
    lines += [f"- Mutant `{c.mutant_id(m)}`: {m.change} (must be refuted)" for m in c.mutants]
    return [*lines, ""]


def catalogue_markdown(catalogue: Catalogue) -> str:
    counts = ", ".join(
        f"{family} {sum(e.claim.family == family for e in catalogue)}"
        for family in catalogue.families
    )
    lines = [
        "# The claim catalogue",
        "",
        INTRODUCTION,
        "",
        f"{len(catalogue)} claims: {counts}.",
        "",
    ]
    for family in catalogue.families:
        lines += [f"## {family}", ""]
        for entry in catalogue:
            if entry.claim.family == family:
                lines += _claim(entry)
    return "\n".join(lines).rstrip() + "\n"
