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


#: The columns that ``model_frame`` takes from each model's line, not from the claim.
MODEL_COLUMNS = ("verdict", "examples", "worst_margin", "swept", "seconds")


def model_frame(document: dict[str, Any]) -> pd.DataFrame:
    """The run's claims by model: one row per claim and model it is bound to, with the
    columns of ``COLUMNS`` and ``model`` after ``id``; ``MODEL_COLUMNS`` are the model's,
    the rest the claim's. A claim with no model lines (an error before its search, or a
    run before they were recorded) has one row, its model empty."""
    claims = summary_frame(document).to_dict("records")
    rows = []
    for row, claim in zip(claims, document["claims"], strict=True):
        lines = claim.get("models") or [{"model": None}]
        for line in lines:
            rows.append(
                {
                    **row,
                    "model": line["model"],
                    **{key: line[key] for key in MODEL_COLUMNS if key in line},
                }
            )
    columns = ["id", "model", *COLUMNS[1:]]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"counterexample_dimension": "Int64"})


def render_csv(document: dict[str, Any]) -> str:
    return str(
        summary_frame(document).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    )
