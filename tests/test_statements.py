"""Statements as mathematics and the catalogue's references: every claim's LaTeX is drawn,
every reference it names is in the bibliography, and a statement that cannot be drawn (or
that tries to inject markup) leaves the plain text alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trajcheck.bibliography import UnreadableBibliography, bibliography
from trajcheck.discovery import DiscoveryError, discover
from trajcheck.report import maths
from trajcheck.report.html import render_html
from trajcheck.report.markdown import render_markdown

CATALOGUE = discover()
CLAIMS = [entry.claim for entry in CATALOGUE]


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_every_claim_states_its_mathematics_in_latex_that_is_drawn(claim) -> None:  # type: ignore[no-untyped-def]
    assert claim.latex, f"{claim.id} has no statement in LaTeX"
    drawn = maths.statement_svg(claim.latex)
    assert len(drawn) == len(maths.lines(claim.latex)) >= 1
    for svg in drawn:
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert "<path" in svg and "<use" in svg  # glyphs as paths: no font needed
        assert "<metadata" not in svg and "<!--" not in svg


def test_every_reference_is_in_the_bibliography() -> None:
    works = bibliography(CATALOGUE.bibliographies)
    assert "liu2025deciphering" in works and "2505.19815" in works["liu2025deciphering"]
    for claim in CLAIMS:
        assert claim.references, f"{claim.id} cites no work"
        unknown = set(claim.references) - set(works)
        assert not unknown, f"{claim.id} cites {unknown}, which references.bib lacks"


def test_a_drawing_is_the_same_every_time_and_its_ids_are_its_own() -> None:
    first = maths.line_svg(r"f(x) \leq \dfrac{a}{b}")
    maths.line_svg.cache_clear()
    assert maths.line_svg(r"f(x) \leq \dfrac{a}{b}") == first
    other = maths.line_svg(r"g(y) \geq 0")
    assert not set(re.findall(r'id="([^"]+)"', first)) & set(re.findall(r'id="([^"]+)"', other))


def _document(latex: str) -> dict:  # type: ignore[type-arg]
    claim = {
        "id": "toy.bound", "family": "toy", "kind": "theorem", "source": "established",
        "expected": "holds", "verdict": "holds", "as_expected": True, "examples": 3,
        "seconds": 0.1, "statement": "x <= 1 for x in [0, 1]", "latex": latex,
        "references": ["known", "unknown"], "mutants": [],
    }  # fmt: skip
    return {
        "version": "0", "format": 2, "profile": "ci", "device": "cpu", "seed": 1,
        "seconds": 0.1, "claims": [claim], "bibliography": {"known": "A. Author. A title. 2020."},
    }  # fmt: skip


def test_the_reports_show_the_maths_the_plain_text_and_the_references() -> None:
    document = _document(r"x \leq 1 \\ x \in [0, 1]")
    html = render_html(document)
    assert html.count('<div class="math-line"><svg') == 2
    assert 'aria-label="x &lt;= 1 for x in [0, 1]"' in html
    assert "x &lt;= 1 for x in [0, 1]" in html.split('class="math"', 1)[1]  # plain text too
    assert '<a class="ref" href="#ref-known">[known]</a>' in html
    assert '<li id="ref-known"><b>[known]</b> A. Author. A title. 2020.</li>' in html
    markdown = render_markdown(document)
    assert "- Statement: x <= 1 for x in [0, 1]" in markdown and "<svg" not in markdown
    assert "- References: [known], [unknown]" in markdown
    assert markdown.rstrip().endswith("- [known] A. Author. A title. 2020.")


@pytest.mark.parametrize(
    "latex",
    [
        r"\frac{1}{",  # unbalanced
        r"\notacommand{x}",
        r"x --> <script>alert(1)</script> <img src=x onerror=alert(2)>",
    ],
)
def test_a_statement_that_cannot_be_drawn_or_injects_markup_is_harmless(latex: str) -> None:
    html = render_html(_document(latex))
    assert "<script>alert" not in html and "<img" not in html
    assert "x &lt;= 1 for x in [0, 1]" in html  # the plain statement is always there
    if 'class="math"' in html:  # mathtext read it: the text is in the drawing's paths only
        drawn = html.split('class="math"', 1)[1].split("</div></div>", 1)[0]
        assert "script" not in drawn and "alert" not in drawn


def test_a_module_names_its_own_bibliography(tmp_path: Path) -> None:
    bib = tmp_path / "mine.bib"
    bib.write_text("@misc{mine2026, author = {Doe, Jane}, title = {Mine}, year = {2026}}\n")
    module = tmp_path / "mine.py"
    module.write_text(
        "from tests.helpers import toy_claim, toy_property\n"
        f"BIBLIOGRAPHY = {str(bib)!r}\n"
        "P = toy_property(toy_claim('mine.claim', references=('mine2026',)))\n"
    )
    catalogue = discover([module])
    assert bibliography(catalogue.bibliographies)["mine2026"].startswith("Jane Doe. Mine.")
    bib.write_text("@misc{broken, title = {no closing brace}\n")
    with pytest.raises(UnreadableBibliography, match="not a readable BibTeX file"):
        bibliography(discover([module]).bibliographies)
    bib.unlink()
    with pytest.raises(DiscoveryError, match=r"BIBLIOGRAPHY .* is not a file"):
        discover([module])


def test_a_run_records_the_works_its_claims_cite() -> None:
    from trajcheck import verify

    run = verify("smoothing.any_step", profile="ci", seed=1, sweep=0, progress=False)
    (claim,) = run.claims
    assert claim["latex"] and claim["references"] == ["liu2025deciphering"]
    assert set(run.document["bibliography"]) == {"liu2025deciphering"}
