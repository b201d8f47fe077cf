"""Curvature of any torch model's loss: Hessian-vector products, the top Hessian
eigenvalue by Lanczos, and the dense Hessian of a small model to check them against.

A loss is a function of the model's parameters (a sequence of tensors) returning a
scalar. Hessian-vector products use double backward, Hv = grad (grad L . v), under the
math kernel of scaled-dot-product attention: the fused kernels have no double backward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

Loss = Callable[[Sequence[torch.Tensor]], torch.Tensor]


def math_attention() -> AbstractContextManager[None]:
    """The context in which attention is twice differentiable (and deterministic)."""
    return sdpa_kernel(SDPBackend.MATH)


def flat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflat(vector: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """A flat vector cut into tensors shaped like ``like``."""
    pieces, start = [], 0
    for t in like:
        pieces.append(vector[start : start + t.numel()].view_as(t))
        start += t.numel()
    return pieces


class HessianVectorProduct:
    """v -> Hess L(params) v for flat vectors v, counting the products taken.

    The gradient's graph is built once and kept, so each product is one backward pass.
    """

    def __init__(self, loss: Loss, params: Sequence[torch.Tensor]) -> None:
        self.params = [p.detach().requires_grad_(True) for p in params]
        with math_attention():
            value = loss(self.params)
            self.gradient = torch.autograd.grad(value, self.params, create_graph=True)
        self.dimension = sum(p.numel() for p in self.params)
        self.products = 0

    def __call__(self, vector: torch.Tensor) -> torch.Tensor:
        self.products += 1
        pieces = unflat(vector.to(self.params[0]), self.params)
        with math_attention():
            dot = torch.stack(
                [(g * v).sum() for g, v in zip(self.gradient, pieces, strict=True)]
            ).sum()
            product = torch.autograd.grad(dot, self.params, retain_graph=True)
        return flat(product).detach()


def dense_hessian(loss: Loss, params: Sequence[torch.Tensor]) -> torch.Tensor:
    """The full Hessian (P x P), one Hessian-vector product per column: for small models,
    as the reference the Lanczos eigenvalue is checked against."""
    return _columns(HessianVectorProduct(loss, params))


def _columns(product: HessianVectorProduct) -> torch.Tensor:
    eye = torch.eye(product.dimension, dtype=product.params[0].dtype)
    columns = [product(eye[i]) for i in range(product.dimension)]
    hessian = torch.stack(columns, dim=1)
    return (hessian + hessian.T) / 2


@dataclass
class TopEigenvalue:
    value: float
    products: int  # Hessian-vector products taken
    vector: torch.Tensor


def lanczos_top_eigenvalue(
    loss: Loss, params: Sequence[torch.Tensor], *, tol: float = 1e-10, basis: int = 8,
    seed: int = 0,
) -> TopEigenvalue:  # fmt: skip
    """The largest (algebraic) eigenvalue of Hess L(params), by implicitly restarted
    Lanczos (ARPACK through scipy's eigsh) on Hessian-vector products, with a Krylov
    basis of ``basis`` vectors (ARPACK's default of 20 costs 20 products at the least).

    Lanczos reaches the extreme eigenvalue in far fewer products than power iteration
    (whose rate is the gap ratio l2/l1), and needs no guess of the spectrum's sign.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    product = HessianVectorProduct(loss, params)
    dtype = product.params[0].dtype

    def matvec(vector: np.ndarray) -> np.ndarray:
        v = torch.from_numpy(np.ascontiguousarray(vector).reshape(-1)).to(dtype)
        return product(v).cpu().numpy().astype(np.float64)

    n = product.dimension
    operator = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(n)
    if n <= 2:  # ARPACK needs k < n - 1: a tiny model's Hessian is taken whole
        values, vectors = torch.linalg.eigh(_columns(product))
        return TopEigenvalue(float(values[-1]), n, vectors[:, -1])
    ncv = min(basis, n - 1)
    values, vectors = eigsh(operator, k=1, which="LA", tol=tol, ncv=ncv, v0=start)
    return TopEigenvalue(float(values[0]), product.products, torch.from_numpy(vectors[:, 0]))
