"""``summary.csv``: the summary table of a run, one row a claim (pandas)."""

from __future__ import annotations

from typing import Any

import pandas as pd

COLUMNS = (
    "id", "family", "kind", "source", "expected", "verdict", "as_expected", "examples",
    "worst_margin", "swept", "worst_model", "mutants", "mutants_refuted",
    "counterexample_dimension", "counterexample_model", "seconds",
)  # fmt: skip


def summary_frame(document: dict[str, Any]) -> pd.DataFrame:
    """The run's claims as a data frame with the columns of ``COLUMNS``."""
    rows = []
    for claim in document["claims"]:
        found = claim.get("counterexample") or {}
        rows.append(
            {
                **{key: claim.get(key) for key in COLUMNS[:10]},
                "worst_model": claim.get("worst_model"),
                "mutants": len(claim["mutants"]),
                "mutants_refuted": sum(m["verdict"] == "fails" for m in claim["mutants"]),
                "counterexample_dimension": found.get("dimension"),
                "counterexample_model": found.get("model"),
                "seconds": claim["seconds"],
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"counterexample_dimension": "Int64"})


def render_csv(document: dict[str, Any]) -> str:
    return str(
        summary_frame(document).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    )
