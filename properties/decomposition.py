"""Properties of family ``decomposition``: sub-problems of a positive definite quadratic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from trajcheck.core import Batch, Measurement, Outcome, Property
from trajcheck_catalogue.models.blocks import (
    block_sizes,
    block_sweeps,
    spectral_radius,
    sweep_error_map,
    sweeps_to_accuracy,
)
from trajcheck_catalogue.models.quadratic import eigenvalues
from trajcheck_catalogue.properties import builders
from trajcheck_catalogue.properties.draws import Draws, drawn_by
from trajcheck_catalogue.properties.sketches import (
    block_descent_sketch,
    block_solve_sketch,
    interlacing_sketch,
)
from trajcheck_catalogue.properties.strategies import (
    dimension_of,
    draw_positive_definite,
    steps_of,
)
from trajcheck_catalogue.theory import decomposition

# decomposition.interlacing -------------------------------------------------------------


def subproblem(draw: Draws) -> Batch:
    """A positive definite A (d >= 2) and the mask (0/1 per coordinate) of a proper
    index set S."""
    params = draw_positive_definite(draw, min_dimension=2)
    params["subset"] = draw.subset_masks(params["spectrum"].shape[-1], proper=True)
    return params


def restricted_extremes(hessian: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(lmin, lmax) of A_SS for a batch of masks, (B, 2).

    Batched without indexing: A_SS is kept on S and the rest of the matrix is replaced
    by c I, with c = A_ii for the first i in S. That c is a Rayleigh quotient of A_SS, so
    it lies in [lmin(A_SS), lmax(A_SS)] and the extremes are those of A_SS alone.
    """
    first = mask.argmax(dim=-1)
    c = hessian.diagonal(dim1=-2, dim2=-1).gather(-1, first.unsqueeze(-1))
    outer = mask.unsqueeze(-1) * mask.unsqueeze(-2)
    padded = hessian * outer + torch.diag_embed((1 - mask) * c)
    spectrum = eigenvalues(padded)
    return torch.stack([spectrum[..., 0], spectrum[..., -1]], dim=-1)


