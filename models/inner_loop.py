"""Unrolled inner loops (trajectories) shared by every model with an ``inner_step``."""

from __future__ import annotations

from collections.abc import Callable

import torch

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def perturbed_trajectories(
    step: Step,
    x0: torch.Tensor,
    a: torch.Tensor,
    error: torch.Tensor,
    inject_at: torch.Tensor,
    steps: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run x_{k+1} = step(x_k, a) for K steps, and a copy with x~_j = x_j + e.

    Batched: ``inject_at`` (j) and ``steps`` (K) may differ per instance, j <= K. Returns
    x_K, x~_K and the largest iterate norm of either run (the scale their difference is
    rounded at), counting the perturbed iterate at the moment of injection.
    """
    x, perturbed = x0, x0
    largest = x0.norm(dim=-1)
    for k in range(int(steps.max().item()) + 1):
        perturbed = torch.where(inject_at.eq(k).unsqueeze(-1), x + error, perturbed)
        largest = torch.maximum(largest, perturbed.norm(dim=-1))
        active = (k < steps).unsqueeze(-1)
        x = torch.where(active, step(x, a), x)
        perturbed = torch.where(active, step(perturbed, a), perturbed)
        largest = torch.maximum(largest, torch.maximum(x.norm(dim=-1), perturbed.norm(dim=-1)))
    return x, perturbed, largest


def unroll(step: Step, x0: torch.Tensor, a: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """x_K after K inner steps from x_0; K may differ per instance."""
    x = x0
    for k in range(int(steps.max().item())):
        x = torch.where((k < steps).unsqueeze(-1), step(x, a), x)
    return x
