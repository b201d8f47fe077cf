"""Huber and logistic models: derivatives against autograd, the Huber worst case, and the
batched minimizer against cvxpy and its closed-form optimality condition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trajcheck.core import Profile
from trajcheck_catalogue.models.huber import RadialHuber
from trajcheck_catalogue.models.inner_loop import unroll
from trajcheck_catalogue.models.logistic import Logistic, solve_with_cvxpy, spanning_anchors
from trajcheck_catalogue.properties.draws import BatchDraws
from trajcheck_catalogue.properties.strategies import draw_logistic, logistic_regressions, vectors

F64 = torch.float64
SMALL = Profile(max_dimension=4, max_steps=4)


def _logistic(params: dict) -> Logistic:
    return Logistic(
        torch.tensor([params["features"]], dtype=F64),
        torch.tensor([params["labels"]], dtype=F64),
        torch.tensor([params["ridge"]], dtype=F64),
    )


@settings(max_examples=40, deadline=None)
@given(logistic_regressions(SMALL, ridge=True), st.integers(0, 2**16))
def test_logistic_derivatives_match_autograd(params, seed) -> None:
    f = _logistic(params)
    d = len(params["features"][0])
    w = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    one = lambda v: f.value(v.unsqueeze(0))[0]  # noqa: E731
    assert torch.allclose(torch.func.grad(one)(w), f.grad(w.unsqueeze(0))[0], atol=1e-12)
    hessian = torch.func.hessian(one)(w)
    assert torch.allclose(hessian, f.hessian(w.unsqueeze(0))[0], atol=1e-12)
    # L bounds the curvature everywhere: s(1-s) <= 1/4
    assert torch.linalg.eigvalsh(hessian)[-1] <= f.smoothness[0] * (1 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(logistic_regressions(SMALL, ridge=False))
def test_cvxpy_minimizer_agrees_with_newton_polish(params) -> None:
    """CLARABEL's answer is a near-minimizer of the same f that the Newton-polished one
    minimizes to the float64 floor: same objective to 1e-9, and a distance no larger
    than its own gradient allows (||w - w*|| <= 2 ||grad f(w)|| / lmin(Hess f(w*)))."""
    f = _logistic(params)
    polished, fstar, scale = f.minimize()
    raw = torch.tensor(
        solve_with_cvxpy(np.array(params["features"]), np.array(params["labels"]), 0.0)[None],
        dtype=F64,
    )
    assert f.grad(polished).norm().item() <= 1e-13 * (1 + scale.item())
    size = max(1.0, abs(fstar.item()))
    # f* is the smaller one, up to the rounding of two evaluations of f
    assert -1e-15 * size <= f.value(raw).item() - fstar.item() <= 1e-9 * size
    curvature = torch.linalg.eigvalsh(f.hessian(polished))[0, 0].item()
    distance = (raw - polished).norm().item()
    assert distance <= 2 * f.grad(raw).norm().item() / curvature + 1e-12


def test_anchors_make_every_direction_lose() -> None:
    anchors = spanning_anchors(3)
    for w in np.random.default_rng(1).standard_normal((100, 3)):
        assert (anchors @ w).min() < 0


@given(vectors(3, 5.0).filter(lambda v: np.linalg.norm(v) > 1e-3), st.integers(1, 6))
@settings(max_examples=40, deadline=None)
def test_huber_worst_case_attains_the_convex_bound(x0, K) -> None:
    """delta = R/(2K+1), step 1/L: f(x_K) = L R^2 / (4K+2) (Drori and Teboulle 2014)."""
    x = torch.tensor([x0], dtype=F64)
    R = x.norm().item()
    L = torch.tensor([2.5], dtype=F64)
    f = RadialHuber(L, torch.tensor([R / (2 * K + 1)], dtype=F64), torch.zeros_like(x))
    end = unroll(f.inner_step, x, 1 / L, torch.tensor([K]))
    assert f.value(end).item() == pytest.approx(2.5 * R**2 / (4 * K + 2), rel=1e-12)


def test_huber_gradient_matches_autograd() -> None:
    f = RadialHuber(
        torch.tensor([3.0], dtype=F64), torch.tensor([0.7], dtype=F64), torch.tensor([[1.0, -2.0]])
    )
    for point in ([1.2, -2.1], [4.0, 1.0], [1.0, -2.0 + 1e-9]):
        x = torch.tensor([point], dtype=F64, requires_grad=True)
        (autograd,) = torch.autograd.grad(f.value(x).sum(), x)
        assert torch.allclose(autograd, f.grad(x), atol=1e-12)
    assert math.isclose(
        f.value(torch.tensor([[1.0, -1.0]], dtype=F64)).item(), 3 * 0.7 * (1 - 0.35)
    )


def test_the_batched_minimizer_agrees_with_cvxpy_started_newton() -> None:
    """Damped Newton from 0, for a whole sampled batch at once, and Newton started from
    CLARABEL's answer reach the same w* and f* (to rounding): cvxpy is the independent
    check of the minimizer the sweep relies on."""
    generator = torch.Generator().manual_seed(4)
    for ridge in (False, True):
        batch = draw_logistic(BatchDraws(SMALL, 48, generator, torch.device("cpu")), ridge=ridge)
        f = Logistic(batch["features"], batch["labels"], batch["ridge"])
        w, fstar, scale = f.minimize()
        w_cvxpy, fstar_cvxpy, _ = f.minimize_with_cvxpy()
        assert bool(torch.isfinite(w).all())
        assert float(((w - w_cvxpy).abs().amax(-1) / (1 + scale)).max()) < 1e-13
        assert float(((fstar - fstar_cvxpy).abs() / fstar_cvxpy.abs()).max()) < 1e-13
