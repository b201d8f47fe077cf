"""Block partitions of the coordinates and exact block minimization of a quadratic.

Everything works on the error z = x - x* of f(x) = 1/2 (x - x*)' A (x - x*) (f* = 0), in
batches: ``labels`` (B, d) gives each coordinate's block, numbered 0, 1, ... in the
cyclic order, so that instances with different partitions share one batch.

Minimizing f exactly over block S with the rest fixed sets
z_S <- -A_SS^(-1) A_{S,rest} z_rest, that is z <- z - E_S A_SS^(-1) E_S' A z. The
batched form solves with S_t = diag(m) A diag(m) + diag(1 - m) (m the block's mask), which
is A_SS on the block and the identity elsewhere, so that blocks of different sizes
share one batched Cholesky factorization.
"""

from __future__ import annotations

import torch


def block_labels(sizes: list[int]) -> list[int]:
    """[2, 3] -> [0, 0, 1, 1, 1]: the block of each coordinate, for contiguous blocks."""
    return [block for block, size in enumerate(sizes) for _ in range(size)]


def block_sizes(labels: torch.Tensor) -> list[list[int]]:
    """Block sizes of each instance of a batch of labels (B, d)."""
    return [torch.bincount(row).tolist() for row in labels.long()]


def quadratic_value(hessian: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """f = 1/2 z' A z, (B, d, d) and (B, d) -> (B,)."""
    return 0.5 * torch.einsum("bi,bij,bj->b", z, hessian, z)


def block_factor(hessian: torch.Tensor, labels: torch.Tensor, block: int) -> torch.Tensor:
    """The Cholesky factor of A_SS for ``block`` (the identity elsewhere), (B, d, d)."""
    mask = labels.eq(block).to(hessian.dtype)  # (B, d)
    outer = mask.unsqueeze(-1) * mask.unsqueeze(-2)
    return torch.linalg.cholesky(hessian * outer + torch.diag_embed(1 - mask))


def minimize_block(
    hessian: torch.Tensor, z: torch.Tensor, labels: torch.Tensor, block: int,
    factor: torch.Tensor | None = None,
) -> torch.Tensor:  # fmt: skip
    """Exact minimization of 1/2 z'Az over the coordinates of ``block``; instances that
    have no such block are left as they are. ``factor`` is the block's Cholesky factor,
    when computed once for many sweeps."""
    mask = labels.eq(block).to(hessian.dtype)
    if factor is None:
        factor = block_factor(hessian, labels, block)
    residual = mask * torch.einsum("bij,bj->bi", hessian, z)
    step = torch.cholesky_solve(residual.unsqueeze(-1), factor).squeeze(-1)
    return z - mask * step


def block_sweeps(
    hessian: torch.Tensor, z0: torch.Tensor, labels: torch.Tensor, sweeps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``sweeps`` (B,) cyclic sweeps from z0; return f and ||z||^2 before and after
    every block update, (B, 1 + max sweeps * number of blocks) each, f(z0) first.

    An instance past its own sweeps, or without the block being updated, repeats its
    last value, so that consecutive values of every instance can be compared.
    """
    blocks = int(labels.max().item()) + 1
    factors = [block_factor(hessian, labels, block) for block in range(blocks)]  # once
    z = z0
    values, norms_sq = [quadratic_value(hessian, z)], [(z * z).sum(-1)]
    for sweep in range(int(sweeps.max().item())):
        active = (sweep < sweeps).unsqueeze(-1)
        for block in range(blocks):
            z = torch.where(active, minimize_block(hessian, z, labels, block, factors[block]), z)
            values.append(quadratic_value(hessian, z))
            norms_sq.append((z * z).sum(-1))
    return torch.stack(values, dim=-1), torch.stack(norms_sq, dim=-1)


def sweep_error_map(hessian: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """M = I - (D + L)^(-1) A, the error map of one cyclic sweep (B, d, d).

    D + L keeps the entries A_ij with block(i) >= block(j): the diagonal blocks and
    everything below them.
    """
    lower = labels.unsqueeze(-1) >= labels.unsqueeze(-2)
    block_lower = torch.where(lower, hessian, torch.zeros_like(hessian))
    identity = torch.eye(hessian.shape[-1], dtype=hessian.dtype, device=hessian.device)
    return identity - torch.linalg.solve(block_lower, hessian)


def spectral_radius(matrix: torch.Tensor) -> torch.Tensor:
    """max |eigenvalue| of each (non-symmetric) matrix in the batch, (B, d, d) -> (B,)."""
    return torch.linalg.eigvals(matrix).abs().max(dim=-1).values


def sweeps_to_accuracy(
    hessian: torch.Tensor,
    z0: torch.Tensor,
    labels: torch.Tensor,
    accuracy: torch.Tensor,
    cap: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The number of sweeps s after which f(z_s) <= accuracy * f(z_0), at most ``cap``
    (B,); and whether each instance got there within its cap.

    Iterates z <- M z with the sweep's error map: the same iterates as the block updates
    (up to rounding), at one matrix-vector product per sweep.
    """
    M = sweep_error_map(hessian, labels)
    target = accuracy * quadratic_value(hessian, z0)
    z = z0
    needed = torch.full_like(cap, -1)
    reached = quadratic_value(hessian, z) <= target
    needed = torch.where(reached, torch.zeros_like(needed), needed)
    for sweep in range(1, int(cap.max().item()) + 1):
        if bool(reached.all()):
            break
        z = torch.einsum("bij,bj->bi", M, z)
        now = ~reached & (quadratic_value(hessian, z) <= target) & (sweep <= cap)
        needed = torch.where(now, torch.full_like(needed, sweep), needed)
        reached = reached | now
    return torch.where(reached, needed, cap), reached
