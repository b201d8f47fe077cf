"""Sketches: the figure a report draws of one instance (the counterexample, or the
tightest instance when the claim held), fitted to the claim's family.

Each sketch takes the instance as a batch of one (on the CPU) and returns figure data in
the format of ``trajcheck.core.Study``'s figures; the report draws it. Computed at verify
time from the same models the measures use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from trajcheck.core import Batch, Sketch
from trajcheck_catalogue.models.blocks import block_sweeps, sweeps_to_accuracy
from trajcheck_catalogue.models.inner_loop import unroll
from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.properties import builders
from trajcheck_catalogue.theory import convergence, descent, smoothing

Build = Callable[[Batch], Any]


def _figure(
    title: str, caption: str, x_label: str, y_label: str, series: list[dict[str, Any]],
    **options: Any,
) -> dict[str, Any]:  # fmt: skip
    return {
        "title": title,
        "caption": caption,
        "figure": {
            "kind": "lines",
            "x_label": x_label,
            "y_label": y_label,
            "panels": [{"title": "", "series": series}],
            **options,
        },
    }


def _floats(values: torch.Tensor) -> list[float]:
    return [float(v) for v in values.reshape(-1)]


# smoothing ---------------------------------------------------------------------------------


def spectral_filter_sketch(batch: Batch) -> dict[str, Any]:
    """g(l) = l (1 - a l)^(2K) over [0, max(L, 2/a)], and the eigenvalues of A on it."""
    spectrum = batch["spectrum"][0]
    a, K, L = float(batch["a"]), int(batch["K"]), float(spectrum.max())
    grid = torch.linspace(0.0, max(L, min(2 / a, 4 * L)), 400, dtype=torch.float64)
    return _figure(
        "Spectral filter of K inner steps",
        f"Each eigenvalue l of A becomes g(l) = l (1 - a l)^(2K) in Hess F_K (a*L = {a * L:.4g}, "
        f"K = {K}); the dashed line is L.",
        "eigenvalue l of A",
        "curvature of F_K",
        [
            {
                "label": "g(l)",
                "x": _floats(grid),
                "y": _floats(smoothing.spectral_filter(grid, a, K)),
            },
            {
                "label": "eigenvalues of A",
                "x": _floats(spectrum),
                "y": _floats(smoothing.spectral_filter(spectrum, a, K)),
                "style": "markers",
            },
        ],
        reference_y=L,
    )


def cosine_curvature_sketch(batch: Batch) -> dict[str, Any]:
    """The eigenvalues of Hess f(x) and of Hess F_1(x), beside L."""
    f, x, a = builders.cosine_sum(batch), batch["x"], batch["a"]
    before = torch.linalg.eigvalsh(f.hessian(x))[0]
    after = torch.linalg.eigvalsh(f.one_step_hessian(x, a))[0]
    index = [float(i + 1) for i in range(before.shape[0])]
    L = float(f.smoothness)
    return _figure(
        "Curvature before and after one inner step",
        f"Eigenvalues of Hess f(x) and of Hess F_1(x) = Hess (f o U_a)(x), "
        f"a*L = {float(a) * L:.4g}; the dashed line is L.",
        "eigenvalue index",
        "eigenvalue",
        [
            {"label": "Hess f(x)", "x": index, "y": _floats(before), "style": "markers"},
            {"label": "Hess F_1(x)", "x": index, "y": _floats(after), "style": "markers"},
        ],
        reference_y=L,
    )


# descent -----------------------------------------------------------------------------------


def step_sketch(build: Build) -> Sketch:
    """f along the gradient direction, f(x - s grad f(x)) for every step s in [0, 2/L] (the
    lemma's range), under the lemma's bound f(x) - s (1 - sL/2) ||g||^2; the instance's
    step a is marked."""

    def sketch(batch: Batch) -> dict[str, Any]:
        f, x, a = build(batch), batch["x"], float(batch["a"])
        g, L = f.grad(x), float(f.smoothness)
        steps = torch.linspace(0.0, 2 / L, 101, dtype=torch.float64)
        path = f.value(x - steps.unsqueeze(-1) * g)
        fx, grad_sq = float(f.value(x)), float((g * g).sum())
        bound = fx - steps * (1 - steps * L / 2) * grad_sq
        here = f.value(x - a * g)
        return _figure(
            "The loss along the gradient direction",
            f"f(x - s grad f(x)) against the descent lemma's bound for every step s in "
            f"[0, 2/L]; the marker is the instance's step (a*L = {a * L:.4g}).",
            "s*L (step size times L)",
            "loss",
            [
                {"label": "f along the step", "x": _floats(steps * L), "y": _floats(path)},
                {"label": "descent-lemma bound", "x": _floats(steps * L), "y": _floats(bound)},
                {"label": "the instance", "x": [a * L], "y": _floats(here), "style": "markers"},
            ],
        )

    return sketch


def error_sketch(build: Build, strongly_convex: bool) -> Sketch:
    """||x~_k - x_k|| step by step after an error e is injected at step j, against the
    claim's bound: q^(k-j) ||e|| (strongly convex) or ||e|| (the nonconvex conjecture)."""

    def sketch(batch: Batch) -> dict[str, Any]:
        f, a = build(batch), batch["a"]
        j, K = int(batch["j"]), int(batch["K"])
        x = unroll(f.inner_step, batch["x0"], a, torch.tensor([j]))
        perturbed = x + batch["error"]
        error = float(norm(batch["error"])[0])
        steps, gaps = [float(j)], [error]
        # a few steps past K when K - j is small, so that the trend shows
        for k in range(j, max(K, j + 8)):
            x, perturbed = f.inner_step(x, a), f.inner_step(perturbed, a)
            steps.append(float(k + 1))
            gaps.append(float(norm(perturbed - x)[0]))
        if strongly_convex:
            q = float(descent.contraction_factor(f.strong_convexity, f.smoothness, a))
            bound = [error * q ** (k - j) for k in steps]
        else:
            bound = [error] * len(steps)
        return _figure(
            "An injected error along the trajectory",
            f"Distance between the trajectory and its copy perturbed at step j = {j}, "
            f"against the claim's bound; the claim is checked at step K = {K}.",
            "inner step k",
            "||x~_k - x_k||",
            [
                {"label": "error", "x": steps, "y": gaps, "style": "markers-line"},
                {"label": "bound", "x": steps, "y": bound},
            ],
            log_y=True,
        )

    return sketch


# convergence -------------------------------------------------------------------------------


def convergence_sketch(build: Build, convex: bool) -> Sketch:
    """The loss gap f(x_k) - f* (convex) or the distance ||x_k - x*|| (strongly convex)
    at every step, against the claim's bound at that step."""

    def sketch(batch: Batch) -> dict[str, Any]:
        f, a, K = build(batch), batch["a"], int(batch["K"])
        if hasattr(f, "minimize"):
            minimizer, fstar, _ = f.minimize()
        else:
            minimizer, fstar = f.center, f.fstar
        x = batch["x0"]
        steps: list[float] = []
        measured: list[float] = []
        bound: list[float | None] = []
        R = float(norm(batch["x0"] - minimizer)[0])
        L = f.smoothness
        q = None if convex else float(descent.contraction_factor(f.strong_convexity, L, a))
        for k in range(K + 1):
            steps.append(float(k))
            if convex:
                measured.append(float(f.value(x) - fstar))
                bound.append(float(convergence.convex_gd_bound(L, R**2, k)) if k else None)
            else:
                measured.append(float(norm(x - minimizer)[0]))
                bound.append(float(convergence.linear_rate_bound(R, q, k)))
            x = f.inner_step(x, a)
        label = "f(x_k) - f*" if convex else "||x_k - x*||"
        return _figure(
            "Convergence along the trajectory",
            "The claim bounds the last step; the curve shows every step on the way "
            + ("(L R^2/(4k+2))." if convex else "(q^k R)."),
            "inner step k",
            label,
            [
                {"label": label, "x": steps, "y": measured, "style": "markers-line"},
                {"label": "bound", "x": steps, "y": bound},
            ],
            log_y=True,
        )

    return sketch


# decomposition -----------------------------------------------------------------------------


def interlacing_sketch(batch: Batch) -> dict[str, Any]:
    """The eigenvalues of A and of the sub-problem A_SS, sorted."""
    A = builders.quadratic(batch).hessian[0]
    inside = batch["subset"][0] > 0
    whole = torch.linalg.eigvalsh(A)
    sub = torch.linalg.eigvalsh(A[inside][:, inside])
    return _figure(
        "Eigenvalues of A and of the sub-problem A_SS",
        f"|S| = {int(inside.sum())} of d = {A.shape[0]}: the sub-problem's eigenvalues lie "
        "between lmin(A) and lmax(A).",
        "index (sorted)",
        "eigenvalue",
        [
            {"label": "A", "x": _indices(whole), "y": _floats(whole), "style": "markers"},
            {"label": "A_SS", "x": _indices(sub), "y": _floats(sub), "style": "markers"},
        ],
        log_y=True,
    )


def _indices(values: torch.Tensor) -> list[float]:
    return [float(i) for i in range(values.shape[-1])]


def block_descent_sketch(batch: Batch) -> dict[str, Any]:
    """f after every block update, with the sweeps on the x axis."""
    A, labels = builders.quadratic(batch).hessian, batch["blocks"].long()
    values, _ = block_sweeps(A, batch["x0"], labels, batch["K"])
    blocks = int(labels.max()) + 1
    return _figure(
        "The loss along block minimization",
        f"f after each block update ({blocks} blocks a sweep).",
        "sweeps",
        "f(x) - f*",
        [
            {
                "label": "f",
                "x": [i / blocks for i in range(values.shape[-1])],
                "y": _floats(values),
                "style": "markers-line",
            }
        ],
        log_y=True,
    )


def block_solve_sketch(batch: Batch) -> dict[str, Any]:
    """f(x_s)/f(x_0) sweep by sweep until it reaches eps (or the cost passes Cholesky's)."""
    A, labels = builders.quadratic(batch).hessian, batch["blocks"].long()
    accuracy = 10.0 ** -float(batch["digits"])
    needed, _ = sweeps_to_accuracy(
        A, batch["x0"], labels, A.new_tensor([accuracy]), torch.tensor([64])
    )
    shown = max(int(needed), 1)
    values, _ = block_sweeps(A, batch["x0"], labels, torch.tensor([shown]))
    blocks = int(labels.max()) + 1
    ratio = values[0, ::blocks] / values[0, 0]
    return _figure(
        "Block minimization sweep by sweep",
        f"f(x_s)/f(x_0) after each sweep; the dashed line is eps = {accuracy:g}.",
        "sweeps s",
        "f(x_s) / f(x_0)",
        [
            {
                "label": "f(x_s)/f(x_0)",
                "x": _indices(ratio),
                "y": _floats(ratio),
                "style": "markers-line",
            }
        ],
        log_y=True,
        reference_y=accuracy,
    )
