"""Radial Huber losses: the worst case of gradient descent on L-smooth convex functions.

A batch of

    f(x) = L * h_delta(||x - x*||),   h_delta(r) = r^2/2 if r <= delta, else delta (r - delta/2),

convex and L-smooth with f* = 0 at x*. With R = ||x_0 - x*||, step 1/L and
delta = R/(2K+1), gradient descent ends K steps later at exactly f(x_K) = L R^2/(4K+2):
the tight case of Drori and Teboulle (2014), Theorem 3.1. ``delta`` is a parameter, so
that the worst case is inside the family without being its only member.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajcheck_catalogue.models.loss import GradientStep
from trajcheck_catalogue.models.norms import norm


@dataclass(frozen=True)
class RadialHuber(GradientStep):
    smoothness: torch.Tensor  # L, (B,)
    width: torch.Tensor  # delta, (B,)
    center: torch.Tensor  # x*, (B, d)

    @property
    def fstar(self) -> torch.Tensor:
        return torch.zeros_like(self.smoothness)

    def _radius(self, x: torch.Tensor) -> torch.Tensor:
        return norm(x - self.center)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        r, delta = self._radius(x), self.width
        inside = r <= delta
        return self.smoothness * torch.where(inside, r**2 / 2, delta * (r - delta / 2))

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """L (x - x*) inside the ball of radius delta, L delta (x - x*)/r outside."""
        z = x - self.center
        r = norm(z, keepdim=True)
        delta = self.width.unsqueeze(-1)
        outside = delta / torch.where(r > delta, r, torch.ones_like(r))
        return self.smoothness.unsqueeze(-1) * torch.where(r > delta, outside * z, z)
