"""Performance-estimation problems: worst cases of gradient descent, certified by an SDP.

A performance-estimation problem (PEP; Drori and Teboulle 2014, Taylor, Hendrickx and
Glineur 2017) asks for the largest value of a performance measure over every function of
a class and every start allowed by an initial condition: an SDP over the Gram matrix of
the iterates and gradients, whose value certifies a bound no function in the class can
beat. PEPit builds it; cvxpy with CLARABEL solves it (SCS, cvxpy's default, is only about
1e-6 accurate).

One theorem per function, each documented in the same order: the problem, the method, the
guarantee with its reference and whether it is tight. Each returns a :class:`Worst`: the
SDP's value, the closed form it certifies, and the worst case's trajectory (the
performance measure at every iterate of the worst-case function), for the report's figure.

Every class used here is homogeneous: scaling f by 1/L and x by 1/R maps the problem to
L = 1, R = 1 (with the step a L and the ratio mu/L), where the SDP is better conditioned
(solved at L = 84 directly, CLARABEL's answer for gradient descent was off by 4e-6; at
L = 1, by about 1e-9). So each solves at L = 1 and scales back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from trajcheck.core import Certificate
from trajcheck_catalogue.theory import convergence, descent

#: PEPit and cvxpy are imported when a certificate is computed, not with the catalogue.
METHOD_NAME = "PEPit (cvxpy, CLARABEL)"


def method() -> str:
    """The method with the versions that computed it."""
    import cvxpy as cp

    return f"PEPit {version('PEPit')} (cvxpy {cp.__version__}, CLARABEL)"


@dataclass(frozen=True)
class Worst:
    """A PEP's answer: its ``value``, the ``theoretical`` closed form it certifies, and the
    performance measure along the worst case's iterates (index k = 0..K)."""

    value: float
    theoretical: float
    trajectory: list[float]

    @property
    def relative_gap(self) -> float:
        return abs(self.value - self.theoretical) / (abs(self.theoretical) or 1.0)


def _solve(problem: Any) -> float:
    import cvxpy as cp

    # one CLARABEL thread: its threads sum in varying order, and a run must reproduce
    return float(problem.solve(wrapper="cvxpy", solver=cp.CLARABEL, verbose=0, max_threads=1))


def gradient_descent_convex(L: float, steps: int, radius: float = 1.0) -> Worst:
    """Gradient descent with step 1/L on smooth convex functions, measured by f(x_K) - f*.

    Problem: max f(x_K) - f* over every convex L-smooth f and every x_0 with
    ||x_0 - x*|| <= radius.
    Method: x_{k+1} = x_k - (1/L) grad f(x_k), K = ``steps``.
    Guarantee: f(x_K) - f* <= L radius^2 / (4K + 2) (Drori and Teboulle 2014, Theorem
    3.1); tight, attained by a Huber function.
    """
    from PEPit import PEP
    from PEPit.functions import SmoothConvexFunction

    problem = PEP()
    f = problem.declare_function(SmoothConvexFunction, L=1.0)
    minimizer = f.stationary_point()
    x0 = problem.set_initial_point()
    problem.set_initial_condition((x0 - minimizer) ** 2 <= 1)
    iterates = [x0]
    for _ in range(steps):
        iterates.append(iterates[-1] - f.gradient(iterates[-1]))
    problem.set_performance_metric(f(iterates[-1]) - f(minimizer))
    scale = L * radius**2
    value = _solve(problem) * scale
    trajectory = [float((f(x) - f(minimizer)).eval()) * scale for x in iterates]
    return Worst(value, float(convergence.convex_gd_bound(L, radius**2, steps)), trajectory)


def trajectory_figure(
    y_label: str,
    worst: list[float],
    tightest: list[float] | None,
    bound: list[float | None],
    bound_label: str,
    log_y: bool = True,
) -> dict[str, Any]:
    """The worst case's trajectory beside the search's tightest instance and the closed
    form, step by step, all normalized by the initial condition."""
    steps = [float(k) for k in range(len(worst))]
    series = [
        {"label": "PEP worst case", "x": steps, "y": worst, "style": "markers-line"},
        {"label": bound_label, "x": steps, "y": bound},
    ]
    if tightest is not None:
        series.insert(1, {
            "label": "search's tightest instance", "x": steps[: len(tightest)],
            "y": tightest, "style": "markers",
        })  # fmt: skip
    return {
        "kind": "lines",
        "x_label": "inner step k",
        "y_label": y_label,
        "log_y": log_y,
        "panels": [{"title": "", "series": series}],
    }


#: The longest trajectory a certificate solves for: the SDP grows with the square of the
#: iterates (a 32-step run took 6 s and lost accuracy to 4e-7); a longer instance is
#: certified at this many steps, and the certificate says so.
MAX_STEPS = 12


