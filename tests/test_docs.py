"""The documentation that comes from the code stays true: docs/CATALOGUE.md is what
`trajcheck list --markdown` writes, and the catalogue's order is the one it declares."""

from __future__ import annotations

from pathlib import Path

from trajcheck.catalogue_page import catalogue_markdown
from trajcheck.cli import main
from trajcheck.discovery import discover
from trajcheck_catalogue import properties

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_catalogue_page_is_written_from_the_claims() -> None:
    """Regenerate with: trajcheck list --markdown > docs/CATALOGUE.md"""
    catalogue = discover()
    page = (DOCS / "CATALOGUE.md").read_text(encoding="utf-8")
    assert page == catalogue_markdown(catalogue)
    for entry in catalogue:
        assert f"### `{entry.claim.id}`" in page
        for mutant in entry.claim.mutants:
            assert entry.claim.mutant_id(mutant) in page


def test_list_markdown_prints_the_page(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["list", "--markdown"]) == 0
    assert capsys.readouterr().out == (DOCS / "CATALOGUE.md").read_text(encoding="utf-8")
    assert main(["list", "--markdown", "--json"]) == 2


def test_the_catalogue_order_is_the_one_it_declares() -> None:
    assert discover().families == list(properties.CATALOGUE_ORDER)


def test_the_docs_name_no_file_the_repository_lacks() -> None:
    """CLAIMS.md and ARCHITECTURE.md were the spec of the team that wrote trajcheck; a
    clone has docs/CATALOGUE.md and docs/ARCHITECTURE.md instead."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "CLAIMS.md" not in readme
    assert readme.count("ARCHITECTURE.md") == readme.count("docs/ARCHITECTURE.md") > 0
    for page in DOCS.glob("*.md"):
        assert "CLAIMS.md" not in page.read_text(encoding="utf-8"), page.name


def test_the_citation_file_describes_this_version() -> None:
    """CITATION.cff (checked against the CFF 1.2.0 schema with cffconvert --validate when
    it was written) names this release, and the paper the catalogue checks."""
    from importlib.metadata import version

    import yaml  # PyYAML comes with pybtex

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["version"] == version("trajcheck") and citation["license"] == "MIT"
    assert citation["title"].startswith("trajcheck") and citation["authors"]
    (paper,) = citation["references"]
    assert paper["identifiers"][0]["value"] == "arXiv:2505.19815"
