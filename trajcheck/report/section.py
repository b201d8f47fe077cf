"""One description of a claim's section, which ``markdown`` and ``html`` both render.

A section is a list of blocks (headings, paragraphs, labelled items, tables, code,
figures, folded details) built once from a claim's entry in ``results.json``; each writer
only decides how a block looks. So the two reports show the same things in the same
order, and a new kind of content (a certificate with a figure) is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trajcheck.report import summary


@dataclass(frozen=True)
class Span:
    """A run of text: ``style`` is "", "bold", "code", "badge" (a verdict's mark, which
    ``expected`` false makes stand out) or "ref" (a BibTeX key, which links to its entry
    in the report's references)."""

    text: str
    style: str = ""
    expected: bool = True


Text = list[Span]


def plain(text: Any) -> Text:
    return [Span(str(text))]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str | None = None


@dataclass(frozen=True)
class Paragraph:
    text: Text
    muted: bool = False


@dataclass(frozen=True)
class Items:
    """Labelled lines: ("Statement", text), ..."""

    items: list[tuple[str, Text]]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[Text]]
    numeric: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Figures:
    """Figures side by side: (figure data as in ``figures``, caption)."""

    figures: list[tuple[dict[str, Any], str]]


@dataclass(frozen=True)
class Details:
    """Blocks folded under a one-line summary (HTML folds them; Markdown shows them)."""

    summary: str
    blocks: list[Block]


@dataclass(frozen=True)
class Math:
    """A statement's mathematics in LaTeX (``report.maths``); ``text`` is the plain-text
    statement, which stands for it where it is not drawn."""

    latex: str
    text: str


@dataclass(frozen=True)
class References:
    """The works cited: (BibTeX key, the entry formatted for reading)."""

    entries: list[tuple[str, str]]


Block = Heading | Paragraph | Items | Table | Code | Figures | Details | Math | References


def reference_blocks(document: dict[str, Any]) -> list[Block]:
    """The report's closing list of the works its claims cite (empty when none is known)."""
    bibliography = document.get("bibliography") or {}
    if not bibliography:
        return []
    return [Heading(2, "References", anchor="references"), References(sorted(bibliography.items()))]


def claim_blocks(claim: dict[str, Any]) -> list[Block]:
    """Every block of a claim's section, in the order both reports show them."""
    mark = "as expected" if claim["as_expected"] else "NOT AS EXPECTED"
    blocks: list[Block] = [
        Heading(2, f"{claim['id']}: {claim.get('title', '')}", anchor=claim["id"]),
        Paragraph(
            [
                Span(claim["verdict"], "badge", claim["as_expected"]),
                Span(f" expected {claim['expected']}, {mark}: {summary.verdict_sentence(claim)}."),
            ]
        ),
    ]
    if claim.get("latex"):
        blocks.append(Math(claim["latex"], claim.get("statement", "")))
    blocks.append(Items(_items(claim)))
    blocks += _pictures(claim)
    if claim.get("worst_instance") and not claim.get("counterexample"):
        blocks.append(
            Details(
                f"Tightest instance ({claim.get('worst_model')})",
                [Code(summary.params_text(claim["worst_instance"]))],
            )
        )
    if summary.frontier_text(claim):
        blocks.append(
            Paragraph([Span("Frontier:", "bold"), Span(f" {summary.frontier_text(claim)}")])
        )
    for certificate in summary.certificates(claim):
        blocks += certificate_blocks(certificate)
    if claim.get("study"):
        blocks += _study(claim)
    if claim.get("counterexample"):
        blocks += counterexample_blocks(
            claim["counterexample"], summary.counterexample_heading(claim), level=3
        )
    if claim["mutants"]:
        blocks += _mutants(claim["mutants"])
    return blocks


def _items(claim: dict[str, Any]) -> list[tuple[str, Text]]:
    worst = summary.margin(claim.get("worst_margin"))
    if claim.get("worst_notes"):
        worst += f" ({summary.notes(claim['worst_notes'])})"
    return [
        ("Statement", plain(claim.get("statement", ""))),
        ("Assumptions", plain("; ".join(claim.get("assumptions", [])))),
        ("Source", plain(f"{claim['source']} ({claim.get('citation', '')})")),
        *_references(claim),
        ("Kind", plain(claim["kind"])),
        (
            f"Tolerance (rtol {summary.number(claim.get('rtol'))})",
            plain(claim.get("tolerance_note", "")),
        ),
        ("Search", plain(claim.get("search_note", ""))),
        ("Models", plain(summary.models_text(claim))),
        ("Worst margin", plain(worst)),
        ("Scope", plain(summary.scope_sentence(claim) or "-")),
        ("Time", plain(f"{claim['seconds']:.2f} s")),
    ]


