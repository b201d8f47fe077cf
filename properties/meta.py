"""Properties of family ``meta``: the MAML gradient, its first-order error, and the
initialization that meta-learning finds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from trajcheck.core import Batch, Measurement, Outcome, Property
from trajcheck_catalogue.models.inner_loop import (
    Hessian,
    Loss,
    autograd_step,
    chain_rule_gradient,
    unrolled_gradient,
)
from trajcheck_catalogue.models.maml import (
    QuadraticTasks,
    TaskDistribution,
    maml_initialization_cvxpy,
)
from trajcheck_catalogue.models.mlp import MLPRegression, parameter_count
from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.properties import builders
from trajcheck_catalogue.properties.draws import Draws, drawn_by
from trajcheck_catalogue.properties.strategies import (
    SMOOTHNESS_RANGE,
    dimension_of,
    draw_cosine_sum,
    draw_quadratic,
    steps_of,
    toward_an_eigenvector,
)
from trajcheck_catalogue.theory import meta

#: The network's K is capped: each inner step costs a Hessian from torch.func.
NETWORK_MAX_STEPS = 8
#: K for quadratics and cosine sums: reverse mode through 64 nested gradients costs
#: seconds a hundred examples, and the rounding the tolerance accounts for is per step.
MAX_STEPS = 16


def _inner_steps(draw: Draws, min_steps: int, cap: int) -> torch.Tensor:
    return draw.integers(min_steps, max(min_steps, min(cap, draw.profile.max_steps)))


def quadratic_loop(draw: Draws) -> Batch:
    """A quadratic, x_0, a with a L in (0, 2] and K in [1, MAX_STEPS]."""
    params = draw_quadratic(draw)
    params["x0"] = toward_an_eigenvector(
        draw, params, draw.vectors(params["spectrum"].shape[-1]), 10.0
    )
    params["a"] = draw.step_fractions(2.0) / params["spectrum"][:, 0]
    params["K"] = _inner_steps(draw, 1, MAX_STEPS)
    return params


def cosine_loop(draw: Draws) -> Batch:
    """A cosine sum, x_0, a with a L in (0, 2] and K in [1, MAX_STEPS]."""
    params = draw_cosine_sum(draw)
    params["x0"] = draw.vectors(params["freq"].shape[-1], bound=4.0)
    params["a"] = draw.step_fractions(2.0) / builders.cosine_sum(params).smoothness
    params["K"] = _inner_steps(draw, 1, MAX_STEPS)
    return params


def network_loop(draw: Draws) -> Batch:
    """A tanh network with p inputs and h hidden units, n samples, theta_0, a and K."""
    p, h, n = draw.length(1, 2), draw.length(1, 4), draw.length(1, 6)
    return {
        "inputs": draw.floats(-2.0, 2.0, (n, p)),
        "targets": draw.vectors(n, 2.0),
        "x0": draw.vectors(parameter_count(p, h), 2.0),
        "a": draw.step_fractions(1.0),
        "K": _inner_steps(draw, 1, NETWORK_MAX_STEPS),
    }


def _quadratic_model(batch: Batch) -> tuple[Loss, Hessian]:
    f = builders.quadratic(batch)
    return f.value, lambda x: f.hessian


def _cosine_model(batch: Batch) -> tuple[Loss, Hessian]:
    f = builders.cosine_sum(batch)
    return f.value, f.hessian


def _network_model(batch: Batch) -> tuple[Loss, Hessian]:
    f = MLPRegression(batch["inputs"], batch["targets"])
    return f.value, f.hessian


def gradient_identity(model: Callable[[Batch], tuple[Loss, Hessian]]) -> Any:
    """The measure of meta.gradient_identity on one model: both gradients, per coordinate."""

    def measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
        loss, hessian = model(batch)
        x0, a, K = batch["x0"], batch["a"], batch["K"]
        autodiff = unrolled_gradient(loss, x0, a, K)
        closed, scale = chain_rule_gradient(
            loss, hessian, x0, a, K, first_on_the_left=constants["order"] > 0
        )
        gap = norm(autodiff - closed) / torch.clamp(norm(closed), min=1e-300)
        return Measurement(lhs=autodiff, rhs=closed, scale=scale, notes={"relative gap": gap})

    return measure


# The cosine sums and the network come first: their Hessians differ from step to step,
# so they refute the reversed-product mutant, which no quadratic (one Hessian) can.
GRADIENT_IDENTITY_COSINE = Property(
    meta.GRADIENT_IDENTITY, measure=gradient_identity(_cosine_model),
    **drawn_by(cosine_loop),
    dimension=lambda params: len(params["x0"]), model="cosine", steps=steps_of,
)  # fmt: skip
GRADIENT_IDENTITY_NETWORK = Property(
    meta.GRADIENT_IDENTITY, measure=gradient_identity(_network_model),
    **drawn_by(network_loop),
    dimension=lambda params: len(params["x0"]), model="tanh-network", steps=steps_of,
)  # fmt: skip

GRADIENT_IDENTITY_QUADRATIC = Property(
    meta.GRADIENT_IDENTITY, measure=gradient_identity(_quadratic_model),
    **drawn_by(quadratic_loop),
    dimension=dimension_of, model="quadratic", steps=steps_of,
)  # fmt: skip


# meta.first_order_error ------------------------------------------------------------------


def first_order_error(model: Callable[[Batch], Any]) -> Any:
    """The measure of meta.first_order_error: ||grad F_1 - grad f(U_a(x))|| against
    a L ||grad f(U_a(x))||, with grad F_1 by autodiff through the step."""

    def measure(batch: Batch, constants: Mapping[str, float]) -> Measurement:
        f = model(batch)
        x0, a, L = batch["x0"], batch["a"], f.smoothness
        maml = unrolled_gradient(f.value, x0, a, torch.ones_like(batch["K"]))
        stepped = autograd_step(f.value, x0, a)
        after = torch.func.grad(lambda y: f.value(y).sum())(stepped)
        after_norm = norm(after)
        # The rounding of both gradients before they cancel: grad f(U_a(x)) is computed
        # from U_a(x) = x - a grad f(x), itself rounded at the size of x and of the
        # terms of grad f(x), and H moves what it is given by up to L. Scaled by
        # ||grad f(U_a(x))|| alone it vanished where that gradient cancels exactly, and
        # rounding residues of 1e-17 read as a violation of the 0.99 a L mutant.
        terms = f.gradient_terms(stepped) + L * norm(x0) + 2 * a * L * f.gradient_terms(x0)
        return Measurement(
            lhs=norm(maml - after),
            rhs=meta.first_order_error_bound(a, L, after_norm, constants["factor"]),
            scale=(2 + a * L) * (after_norm + terms),
            notes={"a*L": a * L},
        )

    return measure


FIRST_ORDER_ERROR_QUADRATIC = Property(
    meta.FIRST_ORDER_ERROR, measure=first_order_error(builders.quadratic),
    **drawn_by(quadratic_loop),
    dimension=dimension_of, model="quadratic", steps=steps_of,
)  # fmt: skip
FIRST_ORDER_ERROR_COSINE = Property(
    meta.FIRST_ORDER_ERROR, measure=first_order_error(builders.cosine_sum),
    **drawn_by(cosine_loop),
    dimension=lambda params: len(params["x0"]), model="cosine", steps=steps_of,
)  # fmt: skip


# meta.initialization ---------------------------------------------------------------------

HELD_OUT = 512
#: The sweep's instances at most: each samples HELD_OUT tasks from its own seed, one
#: instance at a time (a few hundred a second here), so 10^4 already cost seconds.
SWEPT_DISTRIBUTIONS = 10_000
#: Streams of the task generator: training tasks and held-out tasks never share draws.
TRAIN_STREAM, HELD_OUT_STREAM = 0, 1


def task_distribution(draw: Draws) -> Batch:
    """A distribution of quadratic tasks, a training draw (seed, count) and the loop. The
    tasks themselves are drawn by the measure, from the instance's seed (numpy), one
    instance at a time: a sweep of this family is as fast as its measure's loop."""
    d = draw.length(1, min(8, draw.profile.max_dimension))
    return {
        "mean": draw.vectors(d),
        "spread": draw.floats(0.1, 10.0),
        "tilt": draw.floats(0.0, 10.0),
        "L": draw.floats(*SMOOTHNESS_RANGE),
        "low": draw.floats(0.01, 1.0),
        "s": draw.step_fractions(0.5),
        "K": draw.integers(1, max(1, min(8, draw.profile.max_steps))),
        "tasks": draw.integers(2, 32),
        "seed": draw.integers(0, 2**32 - 1),
    }


