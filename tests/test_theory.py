"""Bound functions: numpy and torch give the same numbers, and the maths checks out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trajcheck_catalogue.theory import descent, smoothing


@pytest.mark.parametrize(("aL", "K"), [(0.05, 1), (0.3, 2), (1.0, 1), (1.0, 5), (0.7, 12)])
def test_curvature_bound_is_the_peak_of_the_filter(aL: float, K: int) -> None:
    """g(min(L, 1/(a(2K+1)))) is the maximum of g over [0, L], found here on a fine grid."""
    L = 3.0
    a = aL / L
    grid = np.linspace(0.0, L, 200_001)
    peak = smoothing.spectral_filter(grid, a, K).max()
    bound = smoothing.adapted_curvature_bound(L, a, K)
    assert bound == pytest.approx(peak, rel=1e-8)
    assert bound >= peak * (1 - 1e-12)


def test_curvature_bound_at_a_equal_one_over_L() -> None:
    """With a = 1/L: L/(2K+1) * (2K/(2K+1))^(2K) (theory/smoothing.py)."""
    L, K = 2.5, 4
    closed = L / (2 * K + 1) * (2 * K / (2 * K + 1)) ** (2 * K)
    assert smoothing.adapted_curvature_bound(L, 1 / L, K) == pytest.approx(closed, rel=1e-14)


def test_bounds_agree_on_numpy_and_torch() -> None:
    L, a, K = np.array([1.0, 4.0]), np.array([0.5, 0.1]), np.array([3, 7])
    as_numpy = smoothing.adapted_curvature_bound(L, a, K, factor=0.99)
    as_torch = smoothing.adapted_curvature_bound(
        torch.tensor(L), torch.tensor(a), torch.tensor(K), factor=0.99
    )
    assert np.allclose(as_numpy, as_torch.numpy(), rtol=1e-15)
    q_np = descent.contraction_factor(np.array([0.1]), np.array([2.0]), np.array([0.5]))
    q_t = descent.contraction_factor(torch.tensor([0.1]), torch.tensor([2.0]), torch.tensor([0.5]))
    assert q_np[0] == pytest.approx(0.95) and q_t.item() == pytest.approx(0.95)


def test_descent_bound_and_contraction_on_floats() -> None:
    assert descent.descent_lemma_bound(1.0, 4.0, 0.5, 1.0) == pytest.approx(1.0 - 0.5 * 0.75 * 4)
    assert descent.contracted_error(2.0, 0.5, 3) == pytest.approx(0.25)
    assert smoothing.adapted_curvature_bound(1.0, 1.0, 1) == pytest.approx(1 / 3 * (2 / 3) ** 2)


def test_theory_imports_no_framework() -> None:
    """theory/ stays free of torch: a statement can be read without a framework."""
    import subprocess
    import sys

    code = (
        "import sys; import theory.smoothing, theory.descent; "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
