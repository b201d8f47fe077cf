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


def block_jacobi_map(hessian: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """G = D^(-1) A, (B, d, d), D the block diagonal of A (the A_SS of every block).

    Minimizing over block S is z <- z - E_S A_SS^(-1) E_S' A z, and since D^(-1) is block
    diagonal, E_S A_SS^(-1) E_S' A z is (G z) on S and 0 elsewhere: one factorization
    serves every block. The Cholesky factor of D keeps its zeros off the blocks exactly,
    so each block is solved as on its own.
    """
    same_block = labels.unsqueeze(-1) == labels.unsqueeze(-2)
    diagonal_blocks = torch.where(same_block, hessian, torch.zeros_like(hessian))
    return torch.cholesky_solve(hessian, torch.linalg.cholesky(diagonal_blocks))


def block_sweeps(
    hessian: torch.Tensor, z0: torch.Tensor, labels: torch.Tensor, sweeps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``sweeps`` (B,) cyclic sweeps from z0; return f and ||z||^2 before and after
    every block update, (B, 1 + max sweeps * number of blocks) each, f(z0) first.

    Each update is z_S <- z_S - (G z)_S (``block_jacobi_map``), the rest left exactly as
    it is: a product by a matrix formed once instead of a Cholesky solve per update, and
    every f and ||z||^2 in one batched product at the end. As with the solve, the
    rounding stays in block S and relative to the iterate it updates, so that it changes
    f only to second order. (One product by the sweep's error map M for a whole sweep
    would be faster, but its rounding is relative to the iterate the sweep started from:
    where a sweep shrinks z by 1e-10 or more, f then rose from one update to the next by
    more than the claim's tolerance, on 94 instances in 200,000 of the thorough profile.)

    An instance past its own sweeps, or without the block being updated, repeats its
    last value, so that consecutive values of every instance can be compared.
    """
    blocks = int(labels.max().item()) + 1
    G = block_jacobi_map(hessian, labels)
    z, iterates = z0, [z0]
    for sweep in range(int(sweeps.max().item())):
        active = (sweep < sweeps).unsqueeze(-1)
        for block in range(blocks):
            # a product of small matrices as a broadcast sum: on a CPU, bmm on (B, d, d)
            # by (B, d, 1) takes about twice as long
            step = (G * z.unsqueeze(-2)).sum(-1)
            z = torch.where(active & labels.eq(block), z - step, z)
            iterates.append(z)
    Z = torch.stack(iterates, dim=-2)  # (B, 1 + sweeps * blocks, d)
    values = 0.5 * ((Z @ hessian) * Z).sum(-1)
    return values, (Z * Z).sum(-1)


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
