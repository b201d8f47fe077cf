"""Properties of family ``paper``: Proposition 2.1 on the one-layer transformer."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from trajcheck.core import Batch, Measurement, Outcome, Property, to_batch
from trajcheck_catalogue.models.norms import frobenius, norm
from trajcheck_catalogue.models.one_layer import (
    Attention,
    FeedForward,
    activation,
    appendix_b_construction,
    pseudo_inverse_witness,
)
from trajcheck_catalogue.properties.draws import Draws, drawn_by
from trajcheck_catalogue.theory import paper

#: Largest condition number of E_l drawn: beyond it "full row rank" is a matter of rounding.
MAX_CONDITION = 1e4


def transformer_and_prompt(draw: Draws) -> Batch:
    """A one-layer transformer (d, h), a prompt of n <= d tokens and a token t_0: Gaussian
    weights scaled by 1/sqrt(fan-in), each matrix drawn whole (entry by entry, Hypothesis
    would shrink it to a singular one), and prompts with cond(E_l) <= MAX_CONDITION."""
    d = draw.length(1, min(8, draw.profile.max_dimension))
    n = draw.length(1, d)
    h = draw.length(1, 8)
    scale = 1 / np.sqrt(d)
    params = {
        "prompt": draw.gaussians((n, d)),
        "token": draw.gaussians((d,)),
        "W_q": draw.gaussians((d, d), scale),
        "W_k": draw.gaussians((d, d), scale),
        "W_v": draw.gaussians((d, d), scale),
        "W_1": draw.gaussians((d, h), scale),
        "b_1": draw.gaussians((h,)),
        "W_2": draw.gaussians((h, d), 1 / np.sqrt(h)),
        "b_2": draw.gaussians((d,)),
    }
    draw.assume(torch.linalg.cond(params["prompt"]) <= MAX_CONDITION)
    return params


def _model(batch: Batch) -> tuple[Attention, FeedForward]:
    return (
        Attention(batch["W_q"], batch["W_k"], batch["W_v"]),
        FeedForward(batch["W_1"], batch["b_1"], batch["W_2"], batch["b_2"]),
    )


def measure_existence(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """M(E_l; theta') against M([E_l; t_0]; theta), coordinate by coordinate."""
    attention, ffn = _model(batch)
    prompt, token = batch["prompt"], batch["token"]
    with_token = torch.cat([prompt, token.unsqueeze(-2)], dim=-2)
    target = activation(attention, ffn, with_token)
    witness = pseudo_inverse_witness(attention, prompt, token)
    condition = torch.linalg.cond(prompt)
    output = attention(with_token)
    # the witness reproduces the attention output to cond(E_l) eps ||o||, which the
    # feed-forward net moves by up to its Lipschitz constant; both activations are then
    # rounded at the size of the feed-forward terms
    scale = condition * norm(output) * ffn.lipschitz() + ffn.output_terms(output)
    return Measurement(
        lhs=activation(witness, ffn, prompt),
        rhs=target,
        scale=scale,
        notes={"cond(E_l)": condition, "|l|": torch.full_like(condition, prompt.shape[-2])},
    )


def witness_study(outcome: Outcome) -> dict[str, Any]:
    """The witness at the tightest instance: what it is, and what it shows."""
    params = outcome.worst_params
    if params is None:
        return {"title": "The witness", "summary": "no instance to show"}
    batch = to_batch(params, torch.device("cpu"))
    attention, _ = _model(batch)
    witness = pseudo_inverse_witness(attention, batch["prompt"], batch["token"])
    value = witness.value[0]
    singular = torch.linalg.svdvals(value)
    rank = int((singular > singular[0] * 1e-12).sum()) if float(singular[0]) > 0 else 0
    rows = [
        ["W'_q", "W_q (unchanged)", float(frobenius(witness.query[0]))],
        ["W'_k", "0: every token of l gets weight 1/|l|", 0.0],
        ["W'_v", f"E_l^+ 1 o, rank {rank}", float(frobenius(value))],
    ]
    return {
        "title": "The witness",
        "summary": (
            f"At the tightest instance (d = {len(params['token'])}, |l| = "
            f"{len(params['prompt'])}): W'_k = 0 makes the attention uniform over the prompt, "
            "and W'_v = E_l^+ 1 o, of rank one, is built from o, the very attention output "
            "on [l; t_0] it has to reproduce. The witness exists for every theta, l and t_0 "
            "with E_l of full row rank, so the existence claim holds; it is no gradient step "
            "of any loss, and says nothing about whether t_0 acts like one."
        ),
        "table": {"columns": ["weight", "witness", "Frobenius norm"], "rows": rows},
    }


PROP21_EXISTENCE = Property(
    paper.PROP21_EXISTENCE,
    measure=measure_existence,
    dimension=lambda params: len(params["token"]),
    **drawn_by(transformer_and_prompt),
    model="one-layer-transformer",
    study=witness_study,
)


# paper.prop21_construction ---------------------------------------------------------------


def relative_error(batch: Batch, updated: Callable[..., Attention]) -> torch.Tensor:
    """||M(E_l; theta') - M([E_l; t_0]; theta)|| / ||M([E_l; t_0]; theta)||, (B,), with
    theta' = updated(attention, prompt, token)."""
    attention, ffn = _model(batch)
    prompt, token = batch["prompt"], batch["token"]
    target = activation(attention, ffn, torch.cat([prompt, token.unsqueeze(-2)], dim=-2))
    built = updated(attention, prompt, token)
    return norm(activation(built, ffn, prompt) - target) / norm(target)


def construction_error(batch: Batch, *, as_printed: bool = False) -> torch.Tensor:
    """The relative error of the Appendix B construction, (B,)."""
    return relative_error(batch, functools.partial(appendix_b_construction, as_printed=as_printed))


def measure_construction(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """relative error <= 1e-6."""
    error = construction_error(batch)
    return Measurement(
        lhs=error,
        rhs=torch.full_like(error, constants["max_relative_error"]),
        notes={"relative error": error, "|l|": torch.full_like(error, batch["prompt"].shape[-2])},
    )


def construction_study(outcome: Outcome) -> dict[str, Any]:
    """The construction's error at the counterexample under both readings of eq. 13, next
    to the existence witness's."""
    found = outcome.counterexample
    params = found.params if found else outcome.worst_params
    if params is None:
        return {"title": "The construction", "summary": "no instance to show"}
    batch = to_batch(params, torch.device("cpu"))
    witness_error = relative_error(batch, pseudo_inverse_witness)[0]
    rows = [
        ["App. B, eq. 13 read as e_last P = e_t0 (the claim)", float(construction_error(batch)[0])],
        ["App. B, eq. 13 as printed, e_t0 P = e_last",
         float(construction_error(batch, as_printed=True)[0])],
        ["existence witness (W'_k = 0, W'_v = E_l^+ 1 o)", float(witness_error)],
    ]  # fmt: skip
    return {
        "title": "The construction's error",
        "summary": (
            f"At the {'counterexample' if found else 'tightest instance'} (d = "
            f"{len(params['token'])}, |l| = {len(params['prompt'])}), the relative error of "
            "the activation under theta' against the activation on [l; t_0] under theta. The "
            "construction keeps |l| keys where [l; t_0] has |l| + 1, and no fixed fold of "
            "the extra token into the prompt reproduces the softmax weights it gets; the "
            "witness, built from the output itself, reproduces it to rounding."
        ),
        "table": {"columns": ["theta'", "relative error"], "rows": rows},
    }


PROP21_CONSTRUCTION = Property(
    paper.PROP21_CONSTRUCTION,
    measure=measure_construction,
    dimension=lambda params: len(params["token"]),
    **drawn_by(transformer_and_prompt),
    model="one-layer-transformer",
    study=construction_study,
)
