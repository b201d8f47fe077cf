"""Cosine sums: closed-form derivatives against torch autograd, constants against samples."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trajcheck.core import Profile
from trajcheck_catalogue.models.cosine import CosineSum
from trajcheck_catalogue.properties.strategies import cosine_sums, vectors

SMALL = Profile(max_dimension=4, max_steps=1)
F64 = torch.float64


def _model(params: dict) -> CosineSum:
    return CosineSum(
        torch.tensor([params["coef"]], dtype=F64),
        torch.tensor([params["freq"]], dtype=F64),
        torch.tensor([params["phase"]], dtype=F64),
    )


@st.composite
def instances(draw: st.DrawFn) -> tuple[dict, torch.Tensor, torch.Tensor, float]:
    params = draw(cosine_sums(SMALL))
    d = len(params["freq"][0])
    x = torch.tensor([draw(vectors(d, 4.0))], dtype=F64)
    v = torch.tensor([draw(vectors(d, 1.0))], dtype=F64)
    return params, x, v, draw(st.floats(0.0, 1.0))


@settings(max_examples=60, deadline=None)
@given(instances())
def test_derivatives_match_autograd(instance) -> None:
    params, x, v, s = instance
    f = _model(params)
    one = lambda y: f.value(y.unsqueeze(0))[0]  # noqa: E731
    L = f.smoothness.item()
    tol = 1e-11 * max(L, f.hessian_lipschitz.item(), 1.0)
    assert torch.allclose(torch.func.grad(one)(x[0]), f.grad(x)[0], atol=tol, rtol=0)
    assert torch.allclose(torch.func.hessian(one)(x[0]), f.hessian(x)[0], atol=tol, rtol=0)
    # D^3 f[v] is the derivative of the Hessian along v
    along = torch.func.jvp(lambda y: f.hessian(y.unsqueeze(0))[0], (x[0],), (v[0],))[1]
    assert torch.allclose(along, f.third_derivative(x, v)[0], atol=tol, rtol=0)
    # Hess F_1 for F_1 = f o U_a, with a = s / L
    a = torch.tensor([s / L], dtype=F64)
    adapted = lambda y: f.value(f.inner_step(y.unsqueeze(0), a))[0]  # noqa: E731
    assert torch.allclose(
        torch.func.hessian(adapted)(x[0]), f.one_step_hessian(x, a)[0], atol=tol, rtol=0
    )


def test_constants_bound_the_derivatives_and_are_attained_in_one_dimension() -> None:
    f = CosineSum(
        torch.tensor([[2.0]], dtype=F64),
        torch.tensor([[[1.5]]], dtype=F64),
        torch.tensor([[0.3]], dtype=F64),
    )
    x = torch.linspace(-4, 4, 4001, dtype=F64).unsqueeze(-1)
    batch = CosineSum(f.coef.expand(4001, 1), f.freq.expand(4001, 1, 1), f.phase.expand(4001, 1))
    assert math.isclose(batch.hessian(x).abs().max().item(), f.smoothness.item(), rel_tol=1e-6)
    assert math.isclose(batch.grad(x).abs().max().item(), f.lipschitz.item(), rel_tol=1e-6)
    assert f.smoothness.item() == 2.0 * 1.5**2
    assert f.hessian_lipschitz.item() == 2.0 * 1.5**3
