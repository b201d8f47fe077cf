"""Numerical certificates: worst cases of first-order methods by performance estimation.

A performance-estimation problem (PEP; Drori and Teboulle 2014, Taylor, Hendrickx and
Glineur 2017) asks for the largest f(x_K) - f* over every L-smooth convex f and every
start with ||x_0 - x*|| <= R: an SDP over the Gram matrix of the iterates and gradients,
whose value certifies a bound no function in the class can beat. PEPit builds it; cvxpy
with CLARABEL solves it (SCS, cvxpy's default, is only about 1e-6 accurate).
"""

from __future__ import annotations

from importlib.metadata import version

import cvxpy as cp
from PEPit import PEP
from PEPit.functions import SmoothConvexFunction

METHOD = f"PEPit {version('PEPit')} (cvxpy {cp.__version__}, CLARABEL)"


def gradient_descent_worst_case(L: float, step: float, steps: int, radius: float = 1.0) -> float:
    """max f(x_K) - f* over L-smooth convex f, ||x_0 - x*|| <= radius, x_{k+1} = x_k - step
    grad f(x_k): the dual (upper-bound) value of the PEP.

    The class is homogeneous: f/L is 1-smooth and x/radius maps the start to the unit
    ball, so the worst case is L radius^2 tau(step L, K), with tau from the PEP at L = 1,
    R = 1. That PEP is better conditioned: solved at L = 84 directly, CLARABEL's answer
    was off by 4e-6; at L = 1, by about 1e-9.
    """
    problem = PEP()
    f = problem.declare_function(SmoothConvexFunction, L=1.0)
    minimizer = f.stationary_point()
    x0 = problem.set_initial_point()
    problem.set_initial_condition((x0 - minimizer) ** 2 <= 1)
    x = x0
    for _ in range(steps):
        x = x - step * L * f.gradient(x)
    problem.set_performance_metric(f(x) - f(minimizer))
    # one CLARABEL thread: its threads sum in varying order, and a run must reproduce
    tau = float(problem.solve(wrapper="cvxpy", solver=cp.CLARABEL, verbose=0, max_threads=1))
    return L * radius**2 * tau
