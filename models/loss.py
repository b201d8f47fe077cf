"""What every model of a smooth loss offers, and the inner step they all share."""

from __future__ import annotations

from typing import Protocol

import torch


class SmoothLoss(Protocol):
    """A batch of L-smooth losses: values, gradients and the constant L, all (B,)-batched."""

    @property
    def smoothness(self) -> torch.Tensor: ...

    def value(self, x: torch.Tensor) -> torch.Tensor: ...

    def grad(self, x: torch.Tensor) -> torch.Tensor: ...

    def inner_step(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor: ...


class StronglyConvexLoss(SmoothLoss, Protocol):
    @property
    def strong_convexity(self) -> torch.Tensor: ...


class GradientStep:
    """The inner (trajectory) step U_a(x) = x - a grad f(x), for a model with ``grad``."""

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def inner_step(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """U_a(x) = x - a grad f(x): one pseudo-gradient step, a (B,) per instance."""
        return x - a.unsqueeze(-1) * self.grad(x)
