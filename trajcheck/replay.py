"""Replay a saved counterexample: rebuild its instance and measure both sides again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trajcheck.core import Claim, Mutant
from trajcheck.discovery import discover
from trajcheck.runner import Evaluation, evaluate


class MalformedCounterexample(ValueError):
    pass


@dataclass
class Replay:
    claim: Claim
    mutant: Mutant | None
    recorded: dict[str, Any]
    evaluation: Evaluation

    @property
    def violated(self) -> bool:
        return self.evaluation.violates(self.claim.rtol)


def read_counterexample(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedCounterexample(f"{path}: unreadable ({exc})") from exc
    required = {"claim": str, "params": dict, "lhs": float, "rhs": float}
    if not isinstance(document, dict) or any(
        not isinstance(document.get(k), t) for k, t in required.items()
    ):
        raise MalformedCounterexample(
            f"{path}: not a trajcheck counterexample (needs claim, params, lhs, rhs)"
        )
    return document


def replay(path: Path, device: torch.device) -> Replay:
    document = read_counterexample(path)
    origin = str(document.get("origin", ""))
    modules = [Path(origin.removeprefix("module "))] if origin.startswith("module ") else []
    catalogue = discover(modules)
    entry = catalogue.entries.get(document["claim"])
    if entry is None:
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
    try:
        evaluation = evaluate(prop, document["params"], claim.constants_for(mutant), device)
    except Exception as exc:
        raise MalformedCounterexample(
            f"{path}: its parameters do not fit {claim.id} ({type(exc).__name__}: {exc})"
        ) from exc
    return Replay(claim, mutant, document, evaluation)
