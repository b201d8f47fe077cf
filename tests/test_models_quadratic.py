"""The quadratic model against torch autograd and against its spectral closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trajcheck.core import Profile
from trajcheck_catalogue.models.quadratic import Quadratic, batched_power, lmax
from trajcheck_catalogue.properties.draws import haar_rotation
from trajcheck_catalogue.properties.strategies import quadratics

SMALL = Profile(max_dimension=4, max_steps=4)


def _model(params: dict, center=None) -> Quadratic:
    spectrum = torch.tensor([params["spectrum"]], dtype=torch.float64)
    rotation = torch.tensor([params["rotation"]], dtype=torch.float64)
    return Quadratic.from_spectrum(spectrum, rotation, center)


@settings(max_examples=40, deadline=None)
@given(
    quadratics(SMALL),
    st.floats(0.0, 2.0, exclude_min=True),
    st.integers(0, 4),
    st.integers(0, 2**16),
)
def test_adapted_hessian_matches_autograd(params, aL, K, seed) -> None:
    """Hess F_K = (I-aA)^K A (I-aA)^K agrees with torch.func.hessian of the unrolled F_K."""
    d = len(params["spectrum"])
    g = torch.Generator().manual_seed(seed)
    center = torch.randn(1, d, generator=g, dtype=torch.float64)
    q = _model(params, center)
    a = torch.tensor([aL / params["spectrum"][0]], dtype=torch.float64)
    x = torch.randn(d, generator=g, dtype=torch.float64)

    def unrolled(v: torch.Tensor) -> torch.Tensor:
        return q.adapted_value(v.unsqueeze(0), a, K)[0]

    autograd = torch.func.hessian(unrolled)(x)
    closed = q.adapted_hessian(a, torch.tensor([K]))[0]
    scale = max(params["spectrum"][0], 1e-300)
    assert torch.allclose(autograd, closed, rtol=0, atol=1e-11 * scale)


@settings(max_examples=40, deadline=None)
@given(quadratics(SMALL), st.floats(0.0, 2.0, exclude_min=True), st.integers(0, 6))
def test_adapted_spectrum_is_the_filtered_spectrum(params, aL, K) -> None:
    """eig(Hess F_K) = {l (1 - a l)^(2K)} over the eigenvalues l of A."""
    q = _model(params)
    a = aL / params["spectrum"][0]
    computed = torch.linalg.eigvalsh(
        q.adapted_hessian(torch.tensor([a], dtype=torch.float64), torch.tensor([K]))
    )[0]
    spectrum = np.array(params["spectrum"])
    expected = np.sort(spectrum * (1 - a * spectrum) ** (2 * K))
    assert np.allclose(computed.numpy(), expected, rtol=0, atol=1e-12 * spectrum[0])


def test_value_and_gradient_match_autograd() -> None:
    g = torch.Generator().manual_seed(0)
    spectrum = torch.rand(3, 5, generator=g, dtype=torch.float64)
    rotation = torch.stack([torch.tensor(haar_rotation(5, s)) for s in range(3)]).double()
    center = torch.randn(3, 5, generator=g, dtype=torch.float64)
    q = Quadratic.from_spectrum(
        spectrum, rotation, center, torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    )
    x = torch.randn(3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    (autograd,) = torch.autograd.grad(q.value(x).sum(), x)
    assert torch.allclose(autograd, q.grad(x), rtol=1e-12, atol=1e-12)
    assert torch.allclose(q.value(center), q.fstar)
    assert torch.allclose(q.smoothness, spectrum.max(-1).values)


def test_hessian_is_symmetric_with_the_drawn_spectrum() -> None:
    rotation = torch.tensor([haar_rotation(6, 3)], dtype=torch.float64)
    spectrum = torch.tensor([[5.0, 1.0, 0.5, 0.25, 0.0, 2.0]], dtype=torch.float64)
    q = Quadratic.from_spectrum(spectrum, rotation)
    assert torch.equal(q.hessian, q.hessian.transpose(-1, -2))
    assert torch.allclose(torch.linalg.eigvalsh(q.hessian), spectrum.sort().values, atol=1e-14)
    assert lmax(q.hessian).item() == pytest.approx(5.0, rel=1e-14)


def test_batched_power_takes_one_exponent_per_instance() -> None:
    exponents = torch.tensor([0, 1, 2, 3, 5, 8, 13, 64])
    m = torch.tensor([[[0.5, 1.0], [0.0, 1.01]]] * len(exponents), dtype=torch.float64)
    powers = batched_power(m, exponents)
    for i, k in enumerate(exponents.tolist()):
        assert torch.allclose(powers[i], torch.linalg.matrix_power(m[i], k))


@pytest.mark.parametrize("d", [1, 2, 7])
def test_haar_rotation_is_orthogonal(d: int) -> None:
    q = np.array(haar_rotation(d, 11))
    assert np.allclose(q @ q.T, np.eye(d), atol=1e-14)
