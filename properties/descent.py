"""Properties of family ``descent``: one inner step decreases the loss, and errors injected
into a trajectory contract (strongly convex) or may grow (nonconvex)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from trajcheck.core import (
    Batch,
    Certificate,
    Measurement,
    Outcome,
    Property,
    to_batch,
)
from trajcheck_catalogue.models.inner_loop import perturbed_trajectories
from trajcheck_catalogue.models.loss import SmoothLoss, StronglyConvexLoss
from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.properties import builders, pep
from trajcheck_catalogue.properties.draws import Draws, drawn_by
from trajcheck_catalogue.properties.sketches import error_sketch, step_sketch
from trajcheck_catalogue.properties.strategies import (
    SMOOTHNESS_RANGE,
    cosine_dimension,
    cosine_smoothness,
    dimension_of,
    draw_cosine_sum,
    draw_logistic,
    draw_quadratic,
    features_dimension,
    near_zero,
    step_frontier,
    steps_of,
    toward_an_eigenvector,
)
from trajcheck_catalogue.theory import descent


def _far_center_rounding(L: torch.Tensor, x: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """L ||x - x*|| (||x|| + ||x*||): the cancellation in U_a(x) - x* when x and x* are
    large and close, for models written around a center x*."""
    return L * norm(x - center) * (norm(x) + norm(center))


# descent.lemma -----------------------------------------------------------------------


def _lemma(
    f: SmoothLoss, x: torch.Tensor, a: torch.Tensor, divisor: float, rounding: torch.Tensor
) -> Measurement:
    """f(U_a(x)) <= f(x) - a(1 - aL/divisor)||grad f(x)||^2, rounded at |f(x)| +
    a||grad f(x)||^2 plus the model's own ``rounding`` term."""
    value, grad_sq = f.value(x), (f.grad(x) ** 2).sum(-1)
    L = f.smoothness
    return Measurement(
        lhs=f.value(f.inner_step(x, a)),
        rhs=descent.descent_lemma_bound(value, grad_sq, a, L, divisor=divisor),
        scale=value.abs() + a * grad_sq + rounding,
        notes={"a*L": a * L},
    )


def _lemma_step(draw: Draws, L: torch.Tensor) -> torch.Tensor:
    """a = s * 2/L with s in (0, 1): the lemma's whole range of steps."""
    return 2 * draw.step_fractions(1.0, exclude_max=True) / L


def quadratic_lemma(draw: Draws) -> Batch:
    params = draw_quadratic(draw)
    d = params["spectrum"].shape[-1]
    params["center"] = draw.vectors(d)
    params["fstar"] = draw.floats(-10.0, 10.0)
    params["x"] = toward_an_eigenvector(draw, params, draw.vectors(d), 10.0, params["center"])
    params["a"] = _lemma_step(draw, params["spectrum"][:, 0])
    return params


def measure_quadratic_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f, x = builders.quadratic(batch), batch["x"]
    rounding = f.fstar.abs() + _far_center_rounding(f.smoothness, x, f.center)
    return _lemma(f, x, batch["a"], constants["divisor"], rounding)


def cosine_lemma(draw: Draws) -> Batch:
    params = draw_cosine_sum(draw)
    params["x"] = draw.vectors(params["freq"].shape[-1], bound=4.0)
    params["a"] = _lemma_step(draw, builders.cosine_sum(params).smoothness)
    return params


def measure_cosine_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f = builders.cosine_sum(batch)
    return _lemma(f, batch["x"], batch["a"], constants["divisor"], f.magnitude)


def logistic_lemma(draw: Draws) -> Batch:
    params = draw_logistic(draw, ridge=None)
    params["x"] = near_zero(draw, draw.vectors(params["features"].shape[-1], bound=5.0))
    params["a"] = _lemma_step(draw, builders.logistic(params).smoothness)
    return params


def measure_logistic_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    x = batch["x"]
    return _lemma(
        builders.logistic(batch), x, batch["a"], constants["divisor"], torch.zeros_like(x[:, 0])
    )


