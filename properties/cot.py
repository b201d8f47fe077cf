"""Properties of family ``cot``: trajectory supervision on the sparse-parity task.

An instance is an experiment: a task (n, k, seed) and two models trained on it, one on
direct answers and one on trajectories. The three claims read the same experiments
(cached for the process), so a census of the family trains each pair once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from scipy.stats import spearmanr

from trajcheck.core import Batch, Measurement, Outcome, Params, Profile, Property
from trajcheck_catalogue.models.decoder import (
    Architecture,
    TrainedModel,
    Training,
    answer_accuracy,
    answer_nll_probe,
    chance_interval,
    held_out_inputs,
    top_hessian_eigenvalue,
    train,
    training_loss,
)
from trajcheck_catalogue.models.parity import ParityTask
from trajcheck_catalogue.theory import cot


@dataclass(frozen=True)
class Budget:
    """What a profile spends on the family: the tasks drawn and each training run."""

    n: tuple[int, int]
    k: tuple[int, int]
    instances: int
    width: int  # of the transformer
    steps: int  # of training, for each supervision


#: Held-out inputs for the accuracy, and for the probe.
EVALUATION, PROBES = 1024, 256


#: Sized from runs on 2 CPU cores. Measured with these budgets (seeds 1000-1005): ``ci``
#: at n = 16 and 20, k = 3: trajectory training reached 1.000 in 12 runs of 12 (0.95 by
#: step 100-200 of 400), direct training stayed within 0.48-0.53 but once (1.000 at
#: n = 16); ``default`` at n = 20 and 24, k = 4: trajectory 1.000 in 5 of 5 (0.95 by step
#: 150-200 of 600; the budget gives it 400), direct 0.49-0.51. ``ci`` keeps the family
#: under 3 minutes there, ``default`` adds about 75 s to the catalogue's verify.
BUDGETS = {
    "ci": Budget((16, 20), (3, 3), 2, width=32, steps=400),
    "default": Budget((16, 24), (3, 4), 3, width=32, steps=400),
    "thorough": Budget((16, 32), (3, 5), 8, width=64, steps=1000),
}


def budget_for(profile: Profile) -> Budget:
    """The profile's budget, by its name; a profile of another name (a test's, a user's)
    gets the ``ci`` one."""
    return BUDGETS.get(profile.name, BUDGETS["ci"])


@st.composite
def parity_experiments(draw: st.DrawFn, profile: Profile) -> Params:
    """A task and the size of its training runs: the instance says how it is built, so
    that replay and the report need no profile."""
    budget = budget_for(profile)
    return {
        "n": draw(st.integers(*budget.n)),
        "k": draw(st.integers(*budget.k)),
        "seed": draw(st.integers(0, 2**31 - 1)),
        "width": budget.width,
        "steps": budget.steps,
    }


@dataclass
class Experiment:
    """A task and its two trained models, with what the claims read from them."""

    task: ParityTask
    seed: int
    direct: TrainedModel
    trajectory: TrainedModel
    readings: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.direct.model.parameters()).device

    def accuracies(self) -> tuple[float, float]:
        """Held-out answer accuracy of the direct and of the trajectory model."""
        if "accuracy" not in self.readings:
            inputs = held_out_inputs(self.task, EVALUATION, self.seed, self.device)
            self.readings["accuracy"] = tuple(
                answer_accuracy(m.model, self.task, m.supervision, inputs)
                for m in (self.direct, self.trajectory)
            )
        return self.readings["accuracy"]

    def probes(self) -> tuple[np.ndarray, np.ndarray]:
        """The probe L_j (rows: inputs, columns: j = 0..k) along correct and along
        corrupted trajectories, on the trajectory model."""
        if "probe" not in self.readings:
            task, device = self.task, self.device
            inputs = held_out_inputs(task, PROBES, self.seed + 1, device)
            generator = torch.Generator().manual_seed(self.seed + 2)
            corrupted, _ = task.corrupted_trajectory(inputs.cpu(), generator)
            model = self.trajectory.model
            self.readings["probe"] = tuple(
                answer_nll_probe(model, task, inputs, t.to(device)).cpu().numpy()
                for t in (task.trajectory(inputs.cpu()).to(device), corrupted)
            )
        return self.readings["probe"]

    def sharpness(self) -> dict[str, Sharpness]:
        """Top Hessian eigenvalue of each model's training loss, with the loss itself."""
        if "sharpness" not in self.readings:
            readings = {}
            for m in (self.direct, self.trajectory):
                value, products = top_hessian_eigenvalue(m)
                loss, params = training_loss(m)
                readings[m.supervision] = Sharpness(value, products, float(loss(params)))
            self.readings["sharpness"] = readings
        return self.readings["sharpness"]


