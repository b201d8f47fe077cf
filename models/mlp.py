"""A small multilayer perceptron's regression loss, as a function of its parameters.

The meta-learning view differentiates through inner steps taken on a network's
parameters; this is the smallest such network. With inputs u_i in R^p, targets y_i and
h hidden tanh units, theta = (W1 (h x p), b1 (h), w2 (h), b2) flattened, P = h(p+2)+1:

    f(theta) = 1/(2n) sum_i (w2' tanh(W1 u_i + b1) + b2 - y_i)^2.

Smooth and nonconvex; its Hessian has no closed form here and comes from torch.func.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def parameter_count(inputs: int, hidden: int) -> int:
    """P = h p + h + h + 1."""
    return hidden * (inputs + 2) + 1


def regression_loss(
    theta: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """f(theta) for one network: theta (P,), inputs (n, p), targets (n,) -> scalar."""
    p = inputs.shape[-1]
    h = (theta.shape[-1] - 1) // (p + 2)
    W1 = theta[: h * p].reshape(h, p)
    b1 = theta[h * p : h * p + h]
    w2 = theta[h * p + h : h * p + 2 * h]
    b2 = theta[-1]
    residual = torch.tanh(inputs @ W1.T + b1) @ w2 + b2 - targets
    return 0.5 * (residual * residual).mean()


@dataclass(frozen=True)
class MLPRegression:
    """A batch of regression problems for networks of one shape: inputs (B, n, p),
    targets (B, n); parameters theta (B, P)."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def value(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.func.vmap(regression_loss)(theta, self.inputs, self.targets)

    def hessian(self, theta: torch.Tensor) -> torch.Tensor:
        """Hess f(theta) by forward-over-reverse differentiation (torch.func.hessian)."""
        per_network = torch.func.hessian(regression_loss)
        return torch.func.vmap(per_network)(theta, self.inputs, self.targets)
