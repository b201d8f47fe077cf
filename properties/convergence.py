"""Properties of family ``convergence``: gradient descent as the inner loop."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from trajcheck.core import (
    Batch,
    Certificate,
    Measurement,
    Outcome,
    Property,
    to_batch,
)
from trajcheck_catalogue.models.inner_loop import unroll
from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.properties import builders, pep
from trajcheck_catalogue.properties.draws import Draws, drawn_by
from trajcheck_catalogue.properties.sketches import convergence_sketch
from trajcheck_catalogue.properties.strategies import (
    SMOOTHNESS_RANGE,
    dimension_of,
    draw_logistic,
    draw_quadratic,
    features_dimension,
    steps_of,
    toward_an_eigenvector,
)
from trajcheck_catalogue.theory import convergence, descent

# convergence.convex_gd ---------------------------------------------------------------


def convex_quadratic(draw: Draws) -> Batch:
    """A PSD quadratic with x* = 0, f* = 0, a start x_0, K >= 1 and a = 1/L."""
    params = draw_quadratic(draw)
    params["x0"] = draw.vectors(params["spectrum"].shape[-1])
    params["K"] = draw.steps(min_steps=1)
    params["a"] = 1 / params["spectrum"][:, 0]
    return params


def measure_convex_quadratic(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f, a, K, x0 = builders.quadratic(batch), batch["a"], batch["K"], batch["x0"]
    gap = f.value(unroll(f.inner_step, x0, a, K)) - f.fstar
    bound = convergence.convex_gd_bound(f.smoothness, (x0 * x0).sum(-1), K, constants["offset"])
    return Measurement(lhs=gap, rhs=bound, notes={"ratio": gap / bound})


def huber(draw: Draws) -> Batch:
    """A radial Huber loss at x* = 0 with width delta = t R/(2K+1), t in (0, 3]."""
    d = draw.dimension()
    x0 = draw.vectors(d)
    K = draw.steps(min_steps=1)
    t = draw.floats(0.0, 3.0, exclude_min=True)
    L = draw.floats(*SMOOTHNESS_RANGE)
    return {"L": L, "width": t * norm(x0) / (2 * K + 1), "x0": x0, "K": K, "a": 1 / L}


def measure_convex_huber(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    x0, K = batch["x0"], batch["K"]
    f = builders.radial_huber(batch)
    gap = f.value(unroll(f.inner_step, x0, batch["a"], K)) - f.fstar
    R_sq = (x0 * x0).sum(-1)
    bound = convergence.convex_gd_bound(f.smoothness, R_sq, K, constants["offset"])
    notes = {"ratio": gap / bound, "t": batch["width"] * (2 * K + 1) / norm(x0)}
    return Measurement(lhs=gap, rhs=bound, notes=notes)


def convex_logistic(draw: Draws) -> Batch:
    params = draw_logistic(draw, ridge=False)
    params["x0"] = draw.vectors(params["features"].shape[-1], bound=5.0)
    params["K"] = draw.steps(min_steps=1)
    params["a"] = 1 / builders.logistic(params).smoothness
    return params


def measure_convex_logistic(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f, a, K, x0 = builders.logistic(batch), batch["a"], batch["K"], batch["x0"]
    minimizer, fstar, _ = f.minimize()
    value = f.value(unroll(f.inner_step, x0, a, K))
    R_sq = ((x0 - minimizer) ** 2).sum(-1)
    bound = convergence.convex_gd_bound(f.smoothness, R_sq, K, constants["offset"])
    return Measurement(
        lhs=value - fstar,
        rhs=bound,
        scale=value.abs() + fstar.abs(),
        notes={"ratio": (value - fstar) / bound},
    )


def certify_convex_gd(outcome: Outcome) -> Certificate:
    """The PEP worst case of K steps of size 1/L on L-smooth convex functions, at the L and
    K of the Huber instance the search found tightest, beside L R^2/(4K+2) (R = 1); drawn
    step by step beside that instance's own trajectory."""
    huber = dict(outcome.models).get("huber")
    params = huber.worst_params if huber is not None else None
    L, K = (params["L"], params["K"]) if params else (1.0, 1)
    worst = pep.gradient_descent_convex(L, K)
    tightest = None
    if params is not None:  # its gap f(x_k) - f* over L R^2, k = 0..K
        batch = to_batch(params, torch.device("cpu"))
        f, x = builders.radial_huber(batch), batch["x0"]
        scale = float(f.smoothness[0]) * float((x * x).sum())
        tightest = []
        for _ in range(K + 1):
            tightest.append(float(f.value(x)[0] - f.fstar[0]) / scale)
            x = f.inner_step(x, batch["a"])
    normalized = [v / L for v in worst.trajectory]
    bound = [None, *(float(convergence.convex_gd_bound(1.0, 1.0, k)) for k in range(1, K + 1))]
    return Certificate(
        title="worst case of gradient descent, step 1/L, on smooth convex functions",
        method=pep.method(),
        value=worst.value,
        theoretical=worst.theoretical,
        parameters={"L": L, "K": K, "R": 1.0},
        observed={"worst ratio (f(x_K) - f*) / bound": huber.worst_notes.get("ratio")}
        if huber
        else {},
        model="huber",
        figure=pep.trajectory_figure(
            "(f(x_k) - f*) / (L R^2)",
            normalized,
            tightest,
            bound,
            "1/(4k+2), the bound after k steps",
        ),
        caption=(
            "The SDP's worst-case function, step by step, beside the Huber instance the "
            "search found tightest (same L and K) and L R^2/(4k+2); all over L R^2."
        ),
    )


