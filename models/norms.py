"""The one Euclidean norm that every side and every rounding scale is computed with.

torch's and numpy's norms take the square root of a sum of squares: the squares of
entries below about 1e-154 underflow to 0 and those above about 1e154 overflow, so a
vector of size 1e-163 gets norm 0 (and a rounding scale of 0 tolerates nothing: a false
alarm the thorough search found) and one of size 1e200 gets infinity. LAPACK's dnrm2
scales to avoid both; torch exposes no such norm, so this one scales by the largest
entry first. ``tests/test_norms.py`` fails when a model or a property computes a norm
any other way.
"""

from __future__ import annotations

import torch


def norm(values: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """||v||_2 along ``dim``, as m ||v / m|| with m = max_i |v_i| (0 for v = 0, inf or
    nan where an entry is)."""
    largest = values.abs().amax(dim=dim, keepdim=True)
    usable = torch.isfinite(largest) & (largest > 0)
    divisor = torch.where(usable, largest, torch.ones_like(largest))
    scaled = largest * torch.linalg.vector_norm(values / divisor, dim=dim, keepdim=True)
    result = torch.where(usable, scaled, largest)
    return result if keepdim else result.squeeze(dim)


def frobenius(matrices: torch.Tensor) -> torch.Tensor:
    """||M||_F of each matrix of a batch (..., m, n) -> (...), without under- or overflow."""
    return norm(matrices.flatten(-2), dim=-1)