def gradient_step_smooth(L: float, a: float) -> Worst:
    """One gradient step on an L-smooth function, measured by f(x_1) - f(x_0) per unit of
    squared gradient.

    Problem: max f(x_1) - f(x_0) over every L-smooth (not necessarily convex) f and every
    x_0 with ||grad f(x_0)|| = 1.
    Method: x_1 = x_0 - a grad f(x_0), 0 < a < 2/L.
    Guarantee: f(x_1) - f(x_0) <= -a (1 - a L/2) ||grad f(x_0)||^2 (the descent lemma;
    Nesterov 2018, Lemma 1.2.3); tight, attained by the quadratic L/2 ||x||^2.

    Solved for h(y) = L f(y/L), which is 1-smooth with the same gradients at y = L x, a
    step of a L, and h(y_1) - h(y_0) = L (f(x_1) - f(x_0)).
    """
    from PEPit import PEP
    from PEPit.functions import SmoothFunction

    problem = PEP()
    h = problem.declare_function(SmoothFunction, L=1.0)
    y0 = problem.set_initial_point()
    g0, h0 = h.oracle(y0)
    problem.set_initial_condition(g0**2 == 1)
    y1 = y0 - a * L * g0
    problem.set_performance_metric(h(y1) - h0)
    value = _solve(problem) / L
    theoretical = float(descent.descent_lemma_bound(0.0, 1.0, a, L))
    return Worst(value, theoretical, [0.0, float((h(y1) - h0).eval()) / L])


def gradient_descent_strongly_convex(L: float, mu: float, a: float, steps: int) -> Worst:
    """Gradient descent on smooth strongly convex functions, measured by ||x_K - x*||.

    Problem: max ||x_K - x*|| over every mu-strongly convex L-smooth f and every x_0 with
    ||x_0 - x*|| <= 1.
    Method: x_{k+1} = x_k - a grad f(x_k), 0 < a <= 2/(mu + L), K = ``steps``.
    Guarantee: ||x_K - x*|| <= q^K ||x_0 - x*||, q = max(|1 - a mu|, |1 - a L|) (Nesterov
    2018, Theorem 2.1.15); tight, attained by a quadratic along its extreme eigenvector.

    Solved for f/L (mu/L-strongly convex, 1-smooth, step a L): distances are unchanged.
    """
    from PEPit import PEP
    from PEPit.functions import SmoothStronglyConvexFunction

    problem = PEP()
    f = problem.declare_function(SmoothStronglyConvexFunction, mu=mu / L, L=1.0)
    minimizer = f.stationary_point()
    x0 = problem.set_initial_point()
    problem.set_initial_condition((x0 - minimizer) ** 2 <= 1)
    iterates = [x0]
    for _ in range(steps):
        iterates.append(iterates[-1] - a * L * f.gradient(iterates[-1]))
    problem.set_performance_metric((iterates[-1] - minimizer) ** 2)
    value = _solve(problem) ** 0.5
    q = descent.contraction_factor(mu, L, a)
    trajectory = [max(float(((x - minimizer) ** 2).eval()), 0.0) ** 0.5 for x in iterates]
    return Worst(value, float(convergence.linear_rate_bound(1.0, q, steps)), trajectory)


def gradient_descent_contraction(L: float, mu: float, a: float, steps: int) -> Worst:
    """Two runs of gradient descent on one smooth strongly convex function, started an
    error e apart, measured by how far apart they end.

    Problem: max ||x~_n - x_n|| over every mu-strongly convex L-smooth f and every pair of
    starts with ||x~_0 - x_0|| <= 1 (an error injected n steps before the end).
    Method: both x_{k+1} = x_k - a grad f(x_k), 0 < a <= 2/(mu + L), n = ``steps``.
    Guarantee: ||x~_n - x_n|| <= q^n ||x~_0 - x_0||, q = max(|1 - a mu|, |1 - a L|) (the
    gradient step is a q-contraction; Nesterov 2018, Theorem 2.1.15); tight on quadratics.

    Solved for f/L (mu/L-strongly convex, 1-smooth, step a L): distances are unchanged.
    """
    from PEPit import PEP
    from PEPit.functions import SmoothStronglyConvexFunction

    problem = PEP()
    f = problem.declare_function(SmoothStronglyConvexFunction, mu=mu / L, L=1.0)
    runs = [[problem.set_initial_point()], [problem.set_initial_point()]]
    problem.set_initial_condition((runs[0][0] - runs[1][0]) ** 2 <= 1)
    for _ in range(steps):
        for run in runs:
            run.append(run[-1] - a * L * f.gradient(run[-1]))
    problem.set_performance_metric((runs[0][-1] - runs[1][-1]) ** 2)
    value = _solve(problem) ** 0.5
    q = descent.contraction_factor(mu, L, a)
    trajectory = [max(float(((x - y) ** 2).eval()), 0.0) ** 0.5 for x, y in zip(*runs, strict=True)]
    return Worst(value, float(descent.contracted_error(1.0, q, steps)), trajectory)