def huber_lemma(draw: Draws) -> Batch:
    """Half of the time x is within two widths of x*, where f is quadratic (inside one
    width) and the lemma tight: a point of [-10, 10]^d is that close with a probability
    that falls with d."""
    d = draw.dimension()
    L = draw.floats(*SMOOTHNESS_RANGE)
    width, center = draw.floats(1e-3, 10.0), draw.vectors(d)
    near = center + (2 * width * draw.unit_interval())[:, None] * draw.directions(1, d)[:, 0]
    return {
        "L": L,
        "width": width,
        "center": center,
        "x": torch.where(draw.booleans()[:, None], near, draw.vectors(d)),
        "a": _lemma_step(draw, L),
    }


def measure_huber_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f, x = builders.radial_huber(batch), batch["x"]
    rounding = _far_center_rounding(f.smoothness, x, f.center)
    return _lemma(f, x, batch["a"], constants["divisor"], rounding)


#: The steps a L at which the SDP resolves the lemma's worst case, -a(1 - aL/2), to 1e-6:
#: its absolute accuracy is about 1e-9, so the worst case must be at least about 1e-3.
#: The search's tightest instance often has a tiny step (both sides then agree to
#: rounding), and the certificate is then computed at a = 1/L.
LEMMA_STEPS_RESOLVED = (1e-2, 2 - 1e-2)


def certify_lemma(outcome: Outcome) -> Certificate:
    """The PEP worst case of one gradient step on L-smooth functions at the a L of the
    quadratic the search found tightest, beside -a(1 - aL/2); drawn over the whole range
    0 < a L < 2 with the tightest instance on it."""
    params, _ = pep.tightest(outcome, "quadratic")
    L = float(params["spectrum"][0]) if params else 1.0
    a = float(params["a"]) if params else 1.0
    if not LEMMA_STEPS_RESOLVED[0] <= a * L <= LEMMA_STEPS_RESOLVED[1]:
        a = 1 / L  # the tightest instance's step is one the SDP does not resolve
    worst = pep.gradient_step_smooth(L, a)
    observed: dict[str, float | None] = {}
    series: list[dict[str, Any]] = []
    grid = [0.25 * i for i in range(1, 8)]  # a L over (0, 2)
    curve = [0.02 * i for i in range(1, 100)]
    series.append(
        {
            "label": "-aL(1 - aL/2), the bound",
            "x": curve,
            "y": [float(descent.descent_lemma_bound(0.0, 1.0, s, 1.0)) for s in curve],
        }
    )
    series.append({"label": "PEP worst case", "x": grid, "style": "markers",
                   "y": [pep.gradient_step_smooth(1.0, s).value for s in grid]})  # fmt: skip
    if params is not None:  # L (f(x_1) - f(x_0)) / ||grad f(x_0)||^2 of that instance
        batch = to_batch(params, torch.device("cpu"))
        f, x = builders.quadratic(batch), batch["x"]
        drop = f.value(f.inner_step(x, batch["a"])) - f.value(x)
        ratio = float(L * drop[0] / (norm(f.grad(x))[0] ** 2))
        observed["L (f(x_1) - f(x_0)) / ||grad f(x_0)||^2"] = ratio
        observed["instance's a*L"] = float(params["a"]) * L
        series.append({"label": "search's tightest instance", "x": [float(params["a"]) * L],
                       "y": [ratio], "style": "markers"})  # fmt: skip
    return Certificate(
        title="worst case of one gradient step on L-smooth functions",
        method=pep.method(),
        value=worst.value,
        theoretical=worst.theoretical,
        parameters={"L": L, "a": a, "a*L": a * L, "||grad f(x_0)||": 1.0},
        observed=observed,
        model="quadratic",
        figure={
            "kind": "lines",
            "x_label": "a*L",
            "y_label": "L (f(x_1) - f(x_0)) / ||grad f(x_0)||^2",
            "panels": [{"title": "", "series": series}],
        },
        caption=(
            "The descent lemma over its whole range of steps: the bound, the SDP's worst "
            "case at seven steps (L = 1; the class is homogeneous), and the quadratic the "
            "search found tightest, all per unit of L ||grad f(x_0)||^2. The certificate "
            "is at the instance's a L unless that lies outside [0.01, 1.99], where the "
            "worst case is too small for the SDP to resolve; it is then at a = 1/L."
        ),
    )