CONVEX_GD_HUBER = Property(
    convergence.CONVEX_GD, measure=measure_convex_huber, dimension=lambda p: len(p["x0"]),
    **drawn_by(huber),
    model="huber", steps=steps_of, certificate=certify_convex_gd,
    sketch=convergence_sketch(builders.radial_huber, convex=True),
)  # fmt: skip
CONVEX_GD_QUADRATIC = Property(
    convergence.CONVEX_GD, measure=measure_convex_quadratic, dimension=dimension_of,
    **drawn_by(convex_quadratic),
    model="quadratic", steps=steps_of, sketch=convergence_sketch(builders.quadratic, convex=True),
)  # fmt: skip
CONVEX_GD_LOGISTIC = Property(
    convergence.CONVEX_GD, measure=measure_convex_logistic, dimension=features_dimension,
    **drawn_by(convex_logistic),
    model="logistic", steps=steps_of, sketch=convergence_sketch(builders.logistic, convex=True),
)  # fmt: skip


# convergence.strongly_convex_gd ------------------------------------------------------


def _linear_rate(
    x_K: torch.Tensor,
    x0: torch.Tensor,
    minimizer: torch.Tensor,
    mu: torch.Tensor,
    L: torch.Tensor,
    a: torch.Tensor,
    K: torch.Tensor,
    rate_factor: float,
    minimizer_scale: torch.Tensor | None = None,
) -> Measurement:
    """||x_K - x*|| <= (rate_factor q)^K ||x_0 - x*||, rounded at the size of the vectors
    subtracted and, where x* is computed, at the accuracy it is known to."""
    q = descent.contraction_factor(mu, L, a)
    distance = norm(x_K - minimizer)
    scale = norm(minimizer) + torch.maximum(norm(x0), norm(x_K))
    if minimizer_scale is not None:
        scale = scale + minimizer_scale
    return Measurement(
        lhs=distance,
        rhs=convergence.linear_rate_bound(norm(x0 - minimizer), q, K, rate_factor),
        scale=scale,
        notes={"q": q, "a(mu+L)/2": a * (mu + L) / 2},
    )


def strongly_convex_quadratic(draw: Draws) -> Batch:
    params = draw_quadratic(draw, min_ratio=1e-3)
    d = params["spectrum"].shape[-1]
    params["center"] = draw.vectors(d)
    params["x0"] = toward_an_eigenvector(draw, params, draw.vectors(d), 10.0, params["center"])
    params["K"] = draw.steps(min_steps=1)
    mu, L = params["spectrum"].amin(dim=-1), params["spectrum"][:, 0]
    params["a"] = draw.unit_interval(exclude_min=True) * 2 / (mu + L)
    return params