def _references(claim: dict[str, Any]) -> list[tuple[str, Text]]:
    keys = claim.get("references") or []
    if not keys:
        return []
    spans: Text = []
    for i, key in enumerate(keys):
        spans += [Span(", " if i else ""), Span(key, "ref")]
    return [("References", spans)]


def _pictures(claim: dict[str, Any]) -> list[Block]:
    """The instance's figure (fitted to the family) and the histogram of the margins."""
    shown: list[tuple[dict[str, Any], str]] = []
    blocks: list[Block] = []
    sketch = claim.get("sketch")
    if sketch and "error" in sketch:
        blocks.append(Paragraph(plain(f"figure failed: {sketch['error']}"), muted=True))
    elif sketch and sketch.get("figure"):
        caption = f"{sketch.get('title', '')} ({sketch.get('instance', '')}). "
        shown.append((sketch["figure"], caption + sketch.get("caption", "")))
    histogram = summary.margins_figure(claim)
    if histogram:
        shown.append((histogram, summary.margins_caption(claim)))
    if shown:
        blocks.append(Figures(shown))
    return blocks


def certificate_blocks(certificate: dict[str, Any]) -> list[Block]:
    """A certificate: its rows (method, where, certified and theoretical values, their
    gap, what the search observed) and its worst case drawn, whatever claim it is for."""
    blocks: list[Block] = [Heading(3, summary.certificate_title(certificate))]
    rows = [[plain(name), plain(value)] for name, value in summary.certificate_rows(certificate)]
    blocks.append(Table(["", "value"], rows, {1}))
    if certificate.get("figure"):
        blocks.append(Figures([(certificate["figure"], str(certificate.get("caption", "")))]))
    return blocks


def _study(claim: dict[str, Any]) -> list[Block]:
    """The claim's study: its summary, its figure and its table (folded)."""
    study = claim["study"]
    blocks: list[Block] = [
        Heading(3, study.get("title", "Study")),
        Paragraph(plain(summary.study_text(claim))),
    ]
    if study.get("figure"):
        blocks.append(Figures([(study["figure"], "")]))
    header, rows = summary.study_table(claim)
    if rows:
        numeric = {i for i, cell in enumerate(rows[0]) if _is_number(cell)}
        table = Table(header, [[plain(c) for c in r] for r in rows], numeric)
        blocks.append(Details(f"Table ({len(rows)} rows)", [table]))
    return blocks


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def counterexample_blocks(found: dict[str, Any], heading: str, level: int) -> list[Block]:
    part = f"; failing part: {found['part']}" if found.get("part") else ""
    sides = [
        [
            plain(summary.number(found["lhs"])),
            plain(summary.number(found["rhs"])),
            plain(summary.margin(found["margin"])),
        ]
    ]
    blocks: list[Block] = [
        Heading(level, heading),
        Paragraph(
            plain(
                f"model {found.get('model') or '-'}, dimension {found['dimension']}{part}; "
                f"found by {found.get('found_by', 'hypothesis (shrunk)')}"
            )
        ),
        Table(["lhs", "rhs", "margin"], sides, {0, 1, 2}),
    ]
    if found.get("notes"):
        blocks.append(Paragraph(plain(summary.notes(found["notes"]))))
    blocks.append(Code(summary.params_text(found["params"])))
    if found.get("replay"):
        blocks.append(Paragraph([Span("Replay: "), Span(found["replay"], "code")]))
    return blocks


def _mutants(mutants: list[dict[str, Any]]) -> list[Block]:
    rows = [
        [
            plain(m["id"]),
            plain(m.get("change", "")),
            [
                Span(m["verdict"], "badge", m["verdict"] == "fails"),
                Span(" (refuted)" if m["verdict"] == "fails" else " (SURVIVED)"),
            ],
            plain(m.get("examples", "")),
            plain(summary.notes((m.get("counterexample") or {}).get("notes", {}))),
        ]
        for m in mutants
    ]
    blocks: list[Block] = [
        Heading(3, "Mutants"),
        Table(["mutant", "change", "verdict", "examples", "counterexample"], rows, {3}),
    ]
    for m in mutants:
        if m.get("counterexample"):
            blocks += counterexample_blocks(m["counterexample"], m["id"], level=4)
    return blocks
