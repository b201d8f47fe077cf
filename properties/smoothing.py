"""Properties of family ``smoothing`` on quadratics with a chosen spectrum."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import torch

from trajcheck.core import Batch, Measurement, Property
from trajcheck_catalogue.models.cosine import CosineSum
from trajcheck_catalogue.models.quadratic import Quadratic, eigenvalues, lmax
from trajcheck_catalogue.properties import builders
from trajcheck_catalogue.properties.draws import Draws, drawn_by
from trajcheck_catalogue.properties.sketches import cosine_curvature_sketch, spectral_filter_sketch
from trajcheck_catalogue.properties.strategies import (
    cosine_dimension,
    cosine_smoothness,
    dimension_of,
    draw_cosine_sum,
    draw_quadratic,
    step_frontier,
    steps_of,
)
from trajcheck_catalogue.theory import smoothing


def smoothing_instance(draw: Draws, *, max_aL: float, min_steps: int) -> Batch:
    """A quadratic, a step a with a*L in (0, max_aL], and a number K of inner steps."""
    params = draw_quadratic(draw)
    params["a"] = draw.step_fractions(max_aL) / params["spectrum"][:, 0]
    params["K"] = draw.steps(min_steps)
    return params


def _quadratic(batch: Batch) -> tuple[Quadratic, torch.Tensor, torch.Tensor]:
    return builders.quadratic(batch), batch["a"], batch["K"]


def amplified_scale(L: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """(2K+1) L: near a*L = 2 the K-step power amplifies the rounding of A by up to 4K+1."""
    return (2 * K + 1) * L


def measure_monotone(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """lmax(Hess F_{K+1}) <= lmax(Hess F_K) and lmax(Hess F_K) <= L."""
    q, a, K = _quadratic(batch)
    # Hess F_{K+1} = S Hess F_K S with S = I - aA: one matrix power for both, and one
    # eigenvalue call for the stacked pair (the sweep's time goes into these two)
    step = q.step_matrix(a)
    hessian_now = q.adapted_hessian(a, K)
    now, after = lmax(torch.cat([hessian_now, step @ hessian_now @ step])).chunk(2)
    L = q.smoothness
    return Measurement(
        lhs=torch.stack([after, now], dim=-1),
        rhs=torch.stack([now, L], dim=-1),
        scale=amplified_scale(L, K + 1),
        parts=("lmax Hess F_{K+1} <= lmax Hess F_K", "lmax Hess F_K <= L"),
        notes={"a*L": a * L},
    )


def measure_rate(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """lmax(Hess F_K) <= factor * g(min(L, 1/(a(2K+1))))."""
    q, a, K = _quadratic(batch)
    L = q.smoothness
    return Measurement(
        lhs=lmax(q.adapted_hessian(a, K)),
        rhs=smoothing.adapted_curvature_bound(L, a, K, factor=constants["factor"]),
        scale=L,
        notes={"a*L": a * L, "peak/L": 1 / (a * (2 * K + 1) * L)},
    )


def measure_below_smoothness(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """lmax(Hess F_K) <= L."""
    q, a, K = _quadratic(batch)
    L = q.smoothness
    return Measurement(
        lhs=lmax(q.adapted_hessian(a, K)),
        rhs=L,
        scale=amplified_scale(L, K),
        notes={"a*L": a * L},
    )


QUADRATIC = Property(
    claim=smoothing.QUADRATIC,
    measure=measure_monotone,
    dimension=dimension_of,
    model="quadratic",
    steps=steps_of,
    sketch=spectral_filter_sketch,
    **drawn_by(partial(smoothing_instance, max_aL=2.0, min_steps=0)),
)

QUADRATIC_RATE = Property(
    claim=smoothing.QUADRATIC_RATE,
    measure=measure_rate,
    dimension=dimension_of,
    model="quadratic",
    steps=steps_of,
    sketch=spectral_filter_sketch,
    **drawn_by(partial(smoothing_instance, max_aL=1.0, min_steps=1)),
)

ANY_STEP = Property(
    claim=smoothing.ANY_STEP,
    measure=measure_below_smoothness,
    dimension=dimension_of,
    model="quadratic",
    steps=steps_of,
    frontier=step_frontier(lambda params: params["spectrum"][0], safe_aL=1.0),
    sketch=spectral_filter_sketch,
    **drawn_by(partial(smoothing_instance, max_aL=4.0, min_steps=1)),
)


def cosine_one_step(draw: Draws) -> Batch:
    """A cosine sum, a point x and a step a = s/L with s in (0, 1] (1 half of the time)."""
    params = draw_cosine_sum(draw)
    params["x"] = draw.vectors(params["freq"].shape[-1], bound=4.0)
    params["a"] = draw.up_to_the_boundary() / builders.cosine_sum(params).smoothness
    return params


def _cosine(batch: Batch) -> tuple[CosineSum, torch.Tensor, torch.Tensor]:
    return builders.cosine_sum(batch), batch["x"], batch["a"]


def measure_nonquadratic(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """lmax(Hess F_1(x)) <= L."""
    f, x, a = _cosine(batch)
    L = f.smoothness
    top = lmax(f.one_step_hessian(x, a))
    return Measurement(lhs=top, rhs=L, scale=L, notes={"a*L": a * L, "lmax/L": top / L})


def measure_maml_bound(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """||Hess F_1(x)||_2 <= 4L + 2 a rho G."""
    f, x, a = _cosine(batch)
    L, rho, G = f.smoothness, f.hessian_lipschitz, f.lipschitz
    norm = eigenvalues(f.one_step_hessian(x, a)).abs().max(dim=-1).values
    return Measurement(
        lhs=norm,
        rhs=smoothing.maml_hessian_bound(L, rho, G, a),
        notes={
            "a*L": a * L,
            "norm/L": norm / L,
            "chain rule": norm / smoothing.one_step_hessian_estimate(L, rho, G, a),
        },
    )


NONQUADRATIC = Property(
    claim=smoothing.NONQUADRATIC,
    **drawn_by(cosine_one_step),
    measure=measure_nonquadratic,
    dimension=cosine_dimension,
    model="cosine",
    frontier=step_frontier(cosine_smoothness, safe_aL=0.0),
    sketch=cosine_curvature_sketch,
)

MAML_BOUND = Property(
    claim=smoothing.MAML_BOUND,
    **drawn_by(cosine_one_step),
    measure=measure_maml_bound,
    dimension=cosine_dimension,
    model="cosine",
    sketch=cosine_curvature_sketch,
)
