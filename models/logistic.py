"""Logistic regression, plain and ridge-regularized, with its minimizer (damped Newton for
a whole batch, checked against cvxpy).

A batch of

    f(w) = (1/n) sum_i log(1 + exp(-y_i x_i'w)) + (ridge/2) ||w||^2,

with features x_i (B, n, d), labels y_i = +-1 (B, n) and ridge >= 0 (B,). Writing
s_i = sigmoid(y_i x_i'w): grad f = -(1/n) sum_i (1 - s_i) y_i x_i + ridge w and
Hess f = (1/n) sum_i s_i (1 - s_i) x_i x_i' + ridge I, so f is L-smooth with
L = lmax(X'X)/(4n) + ridge and ridge-strongly convex.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import torch

from trajcheck_catalogue.models.loss import GradientStep
from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.models.quadratic import batch_eye, eigenvalues, lmax

if TYPE_CHECKING:
    import cvxpy as cp


@dataclass(frozen=True)
class Logistic(GradientStep):
    features: torch.Tensor  # x_i, (B, n, d)
    labels: torch.Tensor  # y_i in {-1, +1}, (B, n)
    ridge: torch.Tensor  # (B,)

    def _margins(self, w: torch.Tensor) -> torch.Tensor:
        return self.labels * torch.einsum("bnd,bd->bn", self.features, w)

    @property
    def smoothness(self) -> torch.Tensor:
        """L = lmax(X'X)/(4n) + ridge, (B,)."""
        n = self.features.shape[1]
        gram = self.features.transpose(-1, -2) @ self.features
        return lmax(gram) / (4 * n) + self.ridge

    @property
    def strong_convexity(self) -> torch.Tensor:
        """mu = ridge (the data term adds curvature, but no uniform amount of it)."""
        return self.ridge

    def value(self, w: torch.Tensor) -> torch.Tensor:
        loss = torch.nn.functional.softplus(-self._margins(w)).mean(-1)
        return loss + self.ridge / 2 * (w * w).sum(-1)

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(-self._margins(w)) * self.labels / self.features.shape[1]
        return -torch.einsum("bn,bnd->bd", weights, self.features) + self.ridge.unsqueeze(-1) * w

    def hessian(self, w: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self._margins(w))
        weights = s * (1 - s) / self.features.shape[1]
        data = torch.einsum("bn,bni,bnj->bij", weights, self.features, self.features)
        return data + self.ridge.view(-1, 1, 1) * batch_eye(data)

    def minimize(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(w*, f*, scale of w*) for each instance: damped Newton from 0 for the whole
        batch at once (``damped_newton``), then Newton steps to the float64 floor, which
        the margins of the convergence claims need. At that floor the gradient is known
        to about eps * (mean ||x_i|| + ridge ||w*||), so w* is known to eps times the
        returned scale, (mean ||x_i|| + ridge ||w*||) / lmin(Hess f(w*)). The data must
        make f coercive (``spanning_anchors`` guarantees it). An instance whose gradient
        is not at that floor afterwards gets a NaN minimizer: an ``error``, never a
        verdict read off a point that is not the minimizer.
        """
        w = newton_polish(self, damped_newton(self))
        gradient_terms = norm(self.features).mean(-1) + self.ridge * norm(w)
        converged = norm(self.grad(w)) <= NEWTON_FLOOR * gradient_terms
        w = torch.where(converged.unsqueeze(-1), w, torch.nan)
        curvature = eigenvalues(self.hessian(w))[..., 0]
        return w, self.value(w), gradient_terms / curvature

    def minimize_with_cvxpy(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``minimize`` started from cvxpy's answer (CLARABEL, one instance at a time)
        instead of damped Newton's: the independent check of the batched minimizer."""
        start = torch.stack(
            [
                torch.as_tensor(
                    solve_with_cvxpy(
                        self.features[b].detach().cpu().numpy(),
                        self.labels[b].detach().cpu().numpy(),
                        float(self.ridge[b]),
                    ),
                    dtype=self.features.dtype,
                    device=self.features.device,
                )
                for b in range(self.features.shape[0])
            ]
        )
        w = newton_polish(self, start)
        gradient_terms = norm(self.features).mean(-1) + self.ridge * norm(w)
        curvature = eigenvalues(self.hessian(w))[..., 0]
        return w, self.value(w), gradient_terms / curvature


#: A minimizer is accepted when ||grad f(w)|| is at most this times the size of the terms
#: the gradient sums: the polish reaches a few eps of it, a thousand times below.
NEWTON_FLOOR = 1e-12
#: Damped Newton's iterations and step halvings at most.
NEWTON_ITERATIONS = 100
HALVINGS = 40


def damped_newton(f: Logistic) -> torch.Tensor:
    """Newton's method from w = 0 with a backtracking (Armijo) line search, every instance
    of the batch at once: the step t d, d = Hess^-1 grad, with t the largest of 1, 1/2,
    1/4, ... that decreases f by at least t/4 of the Newton decrement grad'd (Boyd and
    Vandenberghe, Convex Optimization, 9.5). f is strictly convex with bounded level sets
    (the anchors), so this converges from any start, quadratically near w*.

    Written by hand because cvxpy solves one problem at a time, and a sweep has
    thousands; cvxpy remains the independent check (``minimize_with_cvxpy``).
    """
    w = torch.zeros_like(f.features[:, 0, :])
    halvings = 0.5 ** torch.arange(HALVINGS, dtype=w.dtype, device=w.device)
    for _ in range(NEWTON_ITERATIONS):
        gradient = f.grad(w)
        direction, info = torch.linalg.solve_ex(f.hessian(w), gradient.unsqueeze(-1))
        direction = torch.where((info == 0).unsqueeze(-1), direction.squeeze(-1), gradient)
        decrement = (gradient * direction).sum(-1)
        # the decrement is about twice f(w) - f*: once it is at the rounding of f (a few
        # eps |f|, below which no step can show a decrease), the polish takes it from there
        if not bool((decrement > 1e-14 * (1 + f.value(w).abs())).any()):
            break
        # f at every trial step of every instance: (B, HALVINGS)
        trials = w.unsqueeze(1) - halvings.view(1, -1, 1) * direction.unsqueeze(1)
        values = _values_at(f, trials)
        enough = values <= f.value(w).unsqueeze(-1) - halvings * decrement.unsqueeze(-1) / 4
        first = torch.where(enough.any(-1), enough.float().argmax(-1), HALVINGS - 1)
        w = w - halvings[first].unsqueeze(-1) * direction
    return w


def _values_at(f: Logistic, points: torch.Tensor) -> torch.Tensor:
    """f at several points per instance, (B, T, d) -> (B, T)."""
    margins = f.labels.unsqueeze(1) * torch.einsum("bnd,btd->btn", f.features, points)
    loss = torch.nn.functional.softplus(-margins).mean(-1)
    return loss + f.ridge.unsqueeze(-1) / 2 * (points * points).sum(-1)


def newton_polish(f: Logistic, w: torch.Tensor, steps: int = 4) -> torch.Tensor:
    """A few Newton steps w <- w - Hess^-1 grad; each squares the error near w*."""
    for _ in range(steps):
        w = w - torch.linalg.solve(f.hessian(w), f.grad(w).unsqueeze(-1)).squeeze(-1)
    return w


@cache
def _problem(n: int, d: int) -> tuple[cp.Problem, cp.Parameter, cp.Parameter, cp.Variable]:
    """One parametrized problem per shape, so that cvxpy compiles it once (DPP).

    cvxpy is imported here, not at the top: it costs most of a second, and only the
    models that need a minimizer should pay it.
    """
    import cvxpy as cp

    signed = cp.Parameter((n, d))  # rows y_i x_i
    ridge = cp.Parameter(nonneg=True)
    w = cp.Variable(d)
    objective = cp.sum(cp.logistic(-(signed @ w))) / n + ridge / 2 * cp.sum_squares(w)
    problem = cp.Problem(cp.Minimize(objective))
    # The first solve compiles the problem and takes another path through cvxpy than
    # every later one (answers differ by 1e-6, and by an ulp after the Newton polish):
    # one throwaway solve here, so that an instance's f* does not depend on whether it
    # was the first of its shape in the process.
    signed.value, ridge.value = np.ones((n, d)), 1.0
    problem.solve(solver=cp.CLARABEL, max_threads=1)
    return problem, signed, ridge, w


def solve_with_cvxpy(features: np.ndarray, labels: np.ndarray, ridge: float) -> np.ndarray:
    """argmin of the logistic loss for one instance, by cvxpy with the CLARABEL solver."""
    import cvxpy as cp

    n, d = features.shape
    problem, signed, ridge_parameter, w = _problem(n, d)
    signed.value = labels[:, None] * features
    ridge_parameter.value = ridge
    # tighter than the defaults (1e-8): the loss is flat near w*, so w* needs a small gap
    # (it may then report "optimal_inaccurate", and warn: the Newton polish takes it from
    # there, so the warning is silenced here and the status checked below).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        problem.solve(
            solver=cp.CLARABEL,
            tol_gap_abs=1e-10,
            tol_gap_rel=1e-10,
            tol_feas=1e-10,
            max_threads=1,  # CLARABEL threads sum in varying order: not bit-reproducible
        )
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or w.value is None:
        raise RuntimeError(f"cvxpy/CLARABEL could not minimize the logistic loss: {problem.status}")
    return np.asarray(w.value)


def spanning_anchors(d: int) -> np.ndarray:
    """d + 1 points e_1, ..., e_d, -(e_1 + ... + e_d) whose cone is all of R^d.

    Appended with label +1, they make every direction w lose on some point, so that the
    logistic loss is coercive and has a minimizer even without a ridge term.
    """
    return np.vstack([np.eye(d), -np.ones((1, d))])
