"""Properties of family ``descent`` on quadratics."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import strategies as st

from models.cosine import CosineSum
from models.huber import RadialHuber
from models.inner_loop import perturbed_trajectories
from models.logistic import Logistic
from models.quadratic import Quadratic
from properties.strategies import (
    SMOOTHNESS,
    cosine_dimension,
    cosine_smoothness,
    cosine_sums,
    dimension_of,
    dimensions,
    features_dimension,
    logistic_constants,
    logistic_regressions,
    quadratics,
    step_counts,
    step_frontier,
    unit_interval,
    up_to_the_boundary,
    vectors,
)
from theory import descent
from trajcheck.core import Batch, Limits, Measurement, Params, Property


@st.composite
def _lemma_instances(draw: st.DrawFn, limits: Limits) -> Params:
    params = draw(quadratics(limits))
    d = len(params["spectrum"])
    params["center"] = draw(vectors(d))
    params["fstar"] = draw(st.floats(-10.0, 10.0))
    params["x"] = draw(vectors(d))
    aL = draw(st.floats(0.0, 2.0, exclude_min=True, exclude_max=True))
    params["a"] = aL / params["spectrum"][0]
    return params


def _quadratic(batch: Batch) -> Quadratic:
    return Quadratic.from_spectrum(
        batch["spectrum"], batch["rotation"], batch.get("center"), batch.get("fstar")
    )


def measure_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """f(U_a(x)) <= f(x) - a(1 - aL/divisor)||grad f(x)||^2."""
    q, x, a = _quadratic(batch), batch["x"], batch["a"]
    L = q.smoothness
    f_x, g = q.value(x), q.grad(x)
    grad_sq = (g * g).sum(-1)
    displacement = (x - q.center).norm(dim=-1)
    rounded_terms = (
        f_x.abs()
        + q.fstar.abs()
        + a * grad_sq
        + L * displacement * (x.norm(dim=-1) + q.center.norm(dim=-1))
    )
    return Measurement(
        lhs=q.value(q.inner_step(x, a)),
        rhs=descent.descent_lemma_bound(f_x, grad_sq, a, L, divisor=constants["divisor"]),
        scale=rounded_terms,
        notes={"a*L": a * L},
    )


@st.composite
def _contraction_instances(draw: st.DrawFn, limits: Limits) -> Params:
    params = draw(quadratics(limits, min_ratio=1e-3))
    d = len(params["spectrum"])
    params["center"] = draw(vectors(d))
    params["x0"] = draw(vectors(d))
    params["error"] = draw(vectors(d))
    K = draw(step_counts(limits))
    params["K"] = K
    params["j"] = draw(st.integers(0, K))
    mu, L = min(params["spectrum"]), params["spectrum"][0]
    params["a"] = draw(unit_interval(exclude_min=True)) * 2 / (mu + L)
    return params


def measure_contraction(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """||x~_K - x_K|| <= q^(K-j) ||e|| for an error e injected into iterate j."""
    q, a, K, j = _quadratic(batch), batch["a"], batch["K"], batch["j"]
    x, perturbed, largest = perturbed_trajectories(
        q.inner_step, batch["x0"], a, batch["error"], j, K
    )
    factor = descent.contraction_factor(q.strong_convexity, q.smoothness, a)
    return Measurement(
        lhs=(perturbed - x).norm(dim=-1),
        rhs=descent.contracted_error(batch["error"].norm(dim=-1), factor, K - j),
        scale=largest,
        notes={
            "q": factor,
            "K-j": (K - j).to(a.dtype),
            "a(mu+L)/2": a * (q.strong_convexity + q.smoothness) / 2,
        },
    )


LEMMA = Property(
    claim=descent.LEMMA,
    instances=lambda limits: _lemma_instances(limits),
    measure=measure_lemma,
    dimension=dimension_of,
    model="quadratic",
)

ERROR_CONTRACTION = Property(
    claim=descent.ERROR_CONTRACTION,
    instances=lambda limits: _contraction_instances(limits),
    measure=measure_contraction,
    dimension=dimension_of,
    model="quadratic",
)


def _cosine(batch: Batch) -> CosineSum:
    return CosineSum(batch["coef"], batch["freq"], batch["phase"])


@st.composite
def _cosine_lemma_instances(draw: st.DrawFn, limits: Limits) -> Params:
    params = draw(cosine_sums(limits))
    params["x"] = draw(vectors(cosine_dimension(params), bound=4.0))
    s = draw(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
    params["a"] = 2 * s / cosine_smoothness(params)
    return params


def measure_cosine_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """f(U_a(x)) <= f(x) - a(1 - aL/divisor)||grad f(x)||^2 on a cosine sum."""
    f, x, a = _cosine(batch), batch["x"], batch["a"]
    L = f.smoothness
    grad_sq = (f.grad(x) ** 2).sum(-1)
    return Measurement(
        lhs=f.value(f.inner_step(x, a)),
        rhs=descent.descent_lemma_bound(f.value(x), grad_sq, a, L, divisor=constants["divisor"]),
        scale=f.magnitude + a * grad_sq,
        notes={"a*L": a * L},
    )


@st.composite
def _cosine_contraction_instances(draw: st.DrawFn, limits: Limits) -> Params:
    params = draw(cosine_sums(limits))
    d = cosine_dimension(params)
    params["x0"] = draw(vectors(d, bound=4.0))
    params["error"] = draw(vectors(d, bound=4.0))
    K = draw(step_counts(limits, min_steps=1))
    params["K"] = K
    params["j"] = draw(st.integers(0, K - 1))
    params["a"] = draw(up_to_the_boundary()) / cosine_smoothness(params)
    return params


def measure_no_amplification(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """||x~_K - x_K|| <= ||e||."""
    f, a = _cosine(batch), batch["a"]
    x, perturbed, largest = perturbed_trajectories(
        f.inner_step, batch["x0"], a, batch["error"], batch["j"], batch["K"]
    )
    gap, error = (perturbed - x).norm(dim=-1), batch["error"].norm(dim=-1)
    return Measurement(
        lhs=gap,
        rhs=error,
        scale=largest,
        notes={"a*L": a * f.smoothness, "amplification": gap / error},
    )


LEMMA_COSINE = Property(
    claim=descent.LEMMA,
    instances=_cosine_lemma_instances,
    measure=measure_cosine_lemma,
    dimension=cosine_dimension,
    model="cosine",
)

ERROR_CONTRACTION_NONCONVEX = Property(
    claim=descent.ERROR_CONTRACTION_NONCONVEX,
    instances=_cosine_contraction_instances,
    measure=measure_no_amplification,
    dimension=cosine_dimension,
    model="cosine",
    frontier=step_frontier(cosine_smoothness, safe_aL=0.0),
)


# descent.lemma on logistic regression and Huber losses --------------------------------


@st.composite
def _logistic_lemma_instances(draw: st.DrawFn, limits: Limits) -> Params:
    params = draw(logistic_regressions(limits, ridge=draw(st.booleans())))
    params["x"] = draw(vectors(features_dimension(params), bound=5.0))
    s = draw(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
    params["a"] = 2 * s / logistic_constants(params)[1]
    return params


def measure_logistic_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f = Logistic(batch["features"], batch["labels"], batch["ridge"])
    x, a, L = batch["x"], batch["a"], f.smoothness
    value, grad_sq = f.value(x), (f.grad(x) ** 2).sum(-1)
    return Measurement(
        lhs=f.value(f.inner_step(x, a)),
        rhs=descent.descent_lemma_bound(value, grad_sq, a, L, divisor=constants["divisor"]),
        scale=value.abs() + a * grad_sq,
        notes={"a*L": a * L},
    )


@st.composite
def _huber_lemma_instances(draw: st.DrawFn, limits: Limits) -> Params:
    d = draw(dimensions(limits))
    L = draw(SMOOTHNESS)
    s = draw(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
    return {
        "L": L,
        "width": draw(st.floats(1e-3, 10.0)),
        "center": draw(vectors(d)),
        "x": draw(vectors(d)),
        "a": 2 * s / L,
    }


def measure_huber_lemma(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f = RadialHuber(batch["L"], batch["width"], batch["center"])
    x, a, L = batch["x"], batch["a"], batch["L"]
    value, grad_sq = f.value(x), (f.grad(x) ** 2).sum(-1)
    displacement = (x - f.center).norm(dim=-1)
    return Measurement(
        lhs=f.value(f.inner_step(x, a)),
        rhs=descent.descent_lemma_bound(value, grad_sq, a, L, divisor=constants["divisor"]),
        scale=value + a * grad_sq + L * displacement * (x.norm(dim=-1) + f.center.norm(dim=-1)),
        notes={"a*L": a * L, "r/delta": displacement / f.width},
    )


LEMMA_LOGISTIC = Property(
    descent.LEMMA, _logistic_lemma_instances, measure_logistic_lemma, features_dimension,
    model="logistic",
)  # fmt: skip
LEMMA_HUBER = Property(
    descent.LEMMA, _huber_lemma_instances, measure_huber_lemma, lambda p: len(p["x"]),
    model="huber",
)  # fmt: skip


# descent.error_contraction on ridge-regularized logistic regression --------------------


@st.composite
def _ridge_logistic_contraction(draw: st.DrawFn, limits: Limits) -> Params:
    params = draw(logistic_regressions(limits, ridge=True))
    d = features_dimension(params)
    params["x0"] = draw(vectors(d, bound=5.0))
    params["error"] = draw(vectors(d, bound=5.0))
    K = draw(step_counts(limits))
    params["K"], params["j"] = K, draw(st.integers(0, K))
    mu, L = logistic_constants(params)
    params["a"] = draw(unit_interval(exclude_min=True)) * 2 / (mu + L)
    return params


def measure_logistic_contraction(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    f = Logistic(batch["features"], batch["labels"], batch["ridge"])
    a, K, j = batch["a"], batch["K"], batch["j"]
    x, perturbed, largest = perturbed_trajectories(
        f.inner_step, batch["x0"], a, batch["error"], j, K
    )
    factor = descent.contraction_factor(f.strong_convexity, f.smoothness, a)
    return Measurement(
        lhs=(perturbed - x).norm(dim=-1),
        rhs=descent.contracted_error(batch["error"].norm(dim=-1), factor, K - j),
        scale=largest,
        notes={"q": factor, "K-j": (K - j).to(a.dtype)},
    )


ERROR_CONTRACTION_LOGISTIC = Property(
    descent.ERROR_CONTRACTION, _ridge_logistic_contraction, measure_logistic_contraction,
    features_dimension, model="ridge-logistic",
)  # fmt: skip