def tightest(outcome: Any, model: str) -> tuple[dict[str, Any] | None, dict[str, float]]:
    """The instance the search found tightest on ``model`` and its notes (None, {} when
    that model measured nothing)."""
    searched = dict(outcome.models).get(model)
    if searched is None or searched.worst_params is None:
        return None, {}
    return searched.worst_params, dict(searched.worst_notes)


#: The smallest squared worst case an SDP here resolves to 1e-6: its absolute accuracy
#: is about 1e-9.
RESOLVED = 1e-3


#: The largest mu/L a certificate is computed at: PEPit's interpolation conditions
#: divide by L - mu, and CLARABEL failed at mu/L = 0.999.
MAX_CONDITION_RATIO = 0.9


def rate_parameters(L: float, mu: float, a: float, steps: int) -> tuple[float, float, float, int]:
    """The (L, mu, a, K) a rate certificate is computed at: an instance's own, with K
    capped at MAX_STEPS and at the steps whose squared rate q^(2K) the SDP still resolves
    (RESOLVED); or, where the instance's are not resolved (mu/L above
    MAX_CONDITION_RATIO, as in dimension 1, or q < 0.03), mu = L/10 and a = 1/L."""
    q = float(descent.contraction_factor(mu, L, a))
    if mu <= MAX_CONDITION_RATIO * L and q * q >= RESOLVED:
        resolved = int(math.log(RESOLVED) / (2 * math.log(q))) if q < 1 else MAX_STEPS
        return L, mu, a, max(1, min(int(steps), MAX_STEPS, resolved))
    return L, L / 10, 1 / L, max(1, min(int(steps), MAX_STEPS, 32))


def parameters_note(own: tuple[float, float, float], used: tuple[float, float, float]) -> str:
    """A caption's sentence when a certificate is not at its instance's (mu, a)."""
    if own == used:
        return ""
    return (
        f" The instance's own parameters (mu/L = {own[1] / own[0]:.4g}, a L = "
        f"{own[2] * own[0]:.4g}) are outside what the SDP resolves (mu/L above "
        f"{MAX_CONDITION_RATIO}, or q^(2K) below {RESOLVED}), so the certificate is at "
        "mu = L/10, a = 1/L; each curve is against its own bound."
    )


def attained_figure(
    y_label: str,
    worst: Worst,
    worst_bound: list[float],
    instance: list[float] | None,
    instance_bound: list[float] | None,
) -> dict[str, Any]:
    """The share of its bound that the worst case, and the search's tightest instance,
    attain at every step (1: the bound is attained), each against its own bound."""

    def share(values: list[float], bounds: list[float]) -> list[float | None]:
        return [v / b if b > 0 else None for v, b in zip(values, bounds, strict=False)]

    series = [{
        "label": "PEP worst case", "x": [float(k) for k in range(len(worst.trajectory))],
        "y": share(worst.trajectory, worst_bound), "style": "markers-line",
    }]  # fmt: skip
    if instance is not None and instance_bound is not None:
        series.append({
            "label": "search's tightest instance", "x": [float(k) for k in range(len(instance))],
            "y": share(instance, instance_bound), "style": "markers",
        })  # fmt: skip
    return {
        "kind": "lines",
        "x_label": "inner step k",
        "y_label": y_label,
        "reference_y": 1.0,
        "y_range": [0.0, 1.1],
        "panels": [{"title": "", "series": series}],
    }


def quadratic_rate(params: dict[str, Any] | None) -> tuple[float, float, float]:
    """(L, mu, a) of a drawn quadratic (spectrum with L first) and its step; a
    well-conditioned default when there is no instance."""
    if params is None:
        return 1.0, 0.1, 1.0
    return float(params["spectrum"][0]), float(min(params["spectrum"])), float(params["a"])


def rate_certificate(
    title: str,
    worst: Worst,
    used: tuple[float, float, float],
    own: tuple[float, float, float],
    parameters: dict[str, float],
    observed: dict[str, float | None],
    y_label: str,
    instance: tuple[list[float], list[float]] | None,
    caption: str,
) -> Certificate:
    """A certificate of a linear rate q^k (q = max(|1 - a mu|, |1 - a L|)) computed at
    ``used`` = (L, mu, a), for an instance at ``own``: the figure shows the share of its
    bound that the worst case and the instance (values, bounds) attain at every step."""
    L, mu, a = used
    q = float(descent.contraction_factor(mu, L, a))
    bound = [q**k for k in range(len(worst.trajectory))]
    return Certificate(
        title=title,
        method=method(),
        value=worst.value,
        theoretical=worst.theoretical,
        parameters={"L": L, "mu": mu, "a": a, **parameters},
        observed={"instance's mu": own[1], "instance's a": own[2], **observed},
        model="quadratic",
        figure=attained_figure(y_label, worst, bound, *(instance or (None, None))),
        caption=caption + parameters_note(own, used),
    )