@dataclass(frozen=True)
class Sharpness:
    top_eigenvalue: float
    products: int  # Hessian-vector products Lanczos took
    loss: float  # the training loss where the Hessian was taken


#: The keys of an instance that say how its experiment is built.
EXPERIMENT_KEYS = ("n", "k", "seed", "width", "steps")

#: Experiments trained in this process, by their instance and device: a cache keyed on
#: the draw, so the three claims of a census that draw one instance train it once.
#: Training is seeded end to end, so another process that draws the instance trains the
#: same models.
_EXPERIMENTS: dict[tuple[int, ...], dict[str, Experiment]] = {}


def experiment(key: tuple[int, ...], device: str) -> Experiment:
    """Train both models of an instance (n, k, seed, width, steps) once per process."""
    trained = _EXPERIMENTS.setdefault(key, {})
    if device not in trained:
        n, k, seed, width, steps = key
        task = ParityTask.draw(n, k, torch.Generator().manual_seed(seed))
        runs = [
            train(task, supervision, seed, torch.device(device), Architecture(width=width),
                  Training(steps=steps), EVALUATION)
            for supervision in ("direct", "trajectory")
        ]  # fmt: skip
        trained[device] = Experiment(task, seed, runs[0], runs[1])
    return trained[device]


def _experiments(batch: Batch) -> list[Experiment]:
    device = str(batch["seed"].device)
    rows = zip(*(batch[key].tolist() for key in EXPERIMENT_KEYS), strict=True)
    return [experiment(tuple(int(v) for v in row), device) for row in rows]


def _from_params(params: Params) -> Experiment:
    """The experiment of a census entry, on whichever device it was trained (the CPU when
    it has to be trained again)."""
    key = tuple(int(params[name]) for name in EXPERIMENT_KEYS)
    trained = _EXPERIMENTS.get(key, {})
    return next(iter(trained.values())) if trained else experiment(key, "cpu")