def _distribution(params: Mapping[str, Any]) -> TaskDistribution:
    return TaskDistribution(
        mean=list(params["mean"]),
        spread=float(params["spread"]),
        tilt=float(params["tilt"]),
        L=float(params["L"]),
        low=float(params["low"]),
    )


def held_out_tasks(params: Mapping[str, Any], device: torch.device) -> QuadraticTasks:
    """The HELD_OUT tasks of an instance, from their own stream of its seed."""
    distribution, seed = _distribution(params), int(params["seed"])
    a, K = float(params["s"]) / distribution.L, int(params["K"])
    rng = np.random.default_rng([seed, HELD_OUT_STREAM])
    return QuadraticTasks.build(distribution.sample(HELD_OUT, rng), a, K, device)


def held_out_comparison(
    params: Mapping[str, Any], device: torch.device, tasks: int | None = None, draw: int = 0,
    test: QuadraticTasks | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train on ``tasks`` tasks (the instance's count by default), then compare x_M and
    x_J on the held-out tasks (``test``, drawn here when not given): mean losses after K
    steps and the paired differences."""
    distribution, seed = _distribution(params), int(params["seed"])
    a, K = float(params["s"]) / distribution.L, int(params["K"])
    count = int(params["tasks"]) if tasks is None else tasks
    train = QuadraticTasks.build(
        distribution.sample(count, np.random.default_rng([seed, TRAIN_STREAM, draw])), a, K, device
    )
    if test is None:
        test = held_out_tasks(params, device)
    x_M, x_J = train.maml_initialization(), train.joint_initialization()
    loss_M, loss_J = test.adapted_losses(x_M), test.adapted_losses(x_J)
    difference = loss_M - loss_J
    return {
        "train": train,
        "x_M": x_M,
        "x_J": x_J,
        "mean_M": loss_M.mean(),
        "mean_J": loss_J.mean(),
        "half_width": difference.std() / HELD_OUT**0.5,  # times t for the interval
    }


def measure_initialization(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """mean F(x_M) <= mean F(x_J) + t * se(paired difference), on held-out tasks (t the
    Student quantile of the claim's confidence, HELD_OUT - 1 degrees of freedom)."""
    rows = []
    for i in range(batch["seed"].shape[0]):
        params = {k: v[i].tolist() for k, v in batch.items()}
        rows.append(held_out_comparison(params, batch["seed"].device))
    mean_M = torch.stack([r["mean_M"] for r in rows])
    mean_J = torch.stack([r["mean_J"] for r in rows])
    half = t_quantile(constants["confidence"], HELD_OUT) * torch.stack(
        [r["half_width"] for r in rows]
    )
    return Measurement(
        lhs=mean_M,
        rhs=mean_J + half,
        notes={"mean_M": mean_M, "mean_J": mean_J, "difference": mean_M - mean_J, "t*se": half},
    )


def t_quantile(confidence: float, samples: int) -> float:
    """The two-sided Student t quantile for a mean over ``samples`` draws."""
    from scipy.stats import t

    return float(t.ppf((1 + confidence) / 2, samples - 1))


TRAINING_TASKS = (2, 4, 8, 16, 32, 64, 128)
STUDY_DRAWS = 16
#: A distribution where the centers depend on the curvature (tilt > 0): there the two
#: initializations differ even with many tasks, which the search's instance may not show.
REFERENCE_DISTRIBUTION = {
    "mean": [0.0, 0.0, 0.0, 0.0], "spread": 1.0, "tilt": 5.0, "L": 1.0, "low": 0.05,
    "s": 0.5, "K": 4, "tasks": 16, "seed": 0,
}  # fmt: skip


def _over_training_tasks(params: Mapping[str, Any], title: str) -> tuple[list[list[Any]], dict]:
    """Mean held-out loss of x_M and x_J over the number of training tasks: table rows
    and a figure panel (STUDY_DRAWS training draws per count, 95% intervals)."""
    # 16 draws: Student's t with 15 degrees of freedom (2.13), not the normal's 1.96
    t = t_quantile(meta.INITIALIZATION.constants["confidence"], STUDY_DRAWS)
    device = torch.device("cpu")
    rows: list[list[Any]] = []
    points: dict[str, list[tuple[float, float]]] = {"x_M (MAML)": [], "x_J (joint)": []}
    test = held_out_tasks(params, device)  # one held-out set for every training draw
    for count in TRAINING_TASKS:
        draws = [
            held_out_comparison(params, device, count, draw, test) for draw in range(STUDY_DRAWS)
        ]
        M = np.array([float(r["mean_M"]) for r in draws])
        J = np.array([float(r["mean_J"]) for r in draws])
        half_M, half_J, half_D = (t * v.std(ddof=1) / STUDY_DRAWS**0.5 for v in (M, J, M - J))
        difference = float((M - J).mean())
        rows.append(
            [title, count, M.mean(), half_M, J.mean(), half_J, difference, half_D,
             _better(difference, float(half_D))]
        )  # fmt: skip
        points["x_M (MAML)"].append((float(M.mean()), float(half_M)))
        points["x_J (joint)"].append((float(J.mean()), float(half_J)))
    series = [
        {
            "label": label,
            "x": list(TRAINING_TASKS),
            "y": [m for m, _ in values],
            "low": [m - h for m, h in values],
            "high": [m + h for m, h in values],
        }
        for label, values in points.items()
    ]
    return rows, {"title": title, "series": series}


def initialization_study(outcome: Outcome) -> dict[str, Any]:
    """Both initializations on held-out tasks, at the search's instance and over the
    number of training tasks (STUDY_DRAWS training draws each, 95% intervals)."""
    found = outcome.counterexample
    params = found.params if found is not None else outcome.worst_params
    if params is None:
        return {"title": "Held-out comparison", "summary": "no instance to study"}
    here = held_out_comparison(params, torch.device("cpu"))
    cvx = maml_initialization_cvxpy(here["train"])
    closed = here["x_M"].numpy()
    agreement = float(norm(torch.as_tensor(cvx - closed))) / max(
        float(norm(torch.as_tensor(closed))), 1e-300
    )
    which = "counterexample" if found is not None else "tightest instance"
    rows, panel = _over_training_tasks(params, f"{which}'s distribution")
    reference_rows, reference_panel = _over_training_tasks(
        REFERENCE_DISTRIBUTION, "reference, tilt 5"
    )
    t = t_quantile(meta.INITIALIZATION.constants["confidence"], HELD_OUT)
    mean_M, mean_J = float(here["mean_M"]), float(here["mean_J"])
    half = t * float(here["half_width"])

    def trend(table: list[list[Any]]) -> str:
        return ", ".join(f"{r[1]}: {r[-1]}" for r in table)

    summary = (
        f"At the {which} ({params['tasks']} training tasks, d = {len(params['mean'])}, "
        f"K = {params['K']}): mean held-out loss after K steps {mean_M:.6g} from x_M and "
        f"{mean_J:.6g} from x_J, difference {mean_M - mean_J:+.4g} +- {half:.3g} (95%, "
        f"{HELD_OUT} held-out tasks): {_better(mean_M - mean_J, half)}. "
        f"cvxpy (CLARABEL) and the closed form of x_M agree to {agreement:.1e} relative. "
        f"Over the number of training tasks ({STUDY_DRAWS} training draws each), on the "
        f"{which}'s distribution: {trend(rows)}; on a reference distribution whose centers "
        f"depend on the curvature (tilt 5, d = 4, K = 4): {trend(reference_rows)}."
    )
    return {
        "title": "Held-out comparison of the two initializations",
        "summary": summary,
        "cvxpy_relative_difference": agreement,
        "table": {
            "columns": [
                "distribution",
                "training tasks",
                "x_M mean",
                "+-",
                "x_J mean",
                "+-",
                "difference",
                "+-",
                "which way",
            ],
            "rows": rows + reference_rows,
        },
        "figure": {
            "kind": "lines",
            "x_label": "training tasks",
            "y_label": "held-out loss after K steps",
            "log_x": True,
            "log_y": False,
            "panels": [panel, reference_panel],
        },
    }


def _better(difference: float, half_width: float) -> str:
    if difference > half_width:
        return "x_J better"
    if difference < -half_width:
        return "x_M better"
    return "no significant difference"


INITIALIZATION = Property(
    meta.INITIALIZATION, measure=measure_initialization,
    dimension=lambda params: len(params["mean"]), model="quadratic-tasks", steps=steps_of,
    **drawn_by(task_distribution), max_swept=lambda profile: SWEPT_DISTRIBUTIONS,
    study=initialization_study,
)  # fmt: skip
