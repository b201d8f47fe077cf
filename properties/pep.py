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

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from theory import convergence

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