def _column(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# cot.parity_learnability ---------------------------------------------------------------


def near_chance(accuracy: float, count: int) -> bool:
    return abs(accuracy - 0.5) <= chance_interval(count)


def measure_learnability(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """direct <= trajectory, and 0.95 <= trajectory where direct is near chance (k >= 3)."""
    direct, trajectory, floor = [], [], []
    for e in _experiments(batch):
        a_direct, a_trajectory = e.accuracies()
        applies = e.task.k >= 3 and near_chance(a_direct, EVALUATION)
        direct.append(a_direct)
        trajectory.append(a_trajectory)
        floor.append(constants["min_accuracy"] if applies else 0.0)
    d, t = _column(direct), _column(trajectory)
    return Measurement(
        lhs=torch.stack([d, _column(floor)], dim=-1),
        rhs=torch.stack([t, t], dim=-1),
        parts=("trajectory >= direct", "trajectory >= 0.95 where direct is near chance"),
        notes={"direct accuracy": d, "trajectory accuracy": t},
    )


def learnability_study(outcome: Outcome) -> dict[str, Any]:
    experiments = _census_experiments(outcome)
    rows, panels = [], []
    for params, e in experiments:
        a_direct, a_trajectory = e.accuracies()
        rows.append([
            params["n"], params["k"], params["seed"], a_direct, a_trajectory,
            "yes" if near_chance(a_direct, EVALUATION) else "no",
        ])  # fmt: skip
        panels.append({
            "title": _label(params),
            "series": [
                {"label": m.supervision, "x": [s for s, _ in m.curve],
                 "y": [a for _, a in m.curve], "style": "markers-line"}
                for m in (e.direct, e.trajectory)
            ],
        })  # fmt: skip
    return {
        "title": "Held-out answer accuracy, direct against trajectory supervision",
        "summary": _census_summary(outcome),
        "table": {
            "columns": ["n", "k", "seed", "direct", "trajectory", "direct near chance"],
            "rows": rows,
        },
        "figure": {
            "kind": "lines",
            "x_label": "training step",
            "y_label": "held-out accuracy",
            "reference_y": 0.5,
            "share_y": True,
            "panels": panels,
        },
    }


# cot.answer_nll_descent ----------------------------------------------------------------


def probe_statistics(correct: np.ndarray, corrupted: np.ndarray) -> dict[str, float]:
    """The fraction of correct trajectories along which L_j never rises (beyond 1e-5
    relative), Spearman's correlation of j and L_j pooled over them, and the fraction of
    corrupted trajectories whose probe ends no lower than it starts."""
    level = 1e-5 * np.maximum(correct[:, :-1], 1.0)
    monotone = np.all(np.diff(correct, axis=1) <= level, axis=1)
    steps = np.broadcast_to(np.arange(correct.shape[1]), correct.shape)
    rho = spearmanr(steps.reshape(-1), correct.reshape(-1)).statistic
    rho = 0.0 if np.isnan(rho) else rho  # a probe constant in j: no correlation
    rises = corrupted[:, -1] >= corrupted[:, 0]
    return {
        "monotone fraction": float(monotone.mean()),
        "spearman": float(rho),
        "corrupted rise fraction": float(rises.mean()),
    }


def measure_answer_nll(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """0.9 <= monotone fraction, Spearman <= -0.5, 0.9 <= corrupted rise fraction."""
    stats = [probe_statistics(*e.probes()) for e in _experiments(batch)]
    monotone = _column([s["monotone fraction"] for s in stats])
    rho = _column([s["spearman"] for s in stats])
    rise = _column([s["corrupted rise fraction"] for s in stats])
    ones = torch.ones_like(rho)
    return Measurement(
        lhs=torch.stack([constants["min_monotone"] * ones, rho,
                         constants["min_corrupted_rise"] * ones], dim=-1),
        rhs=torch.stack([monotone, constants["max_spearman"] * ones, rise], dim=-1),
        scale=ones,
        parts=("monotone fraction >= 0.9", "Spearman(j, L_j) <= -0.5",
               "corrupted: L_k >= L_0 for >= 0.9"),
        notes={"monotone fraction": monotone, "spearman": rho, "corrupted rise fraction": rise},
    )  # fmt: skip


def _band(values: np.ndarray, label: str) -> dict[str, Any]:
    """Mean with the interquartile band, step by step."""
    return {
        "label": label,
        "x": list(range(values.shape[1])),
        "y": values.mean(0).tolist(),
        "low": np.quantile(values, 0.25, axis=0).tolist(),
        "high": np.quantile(values, 0.75, axis=0).tolist(),
        "style": "markers-line",
    }


def answer_nll_study(outcome: Outcome) -> dict[str, Any]:
    experiments = _census_experiments(outcome)
    rows, panels = [], []
    for params, e in experiments:
        correct, corrupted = e.probes()
        s = probe_statistics(correct, corrupted)
        rows.append([params["n"], params["k"], params["seed"], s["monotone fraction"],
                     s["spearman"], s["corrupted rise fraction"]])  # fmt: skip
        panels.append({
            "title": _label(params),
            "series": [_band(correct, "correct trajectory"),
                       _band(corrupted, "corrupted trajectory")],
        })  # fmt: skip
    return {
        "title": "The answer-NLL probe along trajectories (trajectory-trained model)",
        "summary": _census_summary(outcome) + (
            " Mean and interquartile band over the probe inputs. The probe puts the "
            "answer marker after j < k trajectory tokens, where training never put it: "
            "L_j for j < k reads the model off its training distribution."
        ),
        "table": {
            "columns": ["n", "k", "seed", "monotone fraction", "Spearman(j, L_j)",
                        "corrupted rise fraction"],
            "rows": rows,
        },
        "figure": {
            "kind": "lines", "x_label": "trajectory tokens before the marker j",
            "y_label": "L_j = -log p(answer)", "log_y": True, "panels": panels,
        },
    }  # fmt: skip


# cot.flatter_minima --------------------------------------------------------------------


def measure_sharpness(batch: Batch, constants: Mapping[str, float]) -> Measurement:
    """lmax(Hess L_trajectory) <= lmax(Hess L_direct) at the end of training."""
    readings = [e.sharpness() for e in _experiments(batch)]
    direct = _column([r["direct"].top_eigenvalue for r in readings])
    trajectory = _column([r["trajectory"].top_eigenvalue for r in readings])
    return Measurement(
        lhs=trajectory,
        rhs=direct,
        notes={"lmax direct": direct, "lmax trajectory": trajectory},
    )


def sharpness_study(outcome: Outcome) -> dict[str, Any]:
    experiments = _census_experiments(outcome)
    rows, labels, values = [], [], []
    for params, e in experiments:
        r = e.sharpness()
        a_direct, a_trajectory = e.accuracies()
        rows.append([params["n"], params["k"], params["seed"], r["direct"].top_eigenvalue,
                     r["trajectory"].top_eigenvalue, r["direct"].loss, r["trajectory"].loss,
                     a_direct, a_trajectory,
                     r["direct"].products + r["trajectory"].products])  # fmt: skip
        for supervision in ("direct", "trajectory"):
            labels.append(f"n{params['n']} k{params['k']} s{params['seed']} {supervision}")
            values.append(r[supervision].top_eigenvalue)
    return {
        "title": "Top Hessian eigenvalue of the training loss at the end of training",
        "summary": _census_summary(outcome) + (
            " Read with the losses beside them: the cross-entropy's curvature in the logits "
            "is p(1 - p), largest at chance (p = 1/2) and vanishing as a model grows "
            "certain, so a model that has learned its tokens sits lower than one at "
            "chance whatever its supervision; the comparison mixes flatness with fit."
        ),
        "table": {
            "columns": ["n", "k", "seed", "lmax direct", "lmax trajectory", "loss direct",
                        "loss trajectory", "accuracy direct", "accuracy trajectory",
                        "Hessian-vector products"],
            "rows": rows,
        },
        "figure": {
            "kind": "bars", "x_label": "instance and supervision", "y_label": "top eigenvalue",
            "log_y": True,
            "labels": labels, "values": values,
            "highlight": [lab for lab in labels if lab.endswith("trajectory")],
        },
    }  # fmt: skip


# shared ----------------------------------------------------------------------------------


def _label(params: Params) -> str:
    return f"n={params['n']} k={params['k']} seed={params['seed']}"


def _census_experiments(outcome: Outcome) -> list[tuple[Params, Experiment]]:
    census = outcome.census or {"instances": []}
    return [(entry["params"], _from_params(entry["params"])) for entry in census["instances"]]


def _census_summary(outcome: Outcome) -> str:
    instances = (outcome.census or {}).get("instances", [])
    failed = sum(entry["violated"] for entry in instances)
    text = f"The claim fails on {failed} of {len(instances)} instances drawn."
    if instances:
        params = instances[0]["params"]
        a, t = Architecture(width=params["width"]), Training(steps=params["steps"])
        text += (
            f" Each: a {a.layers}-layer, width-{a.width}, {a.heads}-head transformer, AdamW "
            f"{t.learning_rate:g}, batch {t.batch}, {t.steps} steps for each supervision; "
            f"accuracy on {EVALUATION} held-out inputs, probe on {PROBES}."
        )
    return text


def _dimension(params: Params) -> int:
    return int(params["n"])


def _instances(profile: Profile) -> int:
    """A census spends the profile's budget of experiments, whatever its examples."""
    return budget_for(profile).instances


def _property(claim: Any, measure: Any, study: Any) -> Property:
    return Property(
        claim,
        parity_experiments,
        measure,
        _dimension,
        model="parity-transformer",
        study=study,
        max_examples=_instances,
        census=True,
    )


PARITY_LEARNABILITY = _property(cot.PARITY_LEARNABILITY, measure_learnability, learnability_study)
ANSWER_NLL_DESCENT = _property(cot.ANSWER_NLL_DESCENT, measure_answer_nll, answer_nll_study)
FLATTER_MINIMA = _property(cot.FLATTER_MINIMA, measure_sharpness, sharpness_study)
