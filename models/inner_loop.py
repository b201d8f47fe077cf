"""Unrolled inner loops (trajectories) shared by every model with an ``inner_step``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from trajcheck_catalogue.models.norms import frobenius, norm

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
    largest = norm(x0)
    for k in range(int(steps.max().item()) + 1):
        perturbed = torch.where(inject_at.eq(k).unsqueeze(-1), x + error, perturbed)
        largest = torch.maximum(largest, norm(perturbed))
        active = (k < steps).unsqueeze(-1)
        x = torch.where(active, step(x, a), x)
        perturbed = torch.where(active, step(perturbed, a), perturbed)
        largest = torch.maximum(largest, torch.maximum(norm(x), norm(perturbed)))
    return x, perturbed, largest


def unroll(step: Step, x0: torch.Tensor, a: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """x_K after K inner steps from x_0; K may differ per instance."""
    x = x0
    for k in range(int(steps.max().item())):
        x = torch.where((k < steps).unsqueeze(-1), step(x, a), x)
    return x


#: A batch of losses as one function, (B, d) -> (B,); instances must not interact.
Loss = Callable[[torch.Tensor], torch.Tensor]
#: The Hessian of each instance at x, (B, d) -> (B, d, d).
Hessian = Callable[[torch.Tensor], torch.Tensor]


def autograd_step(loss: Loss, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """U_a(x) = x - a grad f(x) with grad f from torch.func, as MAML's inner loop does it.

    The gradient of the batch's sum is each instance's gradient, the instances being
    independent; so one call serves the batch without vmap.
    """
    return x - a.unsqueeze(-1) * torch.func.grad(lambda y: loss(y).sum())(x)


def unrolled_gradient(
    loss: Loss, x0: torch.Tensor, a: torch.Tensor, steps: torch.Tensor
) -> torch.Tensor:
    """grad F_K(x_0), F_K = f o U_a^K, by reverse-mode differentiation through the K
    unrolled steps (second order included); K may differ per instance."""

    def adapted(x: torch.Tensor) -> torch.Tensor:
        for k in range(int(steps.max().item())):
            x = torch.where((k < steps).unsqueeze(-1), autograd_step(loss, x, a), x)
        return loss(x).sum()

    return torch.func.grad(adapted)(x0)


def chain_rule_gradient(
    loss: Loss,
    hessian: Hessian,
    x0: torch.Tensor,
    a: torch.Tensor,
    steps: torch.Tensor,
    *,
    first_on_the_left: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(I - a H(x_0)) (I - a H(x_1)) ... (I - a H(x_{K-1})) grad f(x_K), H = Hess f.

    Also returns the size at which the two ways of computing grad F_K round,

        prod_k max(1, ||I - a H(x_k)||) * (1 + a max_k ||H(x_k)||_F) * ||grad f(x_K)||:

    each of the K products rounds at about eps times its terms (the 1 + a|H| part) and
    the later factors amplify what the earlier ones leave. ``first_on_the_left=False``
    multiplies in the wrong order, for the mutant that says the order does not matter.
    """
    eye = torch.eye(x0.shape[-1], dtype=x0.dtype, device=x0.device)
    factors, x = [], x0
    amplification = torch.ones_like(a)
    largest = torch.zeros_like(a)
    for k in range(int(steps.max().item())):
        active = k < steps
        curvature = hessian(x)
        factor = torch.where(active.view(-1, 1, 1), eye - a.view(-1, 1, 1) * curvature, eye)
        factors.append(factor)
        spectral = torch.linalg.matrix_norm(factor, ord=2)
        amplification = amplification * torch.where(active, spectral.clamp(min=1.0), 1.0)
        frobenius_norm = frobenius(curvature)
        largest = torch.where(active, torch.maximum(largest, frobenius_norm), largest)
        x = torch.where(active.unsqueeze(-1), autograd_step(loss, x, a), x)
    gradient = torch.func.grad(lambda y: loss(y).sum())(x)
    scale = amplification * (1 + a * largest) * norm(gradient)
    ordered = factors if first_on_the_left else factors[::-1]
    for factor in reversed(ordered):  # the leftmost factor is applied last
        gradient = torch.einsum("bij,bj->bi", factor, gradient)
    return gradient, scale