def measure_interlacing(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """lmin(A) <= lmin(A_SS), lmax(A_SS) <= lmax(A), cond(A_SS) <= factor * cond(A)."""
    A = builders.quadratic(batch).hessian
    whole = eigenvalues(A)
    lmin, lmax = whole[..., 0], whole[..., -1]
    sub = restricted_extremes(A, batch["subset"])
    cond, sub_cond = lmax / lmin, sub[..., 1] / sub[..., 0]
    return Measurement(
        lhs=torch.stack([lmin, sub[..., 1], sub_cond], dim=-1),
        rhs=torch.stack([sub[..., 0], lmax, constants["factor"] * cond], dim=-1),
        scale=torch.stack([lmax, lmax, cond**2], dim=-1),
        parts=("lmin(A) <= lmin(A_SS)", "lmax(A_SS) <= lmax(A)", "cond(A_SS) <= cond(A)"),
        notes={"cond(A)": cond, "cond(A_SS)": sub_cond, "|S|": batch["subset"].sum(-1)},
    )


INTERLACING = Property(
    decomposition.INTERLACING, measure=measure_interlacing, dimension=dimension_of,
    **drawn_by(subproblem),
    model="quadratic", sketch=interlacing_sketch,
)  # fmt: skip


# decomposition.block_descent -------------------------------------------------------------


def block_problem(draw: Draws, *, min_blocks: int = 1, favour_smallest: bool = False) -> Batch:
    """A positive definite A, a partition into blocks and a start x_0 (x* = 0)."""
    params = draw_positive_definite(draw, min_dimension=min_blocks, favour_smallest=favour_smallest)
    d = params["spectrum"].shape[-1]
    params["blocks"] = draw.partitions(d, min_blocks=min_blocks)
    params["x0"] = draw.vectors(d)
    return params


#: Sweeps per example: each update is an exact block minimization from wherever the
#: iterate is, and random starts already reach the points later sweeps would; more sweeps
#: only cost time (one Python-level update per block and sweep).
MAX_SWEEPS = 8


def block_descent(draw: Draws) -> Batch:
    params = block_problem(draw)
    params["K"] = draw.integers(1, max(1, min(MAX_SWEEPS, draw.profile.max_steps)))
    return params


def measure_block_descent(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """f(x_{k+1}) <= f(x_k) at every block update (the worst one), and rho(M) <= 1."""
    A, labels = builders.quadratic(batch).hessian, batch["blocks"].long()
    L = batch["spectrum"].max(dim=-1).values
    values, norms_sq = block_sweeps(A, batch["x0"], labels, batch["K"])
    before, after, scale = values[..., :-1], values[..., 1:], L.unsqueeze(-1) * norms_sq[..., :-1]
    slack = (before - after) / torch.clamp(torch.maximum(before, scale), min=1e-300)
    worst = slack.argmin(dim=-1, keepdim=True)
    rho = spectral_radius(sweep_error_map(A, labels))
    one = torch.ones_like(rho)
    return Measurement(
        lhs=torch.stack([after.gather(-1, worst).squeeze(-1), rho], dim=-1),
        rhs=torch.stack([before.gather(-1, worst).squeeze(-1), one], dim=-1),
        scale=torch.stack([scale.gather(-1, worst).squeeze(-1), one], dim=-1),
        parts=("f(x_k+1) <= f(x_k)", "rho(M) <= 1"),
        notes={"rho(M)": rho, "blocks": labels.max(dim=-1).values + 1.0},
    )


BLOCK_DESCENT = Property(
    decomposition.BLOCK_DESCENT, measure=measure_block_descent, dimension=dimension_of,
    **drawn_by(block_descent),
    model="quadratic", steps=steps_of, sketch=block_descent_sketch,
)  # fmt: skip


# decomposition.cheaper -------------------------------------------------------------------


def block_solve(draw: Draws) -> Batch:
    digits = draw.integers(1, 12)  # before the lists whose length depends on d
    params = block_problem(draw, min_blocks=2, favour_smallest=True)
    params["digits"] = digits
    return params


def block_cost(
    A: torch.Tensor, z0: torch.Tensor, labels: torch.Tensor, accuracy: torch.Tensor,
    ceiling: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Flops of block minimization to f(x_s) <= accuracy f(x_0), counted until the cost
    passes ``ceiling`` (B,): (flops, sweeps, whether the accuracy was reached)."""
    sizes = block_sizes(labels)
    setup = A.new_tensor([decomposition.block_setup_flops(s) for s in sizes])
    per_sweep = A.new_tensor([decomposition.block_sweep_flops(s) for s in sizes])
    cap = (torch.floor((ceiling - setup) / per_sweep) + 1).clamp(min=0).long()
    sweeps, reached = sweeps_to_accuracy(A, z0, labels, accuracy, cap)
    return setup + sweeps * per_sweep, sweeps, reached


def measure_cheaper(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """flops(block minimization to eps) <= flops(one Cholesky solve)."""
    A, labels = builders.quadratic(batch).hessian, batch["blocks"].long()
    direct = decomposition.cholesky_solve_flops(A.new_tensor(float(A.shape[-1]))).expand(A.shape[0])
    accuracy = 10.0 ** (-batch["digits"].to(A.dtype))
    flops, sweeps, reached = block_cost(A, batch["x0"], labels, accuracy, direct)
    return Measurement(
        lhs=flops,
        rhs=direct,
        notes={
            "sweeps": sweeps.to(A.dtype),
            "reached eps": reached.to(A.dtype),
            "cost ratio": flops / direct,
            "blocks": labels.max(dim=-1).values + 1.0,
        },
    )


#: The grid of the cost map: dimensions, block-size rules and condition numbers.
MAP_DIMENSIONS = (4, 8, 16, 32, 64, 128)
MAP_BLOCK_RULES = (("size 1", lambda n: 1), ("size 4", lambda n: 4), ("2 blocks", lambda n: n // 2))
MAP_CONDITIONS = (2.0, 10.0, 100.0, 1000.0)
MAP_DRAWS = 4
MAP_DIGITS = 6
#: The map stops counting sweeps once block minimization costs this many direct solves.
MAP_CEILING = 100.0


def _map_problems(n: int, rng: np.random.Generator) -> list[tuple[str, float, list[int], Any]]:
    """The map's instances in dimension n: (rule, cond, labels, A) for every grid point
    and draw. A = Q diag(s) Q', Q Haar, s log-uniform in [1/cond, 1] with both ends."""
    problems = []
    for rule, size_of in MAP_BLOCK_RULES:
        size = size_of(n)
        if n // size < 2:  # the claim is about two blocks or more
            continue
        labels = [i // size for i in range(n)]
        for cond in MAP_CONDITIONS:
            for _ in range(MAP_DRAWS):
                spectrum = np.exp(rng.uniform(-np.log(cond), 0.0, n))
                spectrum[:2] = (1.0, 1.0 / cond)
                q, r = np.linalg.qr(rng.standard_normal((n, n)))
                q = q * np.sign(np.diag(r))
                problems.append((rule, cond, labels, (q * spectrum) @ q.T))
    return problems


def block_cost_map(outcome: Outcome) -> dict[str, Any]:
    """Where solving by blocks is cheaper: the cost ratio (block flops / direct flops)
    over dimension, block size and condition number, median of a few seeded draws, at
    eps = 1e-6. Independent of the search; seeded, so two runs give the same map."""
    rng = np.random.default_rng(20505198)  # fixed: the map is a property of the claim
    rows: list[dict[str, Any]] = []
    for n in MAP_DIMENSIONS:
        problems = _map_problems(n, rng)
        A = torch.tensor(np.stack([p[3] for p in problems]), dtype=torch.float64)
        A = (A + A.transpose(-1, -2)) / 2
        labels = torch.tensor([p[2] for p in problems])
        z0 = torch.tensor(rng.standard_normal((len(problems), n)), dtype=torch.float64)
        direct = torch.full((len(problems),), float(decomposition.cholesky_solve_flops(n)))
        accuracy = torch.full_like(direct, 10.0**-MAP_DIGITS)
        flops, sweeps, reached = block_cost(A, z0, labels, accuracy, MAP_CEILING * direct)
        ratio = (flops / direct).numpy()
        for start in range(0, len(problems), MAP_DRAWS):
            rule, cond, labels_n, _ = problems[start]
            draws = slice(start, start + MAP_DRAWS)
            rows.append(
                {
                    "n": n,
                    "blocks": rule,
                    "block size": n // (max(labels_n) + 1),
                    "cond": cond,
                    "sweeps": float(np.median(sweeps[draws].numpy())),
                    "cost ratio": float(np.median(ratio[draws])),
                    "cheaper in": f"{int((ratio[draws] < 1).sum())}/{MAP_DRAWS}",
                    "capped": bool((~reached[draws]).any()),
                }
            )
    cheaper = [r for r in rows if r["cost ratio"] < 1]
    summary = (
        f"Block minimization to eps = 1e-{MAP_DIGITS} is cheaper than one Cholesky solve at "
        f"{len(cheaper)} of {len(rows)} grid points (median of {MAP_DRAWS} Haar-rotated "
        f"draws each); ratios past {MAP_CEILING:g} are capped."
    )
    if cheaper:
        smallest = min(r["n"] for r in cheaper)
        summary += f" The smallest dimension where it holds somewhere is n = {smallest}."
    panels = [
        {
            "title": f"cond(A) = {cond:g}",
            "series": [
                {
                    "label": rule,
                    "x": [r["n"] for r in rows if r["cond"] == cond and r["blocks"] == rule],
                    "y": [
                        r["cost ratio"] for r in rows if r["cond"] == cond and r["blocks"] == rule
                    ],
                }
                for rule, _ in MAP_BLOCK_RULES
            ],
        }
        for cond in MAP_CONDITIONS
    ]
    columns = list(rows[0])
    return {
        "title": "Cost map: block minimization / Cholesky",
        "summary": summary,
        "table": {"columns": columns, "rows": [[r[c] for c in columns] for r in rows]},
        "figure": {
            "kind": "lines",
            "x_label": "dimension n",
            "y_label": "flops ratio (block / direct)",
            "log_x": True,
            "log_y": True,
            "reference_y": 1.0,
            "share_y": True,
            "panels": panels,
        },
    }


CHEAPER = Property(
    decomposition.CHEAPER, measure=measure_cheaper, dimension=dimension_of, model="quadratic",
    **drawn_by(block_solve),
    study=block_cost_map, sketch=block_solve_sketch,
)  # fmt: skip
