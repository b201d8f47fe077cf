"""Properties: Hypothesis strategies and measures that bind each claim to a model.

The engine finds every module-level ``Property`` in this package through the entry point
``trajcheck.claims = builtin -> properties``; a new file here is picked up as it is.
"""

from pathlib import Path

#: The works the claims cite (``Claim.references``), in BibTeX; installed with the
#: package as trajcheck_catalogue/theory/references.bib.
BIBLIOGRAPHY = Path(__file__).parent.parent / "theory" / "references.bib"

#: The order the catalogue shows its families in (``trajcheck list``, the reports): the
#: engine imports a package's modules in the order its CATALOGUE_ORDER names them. The
#: helper modules (strategies, builders, sketches, pep) define no property.
CATALOGUE_ORDER = (
    "smoothing", "descent", "convergence", "decomposition", "meta", "icl", "paper", "cot",
)  # fmt: skip
