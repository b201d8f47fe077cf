"""A distribution of quadratic tasks and the two initializations that the bi-level view
compares: MAML's, which minimizes the loss after K inner steps, and joint training's.

Task i is f_i(x) = 1/2 (x - c_i)' A_i (x - c_i), A_i = Q_i diag(l_i) Q_i' with Q_i Haar,
eigenvalues l_i uniform in [low L, L], and center

    c_i = mean + spread z_i + tilt A_i e / L,   z_i ~ N(0, I), e = (1, ..., 1)/sqrt(d),

so that with tilt > 0 a task's center depends on its curvature (and the two
initializations differ even with many tasks). K steps of size a give
F_{K,i}(x) = 1/2 (x - c_i)' H_i (x - c_i), H_i = Q_i diag(g(l_i)) Q_i',
g(l) = l (1 - a l)^(2K), and

    x_M = argmin sum_i F_{K,i} = (sum_i H_i)^(-1) sum_i H_i c_i,
    x_J = argmin sum_i f_i     = (sum_i A_i)^(-1) sum_i A_i c_i.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class TaskDistribution:
    """The parameters of the distribution of quadratic tasks (see the module docstring)."""

    mean: list[float]
    spread: float
    tilt: float
    L: float
    low: float

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """``count`` tasks: centers (T, d), eigenvalues (T, d), rotations (T, d, d)."""
        d = len(self.mean)
        eigenvalues = self.L * rng.uniform(self.low, 1.0, (count, d))
        q, r = np.linalg.qr(rng.standard_normal((count, d, d)))
        rotations = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
        # A_i e = Q_i (l_i * Q_i' e): two products by a vector, no (T, d, d) matrix
        direction = np.ones(d) / np.sqrt(d)
        curved = np.einsum("tij,tj->ti", rotations, eigenvalues * (direction @ rotations))
        centers = (
            np.asarray(self.mean)
            + self.spread * rng.standard_normal((count, d))
            + self.tilt * curved / self.L
        )
        return centers, eigenvalues, rotations


@dataclass(frozen=True)
class QuadraticTasks:
    """A set of T tasks as tensors: centers c (T, d), rotations Q (T, d, d), eigenvalues
    l (T, d) and, after K steps of size a, the adapted eigenvalues g(l) (T, d). The
    matrices A and H are formed only when asked for (``curvature``, ``adapted``): the
    held-out losses need only Q'(x - c), and the held-out tasks are hundreds."""

    centers: torch.Tensor
    rotations: torch.Tensor
    eigenvalues: torch.Tensor
    adapted_eigenvalues: torch.Tensor

    @classmethod
    def build(
        cls, sampled: tuple[np.ndarray, ...], a: float, K: int, device: torch.device
    ) -> QuadraticTasks:
        centers, eigenvalues, rotations = (
            torch.as_tensor(x, dtype=torch.float64, device=device) for x in sampled
        )
        adapted = eigenvalues * (1 - a * eigenvalues) ** (2 * K)
        return cls(centers, rotations, eigenvalues, adapted)

    def _rotated(self, diagonal: torch.Tensor) -> torch.Tensor:
        matrix = (self.rotations * diagonal.unsqueeze(-2)) @ self.rotations.transpose(-1, -2)
        return (matrix + matrix.transpose(-1, -2)) / 2

    @cached_property
    def curvature(self) -> torch.Tensor:
        """A_i = Q_i diag(l_i) Q_i', (T, d, d)."""
        return self._rotated(self.eigenvalues)

    @cached_property
    def adapted(self) -> torch.Tensor:
        """H_i = Q_i diag(g(l_i)) Q_i', (T, d, d)."""
        return self._rotated(self.adapted_eigenvalues)

    def adapted_losses(self, x: torch.Tensor) -> torch.Tensor:
        """F_{K,i}(x) = 1/2 sum_k g(l_ik) (Q_i'(x - c_i))_k^2 for every task i, (T,): the
        loss after K inner steps from x."""
        projected = torch.einsum("tij,ti->tj", self.rotations, x - self.centers)
        return 0.5 * (self.adapted_eigenvalues * projected**2).sum(-1)

    def maml_initialization(self) -> torch.Tensor:
        """x_M = (sum H_i)^(-1) sum H_i c_i (closed form)."""
        return _weighted_center(self.adapted, self.centers)

    def joint_initialization(self) -> torch.Tensor:
        """x_J = (sum A_i)^(-1) sum A_i c_i."""
        return _weighted_center(self.curvature, self.centers)


def _weighted_center(weights: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """argmin_x sum_i 1/2 (x - c_i)' W_i (x - c_i) = (sum W_i)^(-1) sum W_i c_i."""
    total = weights.sum(0)
    return torch.linalg.solve(total, torch.einsum("tij,tj->i", weights, centers))


def maml_initialization_cvxpy(tasks: QuadraticTasks) -> np.ndarray:
    """x_M as the convex quadratic program min_x sum_i 1/2 (x - c_i)' H_i (x - c_i),
    solved by cvxpy with CLARABEL (tolerances 1e-12): the check on the closed form."""
    import cvxpy as cp  # loads in a second; only the report's study and tests need it

    H = tasks.adapted.cpu().numpy()
    c = tasks.centers.cpu().numpy()
    x = cp.Variable(c.shape[1])
    objective = sum(0.5 * cp.quad_form(x - c[i], cp.psd_wrap(H[i])) for i in range(len(c)))
    problem = cp.Problem(cp.Minimize(objective))
    settings: dict[str, Any] = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}
    settings["max_threads"] = 1  # CLARABEL threads sum in varying order: not bit-reproducible
    problem.solve(solver=cp.CLARABEL, **settings)
    if x.value is None:
        raise RuntimeError(f"cvxpy could not solve the MAML program: {problem.status}")
    return np.asarray(x.value)
