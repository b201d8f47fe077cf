"""The curvature tools on a small attention model: Hessian-vector products against
torch.func's Hessian, and the Lanczos top eigenvalue against the dense Hessian."""

from __future__ import annotations

import torch

from trajcheck.curvature import (
    HessianVectorProduct,
    dense_hessian,
    flat,
    lanczos_top_eigenvalue,
    unflat,
)


def _attention_regression(seed: int = 0):  # type: ignore[no-untyped-def]
    """A one-layer softmax-attention model (d = 4, 2 heads) and a regression loss in its
    parameters: small enough for a dense Hessian (P = 100)."""
    generator = torch.Generator().manual_seed(seed)
    d, T, B = 4, 5, 3
    tokens = torch.randn(B, T, d, generator=generator, dtype=torch.float64)
    targets = torch.randn(B, T, d, generator=generator, dtype=torch.float64)
    shapes = [(d, d), (d, d), (d, d), (d, d), (d,), (d, d), (d,)]
    params = [0.5 * torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]

    def loss(p):  # type: ignore[no-untyped-def]
        Wq, Wk, Wv, Wo, bo, W2, b2 = p
        q, k, v = tokens @ Wq, tokens @ Wk, tokens @ Wv
        heads = lambda t: t.view(B, T, 2, d // 2).transpose(1, 2)  # noqa: E731
        attended = torch.nn.functional.scaled_dot_product_attention(
            heads(q), heads(k), heads(v), is_causal=True
        )
        hidden = attended.transpose(1, 2).reshape(B, T, d) @ Wo + bo
        out = torch.tanh(hidden) @ W2 + b2
        return 0.5 * ((out - targets) ** 2).mean()

    return loss, params


def test_hessian_vector_products_match_torch_func() -> None:
    loss, params = _attention_regression()
    from trajcheck.curvature import math_attention

    with math_attention():
        reference = torch.func.hessian(lambda v: loss(unflat(v, params)))(flat(params))
    product = HessianVectorProduct(loss, params)
    v = torch.randn(
        product.dimension, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    torch.testing.assert_close(product(v), reference @ v, rtol=1e-10, atol=1e-12)
    assert product.products == 1


def test_lanczos_top_eigenvalue_matches_the_dense_hessian() -> None:
    """The issue's check: 1e-6 relative, with far fewer products than the dimension."""
    for seed in range(3):
        loss, params = _attention_regression(seed)
        dense = torch.linalg.eigvalsh(dense_hessian(loss, params))[-1]
        top = lanczos_top_eigenvalue(loss, params)
        assert abs(top.value - float(dense)) <= 1e-6 * abs(float(dense))
        assert top.products < sum(p.numel() for p in params)
