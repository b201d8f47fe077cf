"""Small claims and properties built for the engine's own tests."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from hypothesis import strategies as st

from trajcheck.core import Batch, Claim, Measurement, Params, Profile, Property


def toy_claim(cid: str = "toy.square", **overrides: object) -> Claim:
    fields: dict[str, object] = {
        "id": cid,
        "title": "a toy",
        "statement": "x^2 <= c x^2 for x in [-1, 1]",
        "assumptions": ("x in [-1, 1]",),
        "source": "established",
        "citation": "arithmetic",
        "kind": "theorem",
        "expected": "holds",
        "rtol": 1e-12,
        "tolerance_note": "exact",
        "constants": {"c": 1.0},
    }
    fields.update(overrides)
    return Claim(**fields)  # type: ignore[arg-type]


def toy_instances(profile: Profile) -> st.SearchStrategy[Params]:
    return st.fixed_dictionaries({"x": st.floats(-1.0, 1.0)})


def toy_measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    x = batch["x"]
    return Measurement(lhs=x * x, rhs=constants["c"] * x * x, notes={"x": x})


def toy_property(claim: Claim | None = None, measure=toy_measure) -> Property:  # type: ignore[no-untyped-def]
    return Property(claim or toy_claim(), toy_instances, measure, lambda params: 1)


def nan_measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    x = batch["x"]
    return Measurement(lhs=x / torch.zeros_like(x) * 0.0, rhs=x)


def raising_measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    raise RuntimeError("the model broke")