LEMMA = Property(
    descent.LEMMA, measure=measure_quadratic_lemma, dimension=dimension_of, model="quadratic",
    sketch=step_sketch(builders.quadratic), certificate=certify_lemma,
    **drawn_by(quadratic_lemma),
)  # fmt: skip
LEMMA_COSINE = Property(
    descent.LEMMA, measure=measure_cosine_lemma, dimension=cosine_dimension, model="cosine",
    sketch=step_sketch(builders.cosine_sum), **drawn_by(cosine_lemma),
)  # fmt: skip
LEMMA_LOGISTIC = Property(
    descent.LEMMA, measure=measure_logistic_lemma, dimension=features_dimension,
    model="logistic", sketch=step_sketch(builders.logistic), **drawn_by(logistic_lemma),
)  # fmt: skip
LEMMA_HUBER = Property(
    descent.LEMMA, measure=measure_huber_lemma, dimension=lambda p: len(p["x"]), model="huber",
    sketch=step_sketch(builders.radial_huber), **drawn_by(huber_lemma),
)  # fmt: skip


# descent.error_contraction (strongly convex) ------------------------------------------


def _contraction(f: StronglyConvexLoss, batch: Batch) -> Measurement:
    """||x~_K - x_K|| <= q^(K-j) ||e|| for an error e injected into iterate j."""
    a, K, j = batch["a"], batch["K"], batch["j"]
    x, perturbed, largest = perturbed_trajectories(
        f.inner_step, batch["x0"], a, batch["error"], j, K
    )
    mu, L = f.strong_convexity, f.smoothness
    factor = descent.contraction_factor(mu, L, a)
    return Measurement(
        lhs=norm(perturbed - x),
        rhs=descent.contracted_error(norm(batch["error"]), factor, K - j),
        scale=largest,
        notes={"q": factor, "K-j": (K - j).to(a.dtype), "a(mu+L)/2": a * (mu + L) / 2},
    )


def _injection(draw: Draws, params: Batch, d: int, bound: float, steps_after: int = 0) -> Batch:
    """Start x0, error e, K steps and the injection step j, with at least ``steps_after``
    steps left after it: 0 <= j <= K - steps_after."""
    params["x0"] = draw.vectors(d, bound)
    params["error"] = draw.vectors(d, bound)
    params["K"] = draw.steps(min_steps=steps_after)
    params["j"] = draw.integers(0, params["K"] - steps_after)
    return params


def quadratic_contraction(draw: Draws) -> Batch:
    params = draw_quadratic(draw, min_ratio=1e-3)
    d = params["spectrum"].shape[-1]
    params["center"] = draw.vectors(d)
    params = _injection(draw, params, d, bound=10.0)
    params["x0"] = toward_an_eigenvector(draw, params, params["x0"], 10.0, params["center"])
    params["error"] = toward_an_eigenvector(draw, params, params["error"], 10.0)
    mu, L = params["spectrum"].amin(dim=-1), params["spectrum"][:, 0]
    params["a"] = draw.unit_interval(exclude_min=True) * 2 / (mu + L)
    return params


def logistic_contraction(draw: Draws) -> Batch:
    params = draw_logistic(draw, ridge=True)
    params = _injection(draw, params, params["features"].shape[-1], bound=5.0)
    f = builders.logistic(params)
    params["a"] = draw.unit_interval(exclude_min=True) * 2 / (f.strong_convexity + f.smoothness)
    return params


