"""Replay a saved counterexample: rebuild its instance and measure both sides again.

A counterexample file is data from wherever it came from, so replay treats it as such:
it is checked against its schema, its claim is looked up only among the installed
claims and the ``--module`` files named on replay's own command line (the file's
``origin`` is shown, never imported), and its instance must lie within the largest
profile's profile before it is measured (a K of 10^9 would run for days).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trajcheck.core import Claim, Mutant, Params, Profile, Property
from trajcheck.discovery import discover
from trajcheck.evaluation import Evaluation, decided_by_rounding, evaluate
from trajcheck.profiles import PROFILES
from trajcheck.report.results import MalformedResults, read_json
from trajcheck.report.schema import COUNTEREXAMPLE_SCHEMA, problem


class MalformedCounterexample(ValueError):
    pass


@dataclass
class Replay:
    claim: Claim
    mutant: Mutant | None
    recorded: dict[str, Any]
    evaluation: Evaluation
    rounding: bool  # the violation is within the rounding of its own computation

    @property
    def violated(self) -> bool:
        """Violated beyond rounding; never where a side is not finite (a margin of -inf
        is no evidence, and the search calls such an instance an error)."""
        return (
            self.evaluation.finite
            and self.evaluation.violates(self.claim.rtol)
            and not self.rounding
        )


def read_counterexample(path: Path) -> dict[str, Any]:
    try:
        document = read_json(path)
    except MalformedResults as exc:
        raise MalformedCounterexample(str(exc)) from None
    found = problem(document, COUNTEREXAMPLE_SCHEMA)
    if found is not None:
        raise MalformedCounterexample(f"{path}: not a trajcheck counterexample ({found})")
    return document


def largest_profile() -> Profile:
    return max(PROFILES.values(), key=lambda p: (p.max_dimension, p.max_steps))


def check_assumptions(prop: Property, params: Params, where: str) -> None:
    """Refuse an instance the property's program could not have drawn under the largest
    profile (``Property.admits``: types, ranges of its choices, invariants such as an
    orthogonal rotation or a positive step); without a program, one whose parameters are
    not finite numbers."""
    if prop.admits is not None:
        why = prop.admits(params, largest_profile())
    else:
        why = next(
            (f"{key} is not a finite number or array of them" for key, value in params.items()
             if not _finite_numbers(value)),
            None,
        )  # fmt: skip
    if why is not None:
        raise MalformedCounterexample(
            f"{where}: not an instance {prop.claim.id} could have drawn ({why}); replay "
            "does not measure it"
        )


def _finite_numbers(value: Any) -> bool:
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_size(prop: Property, params: Params, where: str) -> None:
    """Refuse an instance larger than the largest profile draws (dimension, steps)."""
    largest_dimension = max(p.max_dimension for p in PROFILES.values())
    largest_steps = max(p.max_steps for p in PROFILES.values())
    try:
        dimension = int(prop.dimension(params))
        steps = int(prop.steps(params)) if prop.steps is not None else 0
    except Exception as exc:
        raise MalformedCounterexample(
            f"{where}: its parameters do not fit {prop.claim.id} ({type(exc).__name__}: {exc})"
        ) from None
    if dimension > largest_dimension or steps > largest_steps:
        raise MalformedCounterexample(
            f"{where}: its instance (dimension {dimension}, {steps} steps) is beyond what any "
            f"profile searches (dimension <= {largest_dimension}, steps <= {largest_steps}); "
            "replay does not measure it"
        )


def replay(path: Path, device: torch.device, modules: list[Path] | None = None) -> Replay:
    document = read_counterexample(path)
    catalogue = discover(modules or [])
    entry = catalogue.entries.get(document["claim"])
    if entry is None:
        origin = str(document.get("origin", ""))
        if origin.startswith("module "):
            raise MalformedCounterexample(
                f"{path}: claim {document['claim']!r} comes from {origin}; pass --module "
                f"{origin.removeprefix('module ')} to replay it (replay never imports a "
                "file a counterexample names)"
            )
        raise MalformedCounterexample(f"{path}: claim {document['claim']!r} is not installed")
    claim = entry.claim
    prop = entry.prop_for(str(document.get("model", ""))) or entry.props[0]
    mutant = None
    if document.get("mutant"):
        matches = [m for m in claim.mutants if m.name == document["mutant"]]
        if not matches:
            raise MalformedCounterexample(
                f"{path}: claim {claim.id} has no mutant {document['mutant']!r}"
            )
        mutant = matches[0]
    params = document["params"]
    check_size(prop, params, str(path))
    check_assumptions(prop, params, str(path))
    constants = claim.constants_for(mutant)
    try:
        evaluation = evaluate(prop, params, constants, device)
        rounding = (
            evaluation.finite
            and evaluation.violates(claim.rtol)
            and decided_by_rounding(prop, params, constants, device, evaluation)
        )
    except Exception as exc:
        raise MalformedCounterexample(
            f"{path}: its parameters do not fit {claim.id} ({type(exc).__name__}: {exc})"
        ) from exc
    return Replay(claim, mutant, document, evaluation, rounding)
