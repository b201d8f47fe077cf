"""Properties of family ``icl``: linear self-attention as gradient descent in context."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from trajcheck.core import (
    Batch,
    Frontier,
    Measurement,
    Outcome,
    Params,
    Profile,
    Property,
    census_sentence,
)
from trajcheck.interrupts import checkpoint
from trajcheck_catalogue.models.lsa import (
    RegressionTasks,
    compare_with_gradient_descent,
    context_losses,
    gradient_step_weights,
    lsa_layer,
    train_lsa_ensemble,
)
from trajcheck_catalogue.models.norms import frobenius, norm
from trajcheck_catalogue.models.quadratic import lmax as largest_eigenvalue
from trajcheck_catalogue.properties.draws import Draws, drawn_by
from trajcheck_catalogue.properties.strategies import steps_of
from trajcheck_catalogue.theory import icl

log = logging.getLogger(__name__)


def data_curvature(params: Params) -> float:
    """lmax(X'X/N) of drawn inputs: the smoothness of the in-context loss."""
    X = np.array(params["inputs"])
    return float(np.linalg.eigvalsh(X.T @ X / len(X))[-1])


def regression_in_context(draw: Draws, *, max_eta_lmax: float) -> Batch:
    """N context pairs (x_i, y_i), a query x_q, a start W_0, K layers and a step eta with
    eta * lmax(X'X/N) in (0, max_eta_lmax], at its top half of the time."""
    d = draw.dimension()
    m = draw.length(1, 2)
    N = draw.length(1, 16)
    inputs = draw.floats(-3.0, 3.0, (N, d))
    params = {
        "inputs": inputs,
        "targets": draw.floats(-3.0, 3.0, (N, m)),
        "query": draw.vectors(d, 3.0),
        "W0": draw.floats(-3.0, 3.0, (m, d)),
        "K": draw.steps(min_steps=1),
    }
    lmax = largest_eigenvalue(inputs.transpose(-1, -2) @ inputs / N)
    draw.assume(lmax > 1e-6)  # inputs that are all zero leave no loss to descend
    params["eta"] = draw.up_to_the_boundary() * max_eta_lmax / lmax
    return params


def _tasks(batch: Batch) -> RegressionTasks:
    return RegressionTasks(batch["inputs"], batch["targets"], batch["query"])


def run_layers(batch: Batch) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """K layers of the construction and K gradient steps side by side: the query slots,
    the context losses and the iterates W_k, for k = 0..K (instances past their own K
    repeat their last layer)."""
    tasks, W0, eta, K = _tasks(batch), batch["W0"], batch["eta"], batch["K"]
    d = tasks.inputs.shape[-1]
    weights = gradient_step_weights(W0, eta, tasks.count)
    context, query = tasks.tokens(W0)
    slots, losses, iterates, W = [query[:, d:]], [context_losses(context, W0, d)], [W0], W0
    for k in range(int(K.max().item())):
        active = k < K
        new_context, new_query = lsa_layer(weights, context, query)
        context = torch.where(active.view(-1, 1, 1), new_context, context)
        query = torch.where(active.view(-1, 1), new_query, query)
        W = torch.where(active.view(-1, 1, 1), tasks.gradient_step(W, eta), W)
        slots.append(query[:, d:])
        losses.append(context_losses(context, W0, d))
        iterates.append(W)
    return slots, losses, iterates


# icl.lsa_equals_gd -----------------------------------------------------------------------


def measure_lsa_equals_gd(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """The query's y-slot after K layers against -W_K x_q, coordinate by coordinate."""
    tasks, eta, K = _tasks(batch), batch["eta"], batch["K"]
    slots, _, iterates = run_layers(batch)
    x_q = tasks.queries
    target = -torch.einsum("bmd,bd->bm", iterates[-1], x_q)
    input_norms = norm(tasks.inputs)  # (B, N)
    sizes = []
    for W in iterates:
        residual = norm(torch.einsum("bmd,bnd->bnm", W, tasks.inputs) - tasks.targets)
        step = eta / tasks.count * (residual * input_norms).sum(-1)
        sizes.append(frobenius(W) + step)
    scale = K.to(x_q.dtype) * torch.stack(sizes).max(dim=0).values * norm(x_q)
    return Measurement(
        lhs=slots[-1],
        rhs=target,
        scale=scale,
        notes={"eta*lmax": eta * tasks.curvature(), "K": K.to(x_q.dtype)},
    )


LSA_EQUALS_GD = Property(
    icl.LSA_EQUALS_GD,
    measure=measure_lsa_equals_gd,
    dimension=lambda params: len(params["query"]),
    **drawn_by(partial(regression_in_context, max_eta_lmax=2.0)),
    model="linear-self-attention",
    steps=steps_of,
)


# icl.trajectory_descent and its any-step variant -----------------------------------------


def measure_layer_descent(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """L(W_{k+1}) <= L(W_k) for every layer, read from the context tokens."""
    tasks, W0 = _tasks(batch), batch["W0"]
    _, losses, _ = run_layers(batch)
    # y_i^(k) = y_i + (W_0 - W_k) x_i, so |W_0 x_i| + |y_i^(k)| <= 2(|W_0 x_i| + |y_i|) +
    # |W_k x_i - y_i|: the terms the residual subtracts are, squared and averaged, of the
    # size of (|W_0 x_i| + |y_i|)^2 and of L(W_k), to a factor 4 that the rtol's margin
    # over (N + d) eps absorbs
    fitted = norm(torch.einsum("bmd,bnd->bnm", W0, tasks.inputs))
    base = 0.5 * ((fitted + norm(tasks.targets)) ** 2).sum(-1) / tasks.count
    before, after = torch.stack(losses[:-1], dim=-1), torch.stack(losses[1:], dim=-1)
    return Measurement(
        lhs=after,
        rhs=before,
        scale=base.unsqueeze(-1) + before,
        notes={"eta*lmax": batch["eta"] * tasks.curvature()},
    )


def layer_losses_sketch(batch: Batch) -> dict[str, Any]:
    """The in-context loss after each layer (read from the context tokens)."""
    _, losses, _ = run_layers(batch)
    eta_lmax = float(batch["eta"] * _tasks(batch).curvature())
    return {
        "title": "The in-context loss layer by layer",
        "caption": (
            f"L(W_k) read from the context tokens after k layers, eta*lmax = {eta_lmax:.4g}."
        ),
        "figure": {
            "kind": "lines",
            "x_label": "layers k",
            "y_label": "L(W_k)",
            "log_y": True,
            "panels": [
                {
                    "title": "",
                    "series": [
                        {
                            "label": "in-context loss",
                            "x": [float(k) for k in range(len(losses))],
                            "y": [float(v) for v in losses],
                            "style": "markers-line",
                        }
                    ],
                }
            ],
        },
    }


TRAJECTORY_DESCENT = Property(
    icl.TRAJECTORY_DESCENT,
    measure=measure_layer_descent,
    dimension=lambda params: len(params["query"]),
    **drawn_by(partial(regression_in_context, max_eta_lmax=2.0)),
    model="linear-self-attention",
    steps=steps_of,
    sketch=layer_losses_sketch,
)

TRAJECTORY_DESCENT_ANY_STEP = Property(
    icl.TRAJECTORY_DESCENT_ANY_STEP,
    measure=measure_layer_descent,
    dimension=lambda params: len(params["query"]),
    **drawn_by(partial(regression_in_context, max_eta_lmax=4.0)),
    model="linear-self-attention",
    steps=steps_of,
    frontier=Frontier(
        parameter="eta",
        label="eta*lmax",
        safe=lambda params: 1.0 / data_curvature(params),
        report=lambda params, eta: eta * data_curvature(params),
    ),
    sketch=layer_losses_sketch,
)


# icl.trained_lsa -------------------------------------------------------------------------


#: Training runs per census, by profile (another profile's name gets the ``ci`` count).
TRAINING_RUNS = {"ci": 16, "default": 32, "thorough": 128}

#: d and N of a run: the members of one ensemble share d (the weights' shape); N varies
#: inside it (contexts padded with (0, 0) tokens, which change no prediction).
DIMENSIONS, CONTEXTS = (2, 4), (8, 16)


def _training_runs(profile: Profile) -> int:
    return TRAINING_RUNS.get(profile.name, TRAINING_RUNS["ci"])


@st.composite
def _training_run(draw: st.DrawFn, profile: Profile) -> Params:
    return {
        "d": draw(st.integers(*DIMENSIONS)),
        "N": draw(st.integers(*CONTEXTS)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def sample_training_runs(
    count: int, generator: torch.Generator, profile: Profile, device: torch.device
) -> Batch:
    """``count`` independent runs: d and N uniform in their ranges, the seed in [0, 2^31)."""
    return {
        "d": torch.randint(DIMENSIONS[0], DIMENSIONS[1] + 1, (count,), generator=generator),
        "N": torch.randint(CONTEXTS[0], CONTEXTS[1] + 1, (count,), generator=generator),
        "seed": torch.randint(0, 2**31, (count,), generator=generator),
    }


#: Each run's comparison with gradient descent, by (d, N, seed) and device: a census
#: trains its runs together once (``prepare``), the measure reads them here.
_COMPARISONS: dict[tuple[int, int, int, str], dict[str, float]] = {}


def train_runs(runs: list[tuple[int, int, int]], device: torch.device) -> None:
    """Train the runs not trained yet on ``device``: those of one d as one ensemble."""
    todo = [r for r in dict.fromkeys(runs) if (*r, str(device)) not in _COMPARISONS]
    for d in sorted({r[0] for r in todo}):
        started = time.perf_counter()
        members = [r for r in todo if r[0] == d]
        Ns, seeds = [r[1] for r in members], [r[2] for r in members]
        models = train_lsa_ensemble(d, Ns, seeds, device, on_step=lambda _: checkpoint())
        for (_, N, seed), model in zip(members, models, strict=True):
            _COMPARISONS[(d, N, seed, str(device))] = compare_with_gradient_descent(
                model, d, N, seed, device
            )
        log.info(
            "icl.trained_lsa: trained %d layers (d=%d) as one ensemble in %.1f s",
            len(members),
            d,
            time.perf_counter() - started,
        )


def _run(params: Params) -> tuple[int, int, int]:
    return int(params["d"]), int(params["N"]), int(params["seed"])


def measure_trained_lsa(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """cosine >= min_cosine and gap <= max_gap, for each training run of the batch."""
    device = batch["seed"].device
    runs = [(int(d), int(N), int(s)) for d, N, s in
            zip(batch["d"], batch["N"], batch["seed"], strict=True)]  # fmt: skip
    train_runs(runs, device)
    rows = [_COMPARISONS[(*run, str(device))] for run in runs]
    cosine = torch.tensor([r["cosine"] for r in rows], dtype=torch.float64)
    gap = torch.tensor([r["gap"] for r in rows], dtype=torch.float64)
    eta = torch.tensor([r["eta"] for r in rows], dtype=torch.float64)
    return Measurement(
        lhs=torch.stack([torch.full_like(cosine, constants["min_cosine"]), gap], dim=-1),
        rhs=torch.stack([cosine, torch.full_like(gap, constants["max_gap"])], dim=-1),
        parts=("cosine >= 0.99", "gap <= 5 %"),
        notes={"cosine": cosine, "gap": gap, "fitted eta": eta},
    )


def trained_lsa_study(outcome: Outcome) -> dict[str, Any]:
    """Every run of the census: its cosine and gap, and the two against each other."""
    census = outcome.census or {"instances": []}
    entries = census["instances"]
    rows = [[e["params"]["d"], e["params"]["N"], e["params"]["seed"], e["notes"]["cosine"],
             e["notes"]["gap"], e["notes"]["fitted eta"], "yes" if e["violated"] else "no"]
            for e in entries]  # fmt: skip
    panels = [{"title": "", "series": [
        {"label": f"d = {d}", "style": "markers",
         "x": [e["notes"]["cosine"] for e in entries if e["params"]["d"] == d],
         "y": [e["notes"]["gap"] for e in entries if e["params"]["d"] == d]}
        for d in sorted({e["params"]["d"] for e in entries})]}]  # fmt: skip
    return {
        "title": "Trained layers against one gradient step, run by run",
        "summary": (
            f"The claim {census_sentence(census)}; verdict rule, fixed before the run: "
            f"{census.get('rule', '')}. Each run: Adam 1e-3, batch 512, 4000 steps, the "
            "runs of one d trained together as an ensemble. A stalled run (W_K'W_Q of "
            "rank one) sits at cosine 0.5-0.7 and a gap above 100 %."
        ),
        "table": {
            "columns": ["d", "N", "seed", "cosine", "gap", "fitted eta", "fails"],
            "rows": rows,
        },
        "figure": {
            "kind": "lines",
            "x_label": "mean cosine similarity",
            "y_label": "relative prediction gap",
            "log_y": True,
            "reference_y": 0.05,
            "panels": panels,
        },
    }


TRAINED_LSA = Property(
    icl.TRAINED_LSA,
    _training_run,
    measure_trained_lsa,
    lambda params: params["d"],
    model="trained-layer",
    study=trained_lsa_study,
    max_examples=_training_runs,
    rounding_check=False,
    census=True,
    sample=sample_training_runs,
    prepare=lambda params, device: train_runs([_run(p) for p in params], device),
)