def certify_error_contraction(outcome: Outcome) -> Certificate:
    """The PEP worst case of two runs of gradient descent started an error apart, at the
    L, mu, a and K - j of the quadratic the search found tightest (where the SDP resolves
    them: ``pep.rate_parameters``), beside q^(K-j); drawn step by step, as the share of
    the bound attained, beside that instance."""
    params, _ = pep.tightest(outcome, "quadratic")
    own = pep.quadratic_rate(params)
    after = int(params["K"]) - int(params["j"]) if params else 1
    L, mu, a, steps = pep.rate_parameters(*own, max(after, 1))
    worst = pep.gradient_descent_contraction(L, mu, a, steps)
    instance: tuple[list[float], list[float]] | None = None
    if params is not None:  # ||x~_k - x_k|| against q^k ||e|| from the injection on
        batch = to_batch(params, torch.device("cpu"))
        f, step = builders.quadratic(batch), batch["a"]
        own_q = float(descent.contraction_factor(own[1], own[0], own[2]))
        x = batch["x0"]
        for _ in range(int(params["j"])):
            x = f.inner_step(x, step)
        perturbed, size = x + batch["error"], float(norm(batch["error"])[0])
        instance = ([], [])
        for k in range(after + 1):
            instance[0].append(float(norm(perturbed - x)[0]))
            instance[1].append(own_q**k * size)
            x, perturbed = f.inner_step(x, step), f.inner_step(perturbed, step)
    return pep.rate_certificate(
        "worst case of an error injected into gradient descent on strongly convex f",
        worst,
        (L, mu, a),
        own,
        {"K-j": steps, "||e||": 1.0},
        {"instance's K-j": after},
        "||x~_k - x_k|| / (q^k ||e||)",
        instance,
        "The share of the bound q^k ||e|| attained at every step after an error e is "
        "injected, by the SDP's worst-case function and by the quadratic the search found "
        "tightest: 1 is the bound attained.",
    )


ERROR_CONTRACTION = Property(
    descent.ERROR_CONTRACTION, **drawn_by(quadratic_contraction),
    measure=lambda batch, constants: _contraction(builders.quadratic(batch), batch),
    dimension=dimension_of,
    model="quadratic", steps=steps_of,
    sketch=error_sketch(builders.quadratic, strongly_convex=True),
    certificate=certify_error_contraction,
)  # fmt: skip
ERROR_CONTRACTION_LOGISTIC = Property(
    descent.ERROR_CONTRACTION, **drawn_by(logistic_contraction),
    measure=lambda batch, constants: _contraction(builders.logistic(batch), batch),
    dimension=features_dimension,
    model="ridge-logistic", steps=steps_of,
    sketch=error_sketch(builders.logistic, strongly_convex=True),
)  # fmt: skip


# descent.error_contraction_nonconvex ----------------------------------------------------


def cosine_injection(draw: Draws) -> Batch:
    params = draw_cosine_sum(draw)
    params = _injection(draw, params, params["freq"].shape[-1], bound=4.0, steps_after=1)
    params["a"] = draw.up_to_the_boundary() / builders.cosine_sum(params).smoothness
    return params


def measure_no_amplification(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """||x~_K - x_K|| <= ||e||."""
    f, a = builders.cosine_sum(batch), batch["a"]
    x, perturbed, largest = perturbed_trajectories(
        f.inner_step, batch["x0"], a, batch["error"], batch["j"], batch["K"]
    )
    gap, error = norm(perturbed - x), norm(batch["error"])
    return Measurement(
        lhs=gap,
        rhs=error,
        scale=largest,
        notes={"a*L": a * f.smoothness, "amplification": gap / error},
    )


ERROR_CONTRACTION_NONCONVEX = Property(
    claim=descent.ERROR_CONTRACTION_NONCONVEX,
    **drawn_by(cosine_injection),
    measure=measure_no_amplification,
    dimension=cosine_dimension,
    model="cosine",
    steps=steps_of,
    frontier=step_frontier(cosine_smoothness, safe_aL=0.0),
    sketch=error_sketch(builders.cosine_sum, strongly_convex=False),
)
