"""Cosine sums: smooth nonconvex losses with closed-form derivatives and constants.

A batch of B functions on R^d, each with m terms,

    f(x) = sum_j c_j cos(w_j'x + b_j),

with coef c (B, m), freq w (B, m, d) and phase b (B, m). Writing u_j = w_j'x + b_j:

    grad f = -sum_j c_j sin(u_j) w_j
    Hess f = -sum_j c_j cos(u_j) w_j w_j'
    D^3 f[v] = sum_j c_j sin(u_j) (w_j'v) w_j w_j'

so f is L-smooth, rho-Hessian-Lipschitz and G-Lipschitz with L = sum |c_j| ||w_j||^2,
rho = sum |c_j| ||w_j||^3 and G = sum |c_j| ||w_j|| (each term bounded separately; for one
term in one dimension all three are attained).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajcheck_catalogue.models.loss import GradientStep
from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.models.quadratic import batch_eye


@dataclass(frozen=True)
class CosineSum(GradientStep):
    coef: torch.Tensor  # c, (B, m)
    freq: torch.Tensor  # w, (B, m, d)
    phase: torch.Tensor  # b, (B, m)

    def _phases(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bmd,bd->bm", self.freq, x) + self.phase

    @property
    def _norms(self) -> torch.Tensor:
        return norm(self.freq)

    @property
    def smoothness(self) -> torch.Tensor:
        """L = sum_j |c_j| ||w_j||^2, (B,)."""
        return (self.coef.abs() * self._norms**2).sum(-1)

    @property
    def hessian_lipschitz(self) -> torch.Tensor:
        """rho = sum_j |c_j| ||w_j||^3, (B,)."""
        return (self.coef.abs() * self._norms**3).sum(-1)

    @property
    def lipschitz(self) -> torch.Tensor:
        """G = sum_j |c_j| ||w_j||, (B,)."""
        return (self.coef.abs() * self._norms).sum(-1)

    @property
    def magnitude(self) -> torch.Tensor:
        """sum_j |c_j| >= |f(x)|: the size of the values the model rounds, (B,)."""
        return self.coef.abs().sum(-1)

    def gradient_terms(self, x: torch.Tensor) -> torch.Tensor:
        """L ||x|| + G (1 + max_j |b_j|) >= sum_j |c_j| ||w_j|| (|w_j'x| + |b_j| + 1), the size
        of the terms grad f(x) sums: each phase u_j is rounded at eps (|w_j'x| + |b_j|), and
        its sine moves by as much, so grad f(x) is rounded at about eps times this, (B,)."""
        return self.smoothness * norm(x) + self.lipschitz * (1 + self.phase.abs().amax(dim=-1))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return (self.coef * torch.cos(self._phases(x))).sum(-1)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.coef * torch.sin(self._phases(x))
        return -torch.einsum("bm,bmd->bd", weights, self.freq)

    def hessian(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.coef * torch.cos(self._phases(x))
        return -torch.einsum("bm,bmi,bmj->bij", weights, self.freq, self.freq)

    def third_derivative(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """D^3 f(x)[v], the directional derivative of the Hessian along v, (B, d, d)."""
        weights = self.coef * torch.sin(self._phases(x)) * torch.einsum("bmd,bd->bm", self.freq, v)
        return torch.einsum("bm,bmi,bmj->bij", weights, self.freq, self.freq)

    def one_step_hessian(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Hess F_1(x) for F_1 = f o U_a:

        (I - a H(x)) H(U_a(x)) (I - a H(x)) - a D^3 f(x)[grad f(U_a(x))].
        """
        jacobian = batch_eye(self.hessian(x)) - a.view(-1, 1, 1) * self.hessian(x)
        after = self.inner_step(x, a)
        curvature = jacobian @ self.hessian(after) @ jacobian
        return curvature - a.view(-1, 1, 1) * self.third_derivative(x, self.grad(after))
