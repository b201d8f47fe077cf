"""The one-layer transformer of the paper's eq. (5), in the reading this toolkit takes:
softmax attention over a prompt, then a two-layer feed-forward net, no normalization.

For a prompt of embeddings E (n x d, one token a row) the activation is taken at the last
position, whose row e_n is the query:

    a(E) = softmax(e_n W_q (E W_k)' / sqrt(d)) E W_v          (1 x d)
    M(E) = relu(a(E) W_1 + b_1) W_2 + b_2                     (1 x d)

(arXiv 2505.19815, eqs. 5-7: the prompt l = (I, q), and [l; t_0] with the first
trajectory token appended.) The paper's exact placement of residual connections is not
reproduced here; the statement checked does not depend on it, since the feed-forward
weights are held fixed and only the attention output has to match.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajcheck_catalogue.models.norms import norm


@dataclass(frozen=True)
class Attention:
    """W_q, W_k, W_v (each (B, d, d))."""

    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor

    def __call__(self, prompt: torch.Tensor) -> torch.Tensor:
        """The attention output at the last position of prompts (B, n, d) -> (B, d)."""
        d = prompt.shape[-1]
        q = prompt[:, -1:, :] @ self.query  # (B, 1, d)
        scores = q @ (prompt @ self.key).transpose(-1, -2) / d**0.5  # (B, 1, n)
        return (torch.softmax(scores, dim=-1) @ prompt @ self.value).squeeze(-2)


@dataclass(frozen=True)
class FeedForward:
    """relu(a W_1 + b_1) W_2 + b_2 with W_1 (B, d, h), b_1 (B, h), W_2 (B, h, d), b_2 (B, d)."""

    W1: torch.Tensor
    b1: torch.Tensor
    W2: torch.Tensor
    b2: torch.Tensor

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(torch.einsum("bd,bdh->bh", a, self.W1) + self.b1)
        return torch.einsum("bh,bhd->bd", hidden, self.W2) + self.b2

    def lipschitz(self) -> torch.Tensor:
        """||W_1|| ||W_2|| (spectral norms) bounds how far the output moves with a, (B,)."""
        return torch.linalg.matrix_norm(self.W1, ord=2) * torch.linalg.matrix_norm(self.W2, ord=2)

    def output_terms(self, a: torch.Tensor) -> torch.Tensor:
        """||W_2|| (||W_1|| ||a|| + ||b_1||) + ||b_2||: the size of the terms the output sums
        before any cancellation, the scale its rounding is relative to, (B,)."""
        hidden = torch.linalg.matrix_norm(self.W1, ord=2) * norm(a) + norm(self.b1)
        return torch.linalg.matrix_norm(self.W2, ord=2) * hidden + norm(self.b2)


def activation(attention: Attention, ffn: FeedForward, prompt: torch.Tensor) -> torch.Tensor:
    """M(E): the transformer's activation at the prompt's last position, (B, d)."""
    return ffn(attention(prompt))


def pseudo_inverse_witness(
    attention: Attention, prompt: torch.Tensor, token: torch.Tensor
) -> Attention:
    """Attention weights theta' with a(E_l; theta') = a([E_l; t_0]; theta), for E_l of full
    row rank (n <= d): W'_q = W_q, W'_k = 0 (uniform weights 1/n over l), and
    W'_v = E_l^+ 1 o with o = a([E_l; t_0]; theta), so that E_l W'_v = 1 o and the uniform
    average of its rows is o. It depends only on theta, l and t_0 (no loss, no gradient).
    """
    extended = torch.cat([prompt, token.unsqueeze(-2)], dim=-2)
    target = attention(extended)  # (B, d)
    ones = torch.ones(prompt.shape[:-1], dtype=prompt.dtype, device=prompt.device)  # (B, n)
    return Attention(
        attention.query,
        torch.zeros_like(attention.key),
        torch.linalg.pinv(prompt) @ ones.unsqueeze(-1) @ target.unsqueeze(-2),
    )


def appendix_b_construction(
    attention: Attention, prompt: torch.Tensor, token: torch.Tensor, *, as_printed: bool = False
) -> Attention:
    """Updated attention weights by the construction of the paper's Appendix B, in the
    reading this toolkit takes (arXiv 2505.19815, eqs. 13-19):

    - eq. 13, W'_q = P W_q. The query on l under theta' is e_last P W_q and must equal the
      query of t_0 under theta, e_t0 W_q, so P has to satisfy e_last P = e_t0; the least-norm
      such P is e_last^+ e_t0. As printed (e_t0 P = e_last) P maps the other way; with
      ``as_printed`` that P = e_t0^+ e_last is used instead.
    - eq. 16, e_t0 ~ C E_l by least squares: C = e_t0 E_l^+ (1 x n).
    - eq. 17, M = [I, C'] (n x (n+1)), so that M' E_l = [E_l; C E_l] ~ [E_l; e_t0].
    - eq. 19, W'_k and W'_v through E_l^+. As printed the product does not conform (E_l^+ is
      d x n, the stacked keys M' E_l W_k have n + 1 rows); the reading taken folds the
      n + 1 rows back into n with M: W'_k = E_l^+ M M' E_l W_k, W'_v = E_l^+ M M' E_l W_v.
    """
    last, t0 = prompt[:, -1:, :], token.unsqueeze(-2)  # (B, 1, d)
    source, image = (t0, last) if as_printed else (last, t0)
    P = torch.linalg.pinv(source) @ image  # (B, d, d): source P = image, least norm
    pinv = torch.linalg.pinv(prompt)  # (B, d, n)
    C = t0 @ pinv  # (B, 1, n)
    n = prompt.shape[-2]
    identity = torch.eye(n, dtype=prompt.dtype, device=prompt.device).expand(len(prompt), n, n)
    M = torch.cat([identity, C.transpose(-1, -2)], dim=-1)  # (B, n, n + 1)
    fold = pinv @ M @ M.transpose(-1, -2) @ prompt  # E_l^+ M M' E_l, (B, d, d)
    return Attention(P @ attention.query, fold @ attention.key, fold @ attention.value)
