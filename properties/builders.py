"""Drawn parameters (as batched tensors) -> models: the inverse of the strategies.

Each builder reads the keys that its strategy in ``properties.strategies`` writes.
"""

from __future__ import annotations

from trajcheck.core import Batch
from trajcheck_catalogue.models.cosine import CosineSum
from trajcheck_catalogue.models.huber import RadialHuber
from trajcheck_catalogue.models.logistic import Logistic
from trajcheck_catalogue.models.quadratic import Quadratic


def quadratic(batch: Batch) -> Quadratic:
    """Keys ``spectrum``, ``rotation`` and, when drawn, ``center`` and ``fstar``."""
    return Quadratic.from_spectrum(
        batch["spectrum"], batch["rotation"], batch.get("center"), batch.get("fstar")
    )


def cosine_sum(batch: Batch) -> CosineSum:
    """Keys ``coef``, ``freq``, ``phase``."""
    return CosineSum(batch["coef"], batch["freq"], batch["phase"])


def logistic(batch: Batch) -> Logistic:
    """Keys ``features``, ``labels``, ``ridge``."""
    return Logistic(batch["features"], batch["labels"], batch["ridge"])


def radial_huber(batch: Batch) -> RadialHuber:
    """Keys ``L``, ``width`` and ``center`` (x* = 0 when not drawn)."""
    center = batch.get("center")
    if center is None:
        center = batch["x0"].new_zeros(batch["x0"].shape)
    return RadialHuber(batch["L"], batch["width"], center)
