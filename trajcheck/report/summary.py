"""Numbers and phrases that the Markdown and HTML reports share."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from trajcheck.core import census_sentence


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def exact(value: float) -> str:
    """The shortest decimal that reads back as the same float: two ends of a bisection
    one ulp apart print differently (with 12 digits both read 2)."""
    return repr(float(value))


def margin(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3e}"


def notes(values: dict[str, float]) -> str:
    return ", ".join(f"{k} = {number(v)}" for k, v in values.items())


def rounded(value: Any, digits: int = 6) -> Any:
    """Parameters for reading: floats to ``digits`` significant digits (files keep all)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    return value


def params_text(params: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {json.dumps(rounded(v))}" for k, v in params.items())


def models_text(searched: dict[str, Any]) -> str:
    """Where the examples went: one phrase per model the claim is bound to."""
    return "; ".join(
        f"{m['model']}: {m['verdict']}, {m['examples']} examples"
        + (f" + {m['swept']} swept" if m.get("swept") else "")
        + (f" ({m['swept_violations']} past the tolerance)" if m.get("swept_violations") else "")
        + f", worst margin {margin(m.get('worst_margin'))}"
        for m in searched.get("models", [])
    )


def frontier_text(claim: dict[str, Any]) -> str:
    """Where the claim starts to fail, located by bisection from its counterexample."""
    frontier = claim.get("frontier")
    if not frontier:
        return ""
    if not frontier.get("located"):
        return f"not located ({frontier.get('reason', '')})"
    return (
        f"{frontier['label']} = {frontier['boundary']:.12g} on the counterexample's instance "
        f"(holds at {exact(frontier['holds_at'])}, fails at {exact(frontier['fails_at'])})"
    )


def certificates(claim: dict[str, Any]) -> list[dict[str, Any]]:
    """A claim's certificates: ``certificates`` (every one), or the single
    ``certificate`` that runs before version 0.2 recorded."""
    if claim.get("certificates") is not None:
        return list(claim["certificates"])
    return [claim["certificate"]] if claim.get("certificate") else []


def certificate_title(certificate: dict[str, Any]) -> str:
    return f"Certificate: {certificate['title']}" if certificate.get("title") else "Certificate"


#: Fields of a certificate that its rows show by name; any other scalar field (a field
#: that an older run recorded) is shown as it is, after them.
_CERTIFICATE_FIELDS = {
    "title", "method", "model", "parameters", "value", "theoretical", "relative_gap",
    "observed", "figure", "caption", "error",
}  # fmt: skip


def certificate_rows(certificate: dict[str, Any]) -> list[tuple[str, str]]:
    """A certificate beside the search, whatever it certifies: the method, where it was
    computed, the certified and the theoretical value, their gap, what the search saw."""
    if "error" in certificate:
        return [("certificate failed", str(certificate["error"]))]
    rows = [("method", str(certificate.get("method")))]
    if certificate.get("parameters"):
        rows.append(("at", notes(certificate["parameters"])))
    if certificate.get("model"):
        rows.append(("model", str(certificate["model"])))
    rows += [
        ("certified worst case", number(certificate.get("value"))),
        ("theoretical bound", number(certificate.get("theoretical"))),
        ("relative gap", number(certificate.get("relative_gap"))),
    ]
    rows += [(f"observed: {k}", number(v)) for k, v in (certificate.get("observed") or {}).items()]
    rows += [
        (key, number(value))
        for key, value in certificate.items()
        if key not in _CERTIFICATE_FIELDS and not isinstance(value, (dict, list))
    ]
    return rows


def mutants_refuted(claim: dict[str, Any]) -> str:
    mutants = claim["mutants"]
    if not mutants:
        return "-"
    return f"{sum(m['verdict'] == 'fails' for m in mutants)}/{len(mutants)}"


def headline(document: dict[str, Any]) -> str:
    claims = document["claims"]
    verdicts = Counter(c["verdict"] for c in claims)
    expected = sum(c["as_expected"] for c in claims)
    mutants = [m for c in claims for m in c["mutants"]]
    refuted = sum(m["verdict"] == "fails" for m in mutants)
    return (
        f"{len(claims)} claims, {expected} as expected "
        f"(holds {verdicts['holds']}, fails {verdicts['fails']}, error {verdicts['error']}); "
        f"mutants refuted {refuted}/{len(mutants)}"
    )


def run_line(document: dict[str, Any]) -> str:
    env = document.get("environment", {})
    seed = document.get("seed")
    seed_text = f"seed {seed}" if seed is not None else "unseeded (Hypothesis database on)"
    return (
        f"profile {document['profile']}, device {document['device']}, {seed_text}, "
        f"{document['seconds']:.1f} s; trajcheck {document['version']}, "
        f"torch {env.get('torch', '?')}, hypothesis {env.get('hypothesis', '?')}, "
        f"created {document.get('created', '?')}"
    )


def verdict_sentence(claim: dict[str, Any]) -> str:
    """What the search concluded, in words."""
    if claim["verdict"] == "error":
        return f"error: {claim.get('error')}"
    census = claim.get("census")
    if census:
        text = f"a census (seed {census['seed']}): the claim {census_sentence(census)}"
        if census.get("rule"):
            text += f"; rule: {census['rule']}"
        return text
    if claim["verdict"] == "fails":
        return f"refuted: a violation was found and shrunk (after {claim['examples']} examples)"
    return f"no violation in {claim['examples']} examples"


def counterexample_heading(claim: dict[str, Any]) -> str:
    """A census does not shrink: its counterexample is the worst instance it counted."""
    return "Worst violating instance" if claim.get("census") else "Minimal counterexample"


MARGIN_RULE = (
    "Margin = (rhs - lhs) / max(|rhs|, scale), scale being the size of the terms the "
    "computation rounds (for an identity, minus the relative difference); an instance "
    "violates a claim where its margin is below -rtol and stays so a few ulps away (a "
    "violation that moves by as much is rounding, counted apart). A counterexample also "
    "shows (rhs - lhs) / |rhs|."
)


#: How the searched domain's coordinates are shown: dimension, inner steps, census size;
#: every other coordinate is a note of the instances (a step size such as a*L).
_DOMAIN_NAMES = {"dimension": "d", "steps": "K", "census instances": "census of"}


def domain_text(domain: dict[str, list[float]] | None, *, notes: int | None = None) -> str:
    """The searched domain in a few words: "d 1..12, K 0..32, a*L 0.0013..2": dimension,
    steps, census size, and the ranges of the measure's notes (only the first ``notes``
    of them when given: the first is the step size, a*L, in most claims)."""
    parts, shown_notes = [], 0
    for name, (low, high) in (domain or {}).items():
        if name not in _DOMAIN_NAMES:
            if notes is not None and shown_notes >= notes:
                continue
            shown_notes += 1
        shown = f"{low:.4g}" if low == high else f"{low:.4g}..{high:.4g}"
        parts.append(f"{_DOMAIN_NAMES.get(name, name)} {shown}")
    return ", ".join(parts)


def scope_sentence(claim: dict[str, Any]) -> str:
    """What a verdict covers: the searched domain, and what rounding set aside."""
    text = domain_text(claim.get("domain"))
    sentence = f"searched {text}; nothing outside it is covered" if text else ""
    rounding = claim.get("rounding_only") or 0
    if rounding:
        sentence += (
            f"{'; ' if sentence else ''}{rounding} violation{'s' if rounding > 1 else ''} "
            "set aside as rounding (a few ulps away they moved by as much)"
        )
    return sentence


SUMMARY_COLUMNS = (
    "claim",
    "family",
    "kind",
    "source",
    "expected",
    "verdict",
    "as expected",
    "examples",
    "worst margin",
    "mutants refuted",
    "seconds",
)


def summary_row(claim: dict[str, Any]) -> list[str]:
    return [
        claim["id"],
        claim["family"],
        claim["kind"],
        claim["source"],
        claim["expected"],
        claim["verdict"],
        "yes" if claim["as_expected"] else "NO",
        str(claim["examples"]),
        margin(claim.get("worst_margin")),
        mutants_refuted(claim),
        f"{claim['seconds']:.2f}",
    ]


def study_table(claim: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A claim's study table as text cells (header, rows); empty when it has none."""
    table = (claim.get("study") or {}).get("table")
    if not table:
        return [], []
    cells = [[number(v) if not isinstance(v, bool) else str(v) for v in r] for r in table["rows"]]
    return [str(c) for c in table["columns"]], cells


def study_text(claim: dict[str, Any]) -> str:
    """The study's one-paragraph summary, or the error that stopped it."""
    study = claim.get("study") or {}
    if "error" in study:
        return f"study failed: {study['error']}"
    return str(study.get("summary", ""))


def margins_figure(claim: dict[str, Any]) -> dict[str, Any] | None:
    """The histogram of the margins searched, as a bar figure: one bar a decade, from the
    first to the last decade reached, and the margins at or below 0 (for an identity:
    the relative differences, and exact agreement)."""
    histogram = claim.get("margins")
    if not histogram or not (sum(histogram["counts"]) + histogram["at_or_below_zero"]):
        return None
    counts, edges = histogram["counts"], histogram["log10_edges"]
    reached = [i for i, c in enumerate(counts) if c]
    first, last = (reached[0], reached[-1]) if reached else (0, -1)
    identity = histogram.get("of") == "relative difference"
    apart = "exact" if identity else "<= 0"
    labels = [apart] + [f"1e{edges[i]}" for i in range(first, last + 1)]
    return {
        "kind": "bars",
        "x_label": (
            "relative difference |lhs - rhs|/max(|rhs|, scale), by decade"
            if identity
            else "margin (rhs - lhs)/max(|rhs|, scale), by decade"
        ),
        "y_label": "examples",
        "labels": labels,
        "values": [histogram["at_or_below_zero"], *counts[first : last + 1]],
        "highlight": [apart],
    }


def margins_caption(claim: dict[str, Any]) -> str:
    if (claim.get("margins") or {}).get("of") == "relative difference":
        return (
            "Agreement: the relative differences of the two sides over the examples "
            "searched, by decade; 'exact' counts identical sides."
        )
    return (
        "Tightness: the margins of the examples searched, by decade; '<= 0' counts "
        "bounds attained to rounding (and violations)."
    )