def measure_rate_quadratic(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f, a, K, x0 = builders.quadratic(batch), batch["a"], batch["K"], batch["x0"]
    x_K = unroll(f.inner_step, x0, a, K)
    return _linear_rate(
        x_K, x0, f.center, f.strong_convexity, f.smoothness, a, K, constants["rate_factor"]
    )


def ridge_logistic(draw: Draws) -> Batch:
    params = draw_logistic(draw, ridge=True)
    params["x0"] = draw.vectors(params["features"].shape[-1], bound=5.0)
    params["K"] = draw.steps(min_steps=1)
    f = builders.logistic(params)
    params["a"] = draw.unit_interval(exclude_min=True) * 2 / (f.strong_convexity + f.smoothness)
    return params


def measure_rate_logistic(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f, a, K, x0 = builders.logistic(batch), batch["a"], batch["K"], batch["x0"]
    minimizer, _, minimizer_scale = f.minimize()
    x_K = unroll(f.inner_step, x0, a, K)
    return _linear_rate(
        x_K,
        x0,
        minimizer,
        f.strong_convexity,
        f.smoothness,
        a,
        K,
        constants["rate_factor"],
        minimizer_scale,
    )


def certify_strongly_convex_gd(outcome: Outcome) -> Certificate:
    """The PEP worst case of K steps of gradient descent on mu-strongly convex L-smooth
    functions at the L, mu, a and K of the quadratic the search found tightest (where the
    SDP resolves them: ``pep.rate_parameters``), beside q^K; drawn step by step, as the
    share of the bound attained, beside that instance."""
    params, _ = pep.tightest(outcome, "quadratic")
    own = pep.quadratic_rate(params)
    K = int(params["K"]) if params else 1
    L, mu, a, steps = pep.rate_parameters(*own, K)
    worst = pep.gradient_descent_strongly_convex(L, mu, a, steps)
    instance: tuple[list[float], list[float]] | None = None
    if params is not None:  # ||x_k - x*|| against q^k ||x_0 - x*||, at its own q
        batch = to_batch(params, torch.device("cpu"))
        f, x = builders.quadratic(batch), batch["x0"]
        own_q = float(descent.contraction_factor(own[1], own[0], own[2]))
        start = float(norm(x - f.center)[0])
        instance = ([], [])
        for k in range(K + 1):
            instance[0].append(float(norm(x - f.center)[0]))
            instance[1].append(own_q**k * start)
            x = f.inner_step(x, batch["a"])
    return pep.rate_certificate(
        "worst case of gradient descent on smooth strongly convex functions",
        worst,
        (L, mu, a),
        own,
        {"K": steps, "R": 1.0},
        {"instance's K": K},
        "||x_k - x*|| / (q^k ||x_0 - x*||)",
        instance,
        "The share of the bound q^k ||x_0 - x*|| attained at every step, by the SDP's "
        "worst-case function and by the quadratic the search found tightest: 1 is the "
        "bound attained.",
    )


STRONGLY_CONVEX_GD_QUADRATIC = Property(
    convergence.STRONGLY_CONVEX_GD, measure=measure_rate_quadratic, dimension=dimension_of,
    **drawn_by(strongly_convex_quadratic), model="quadratic", steps=steps_of,
    sketch=convergence_sketch(builders.quadratic, convex=False),
    certificate=certify_strongly_convex_gd,
)  # fmt: skip
STRONGLY_CONVEX_GD_LOGISTIC = Property(
    convergence.STRONGLY_CONVEX_GD, measure=measure_rate_logistic,
    dimension=features_dimension, **drawn_by(ridge_logistic), model="ridge-logistic",
    steps=steps_of,
    sketch=convergence_sketch(builders.logistic, convex=False),
)  # fmt: skip
