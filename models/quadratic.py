"""Quadratics with a chosen spectrum, their inner-step map and K-step adapted objective.

A batch of B quadratics in dimension d,

    f_b(x) = 1/2 (x - x*_b)' A_b (x - x*_b) + f*_b,   A_b = Q_b diag(spectrum_b) Q_b',

with the inner (trajectory) step U_a(x) = x - a grad f(x) and F_K = f o U_a^K. Everything
is batched: tensors carry the batch as their first dimension, and per-instance step sizes
``a`` (B,) and step counts ``K`` (B,) may differ inside a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajcheck_catalogue.models.loss import GradientStep
from trajcheck_catalogue.models.norms import norm


def batch_eye(like: torch.Tensor) -> torch.Tensor:
    """The identity, broadcast to the batch of square matrices ``like`` (B, d, d)."""
    d = like.shape[-1]
    return torch.eye(d, dtype=like.dtype, device=like.device).expand_as(like)


def batched_power(matrix: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    """matrix_b ** exponent_b for a batch whose exponents differ, by repeated squaring.

    torch.linalg.matrix_power takes one exponent for the whole batch. Squaring uses
    about log2(K) products rather than K, which also keeps the rounding error near
    log2(K) * d * eps instead of K * d * eps.
    """
    power = batch_eye(matrix).clone()
    base = matrix
    # one read of the largest exponent, then no synchronisation per squaring on a GPU
    bits = int(exponent.max()).bit_length() if exponent.numel() else 0
    for bit in range(bits):
        odd = ((exponent >> bit) % 2 == 1).view(-1, 1, 1)
        power = torch.where(odd, power @ base, power)
        if bit + 1 < bits:
            base = base @ base
    return power


#: The largest batch handed to one eigenvalue call on a GPU: cusolver's batched solver
#: (cusolverDnXsyevBatched) fails with an internal error at 65,536 matrices of 4 x 4 or
#: 16 x 16 (torch 2.11, H200), and 32,768 are as fast per matrix.
GPU_EIGENVALUE_BATCH = 32768


def eigenvalues(symmetric: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of each symmetric matrix in the batch, ascending, (B, d, d) -> (B, d);
    on a GPU in chunks below cusolver's batch limit, on the CPU in one call."""
    if symmetric.device.type == "cpu" or symmetric.shape[0] <= GPU_EIGENVALUE_BATCH:
        return torch.linalg.eigvalsh(symmetric)
    return torch.cat([torch.linalg.eigvalsh(c) for c in symmetric.split(GPU_EIGENVALUE_BATCH)])


def lmax(symmetric: torch.Tensor) -> torch.Tensor:
    """Largest eigenvalue of each symmetric matrix in the batch (B, d, d) -> (B,)."""
    return eigenvalues(symmetric)[..., -1]


@dataclass(frozen=True)
class Quadratic(GradientStep):
    """A batch of quadratics f(x) = 1/2 (x - center)' A (x - center) + fstar."""

    hessian: torch.Tensor  # A, (B, d, d), symmetric PSD
    spectrum: torch.Tensor  # eigenvalues of A, (B, d)
    center: torch.Tensor  # x*, (B, d)
    fstar: torch.Tensor  # f*, (B,)

    @classmethod
    def from_spectrum(
        cls,
        spectrum: torch.Tensor,
        rotation: torch.Tensor,
        center: torch.Tensor | None = None,
        fstar: torch.Tensor | None = None,
    ) -> Quadratic:
        """A = Q diag(spectrum) Q', symmetrized so that rounding leaves it exactly symmetric."""
        hessian = rotation @ torch.diag_embed(spectrum) @ rotation.transpose(-1, -2)
        hessian = (hessian + hessian.transpose(-1, -2)) / 2
        if center is None:
            center = torch.zeros_like(spectrum)
        if fstar is None:
            fstar = torch.zeros_like(spectrum[..., 0])
        return cls(hessian, spectrum, center, fstar)

    @property
    def smoothness(self) -> torch.Tensor:
        """L = lmax(A), (B,)."""
        return self.spectrum.max(dim=-1).values

    @property
    def strong_convexity(self) -> torch.Tensor:
        """mu = lmin(A), (B,)."""
        return self.spectrum.min(dim=-1).values

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """f(x), (B, d) -> (B,)."""
        z = x - self.center
        return 0.5 * torch.einsum("bi,bij,bj->b", z, self.hessian, z) + self.fstar

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """grad f(x) = A (x - x*), (B, d) -> (B, d)."""
        return torch.einsum("bij,bj->bi", self.hessian, x - self.center)

    def gradient_terms(self, x: torch.Tensor) -> torch.Tensor:
        """L (||x|| + ||x*||) >= the terms A (x - x*) sums before any cancellation: grad f(x)
        is rounded at about d eps times this, however small grad f(x) itself is, (B,)."""
        return self.smoothness * (norm(x) + norm(self.center))

    def step_matrix(self, a: torch.Tensor) -> torch.Tensor:
        """I - aA: the Jacobian of U_a, (B, d, d)."""
        return batch_eye(self.hessian) - a.view(-1, 1, 1) * self.hessian

    def adapted_hessian(self, a: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        """Hess F_K = (I - aA)^K A (I - aA)^K, the curvature of the K-step adapted loss."""
        propagate = batched_power(self.step_matrix(a), K)
        return propagate @ self.hessian @ propagate

    def adapted_value(self, x: torch.Tensor, a: torch.Tensor, K: int) -> torch.Tensor:
        """F_K(x) = f(U_a^K(x)) by unrolling; differentiable, for autograd cross-checks."""
        for _ in range(K):
            x = self.inner_step(x, a)
        return self.value(x)
