"""The one-layer transformer and the pseudo-inverse witness of Proposition 2.1."""

from __future__ import annotations

import torch

from trajcheck_catalogue.models.one_layer import (
    Attention,
    FeedForward,
    activation,
    appendix_b_construction,
    pseudo_inverse_witness,
)


def _draw(seed: int, B: int = 4, n: int = 3, d: int = 5, h: int = 6):  # type: ignore[no-untyped-def]
    generator = torch.Generator().manual_seed(seed)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    return (
        Attention(r(B, d, d), r(B, d, d), r(B, d, d)),
        FeedForward(r(B, d, h), r(B, h), r(B, h, d), r(B, d)),
        r(B, n, d),
        r(B, d),
    )


def test_attention_is_softmax_attention_at_the_last_position() -> None:
    attention, _, prompt, _ = _draw(0)
    q = torch.einsum("bd,bde->be", prompt[:, -1], attention.query)
    weights = torch.softmax(torch.einsum("bd,bnd->bn", q, prompt @ attention.key) / 5**0.5, dim=-1)
    expected = torch.einsum("bn,bnd->bd", weights, prompt @ attention.value)
    torch.testing.assert_close(attention(prompt), expected, rtol=1e-12, atol=1e-12)


def test_the_witness_reproduces_the_token_and_is_rank_one() -> None:
    for seed in range(5):
        attention, ffn, prompt, token = _draw(seed)
        witness = pseudo_inverse_witness(attention, prompt, token)
        with_token = torch.cat([prompt, token.unsqueeze(-2)], dim=-2)
        torch.testing.assert_close(
            activation(witness, ffn, prompt), activation(attention, ffn, with_token),
            rtol=1e-10, atol=1e-10,
        )  # fmt: skip
        assert torch.all(witness.key == 0)
        assert int(torch.linalg.matrix_rank(witness.value[0])) == 1


def test_the_appendix_b_construction_follows_its_equations() -> None:
    for seed in range(5):
        attention, _, prompt, token = _draw(seed)
        built = appendix_b_construction(attention, prompt, token)
        # eq. 13 as read: the query of l's last token under theta' is t_0's under theta
        torch.testing.assert_close(
            prompt[:, -1:] @ built.query, token.unsqueeze(-2) @ attention.query,
            rtol=1e-10, atol=1e-10,
        )  # fmt: skip
        # eqs. 16-19 with E_l of full row rank: E_l W'_k = (I + C'C) E_l W_k
        C = token.unsqueeze(-2) @ torch.linalg.pinv(prompt)
        fold = torch.eye(prompt.shape[-2], dtype=prompt.dtype) + C.transpose(-1, -2) @ C
        torch.testing.assert_close(
            prompt @ built.key, fold @ prompt @ attention.key, rtol=1e-10, atol=1e-10
        )
        printed = appendix_b_construction(attention, prompt, token, as_printed=True)
        # as printed, e_t0 P = e_last: P maps t_0 onto the last prompt token
        P = printed.query @ torch.linalg.pinv(attention.query)
        torch.testing.assert_close(token.unsqueeze(-2) @ P, prompt[:, -1:], rtol=1e-8, atol=1e-8)


def test_with_a_full_prompt_the_least_squares_fit_is_exact() -> None:
    _, _, prompt, token = _draw(3, n=5, d=5)
    C = token.unsqueeze(-2) @ torch.linalg.pinv(prompt)
    torch.testing.assert_close(C @ prompt, token.unsqueeze(-2), rtol=1e-10, atol=1e-10)
