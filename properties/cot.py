"""Properties of family ``cot``: trajectory supervision on the sparse-parity task.

An instance is an experiment: a task (n, k, seed) and two models trained on it, one on
direct answers and one on trajectories. A census draws all its instances first, then
trains them together (``prepare``): the instances of one shape (n, k) as one ensemble per
supervision (``models/ensemble.py``). The three claims read the same experiments (cached
for the process), so a census of the family trains each pair once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from scipy.stats import spearmanr

from trajcheck.core import Batch, Measurement, Outcome, Params, Profile, Property, census_sentence
from trajcheck.interrupts import checkpoint
from trajcheck_catalogue.models import ensemble
from trajcheck_catalogue.models.decoder import Architecture, Training, chance_interval
from trajcheck_catalogue.models.parity import ParityTask
from trajcheck_catalogue.theory import cot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """What a profile spends on the family: the tasks drawn and each training run."""

    n: tuple[int, int]  # n is drawn from low, low + 4, ..., high
    k: tuple[int, int]
    instances: int
    width: int  # of the transformer
    steps: int  # of training, for each supervision
    batch: int  # sequences per step

    def shapes(self) -> list[tuple[int, int]]:
        return [(n, k) for n in range(self.n[0], self.n[1] + 1, N_STEP)
                for k in range(self.k[0], self.k[1] + 1)]  # fmt: skip


#: n is drawn on a grid of this step, so that a census falls into few shapes (n, k): the
#: members of one ensemble share n and k, and larger ensembles run faster per member.
N_STEP = 4

#: Held-out inputs for the accuracy, for the probe, and for each point of a training curve.
EVALUATION, PROBES, CURVE = 1024, 256, 128
#: The training loss whose Hessian is read: this many fresh sequences per model; Lanczos
#: steps for each top eigenvalue (whole Hessian and each block).
HESSIAN_SEQUENCES, LANCZOS_STEPS = 64, 10

#: Sized from runs on 2 CPU cores, in ensembles of 8-16 (2026-11-28): with batch 32,
#: trajectory training reached 1.000 on held-out inputs in 24 runs of 24 at (n, k) =
#: (16, 3), (20, 3), (24, 4) in 400 steps, first >= 0.95 at step 150-250, and 0.999-1.000
#: in 16 runs of 16 at (24, 4) in 300 steps, 0.997-1.000 in 8 of 8 at (32, 5) in 600 steps
#: (first >= 0.95 at step 150-300); direct training stayed within 0.45-0.53 but
#: once (0.591 at n = 16). Batch 32 rather than the 128 of one model trained alone: on
#: 2 CPU cores the ensemble runs only 1.3-1.5x faster per member (the products are large
#: enough to keep the cores busy), so a census of 16 or 32 fits the time of 2 or 3 runs of
#: batch 128 only with a quarter of the sequences per step (README, Performance).
BUDGETS = {
    "ci": Budget((16, 20), (3, 3), 16, width=32, steps=300, batch=32),
    "default": Budget((16, 24), (3, 4), 32, width=32, steps=300, batch=32),
    "thorough": Budget((16, 32), (3, 5), 128, width=32, steps=600, batch=32),
}


def budget_for(profile: Profile) -> Budget:
    """The profile's budget, by its name; a profile of another name (a test's, a user's)
    gets the ``ci`` one."""
    return BUDGETS.get(profile.name, BUDGETS["ci"])


def _fixed(budget: Budget) -> Params:
    return {"width": budget.width, "steps": budget.steps, "batch": budget.batch}


@st.composite
def parity_experiments(draw: st.DrawFn, profile: Profile) -> Params:
    """A task and the size of its training runs: the instance says how it is built, so
    that replay and the report need no profile."""
    budget = budget_for(profile)
    n, k = draw(st.sampled_from(budget.shapes()))
    return {"n": n, "k": k, "seed": draw(st.integers(0, 2**31 - 1)), **_fixed(budget)}


def sample_experiments(
    count: int, generator: torch.Generator, profile: Profile, device: torch.device
) -> Batch:
    """``count`` independent instances: (n, k) uniform over the budget's shapes, the seed
    uniform in [0, 2^31)."""
    budget = budget_for(profile)
    shapes = torch.tensor(budget.shapes())
    chosen = shapes[torch.randint(len(shapes), (count,), generator=generator)]
    seeds = torch.randint(0, 2**31, (count,), generator=generator)
    fixed = {key: torch.full((count,), value) for key, value in _fixed(budget).items()}
    return {"n": chosen[:, 0], "k": chosen[:, 1], "seed": seeds, **fixed}


@dataclass(frozen=True)
class Sharpness:
    top_eigenvalue: float
    products: int  # Hessian-vector products Lanczos took, for the whole Hessian
    loss: float  # the training loss where the Hessian was taken
    residual: float  # Lanczos's residual bound (the accuracy reached)
    #: the top eigenvalue of each block of the Hessian (embeddings, layer j, output)
    blocks: dict[str, float] = field(default_factory=dict)


@dataclass
class Ensembles:
    """The experiments of one shape, trained together: one ensemble per supervision, and
    what is read from them for every member at once (computed when first asked)."""

    direct: ensemble.TrainedEnsemble
    trajectory: ensemble.TrainedEnsemble
    readings: dict[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> list[ParityTask]:
        return self.direct.tasks

    @property
    def seeds(self) -> list[int]:
        return self.direct.seeds

    def _inputs(self, count: int, offset: int) -> torch.Tensor:
        seeds = [s + offset for s in self.seeds]
        return ensemble.held_out_inputs(self.tasks, count, seeds, self.direct.device)

    def accuracies(self) -> torch.Tensor:
        """(M, 2): held-out answer accuracy of the direct and of the trajectory model."""
        if "accuracy" not in self.readings:
            inputs = self._inputs(EVALUATION, 0)
            self.readings["accuracy"] = torch.stack([
                ensemble.answer_accuracies(e.params, self.tasks, e.supervision, inputs,
                                           e.architecture)
                for e in (self.direct, self.trajectory)
            ], dim=1).cpu()  # fmt: skip
        return self.readings["accuracy"]

    def probes(self) -> tuple[np.ndarray, np.ndarray]:
        """The probe L_j, (M, inputs, k+1), along correct and along corrupted trajectories,
        on the trajectory models."""
        if "probe" not in self.readings:
            inputs = self._inputs(PROBES, 1)
            corrupted = torch.stack([
                t.corrupted_trajectory(inputs[i].cpu(), torch.Generator().manual_seed(s + 2))[0]
                for i, (t, s) in enumerate(zip(self.tasks, self.seeds, strict=True))
            ]).to(inputs.device)  # fmt: skip
            correct = ensemble.true_trajectories(self.tasks, inputs)
            e = self.trajectory
            self.readings["probe"] = tuple(
                ensemble.answer_nll_probes(e.params, self.tasks, inputs, t, e.architecture)
                .cpu().numpy()
                for t in (correct, corrupted)
            )  # fmt: skip
        return self.readings["probe"]

    def sharpness(self) -> dict[str, list[Sharpness]]:
        """Each member's top Hessian eigenvalue of its training loss, by supervision."""
        if "sharpness" not in self.readings:
            readings = {}
            for e in (self.direct, self.trajectory):
                found = ensemble.top_hessian_eigenvalues(e, HESSIAN_SEQUENCES, LANCZOS_STEPS)
                losses = ensemble.training_losses(e, HESSIAN_SEQUENCES)
                whole = found.pop("all")
                readings[e.supervision] = [
                    Sharpness(float(whole.values[i]), whole.products, float(losses[i]),
                              float(whole.residuals[i]),
                              {name: float(b.values[i]) for name, b in found.items()})
                    for i in range(len(e))
                ]  # fmt: skip
            self.readings["sharpness"] = readings
        return self.readings["sharpness"]


@dataclass
class Experiment:
    """One instance: member ``index`` of its shape's ensembles."""

    group: Ensembles
    index: int

    @property
    def task(self) -> ParityTask:
        return self.group.tasks[self.index]

    @property
    def seed(self) -> int:
        return self.group.seeds[self.index]

    def curve(self, supervision: str) -> list[tuple[int, float]]:
        return getattr(self.group, supervision).curves[self.index]

    def accuracies(self) -> tuple[float, float]:
        """Held-out answer accuracy of the direct and of the trajectory model."""
        direct, trajectory = self.group.accuracies()[self.index].tolist()
        return direct, trajectory

    def probes(self) -> tuple[np.ndarray, np.ndarray]:
        correct, corrupted = self.group.probes()
        return correct[self.index], corrupted[self.index]

    def sharpness(self) -> dict[str, Sharpness]:
        return {name: members[self.index] for name, members in self.group.sharpness().items()}


#: The keys of an instance that say how its experiment is built.
EXPERIMENT_KEYS = ("n", "k", "seed", "width", "steps", "batch")

#: Experiments trained in this process, by their instance and device: a cache keyed on
#: the draw, so the three claims of a census that draw one instance train it once.
#: Training is seeded end to end, so another process that draws the census trains the
#: same models.
_EXPERIMENTS: dict[tuple[int, ...], dict[str, Experiment]] = {}


def _key(params: Params) -> tuple[int, ...]:
    """An instance's experiment, as a key; an instance saved before the batch was one of
    its keys was trained with batches of 128."""
    return tuple(int(params.get(name, Training.batch)) for name in EXPERIMENT_KEYS)


def train_experiments(keys: list[tuple[int, ...]], device: str) -> None:
    """Train every experiment of ``keys`` not yet trained on ``device``: those of one
    shape (and budget) as one ensemble per supervision, members in the order given."""
    todo = [key for key in dict.fromkeys(keys) if device not in _EXPERIMENTS.get(key, {})]
    groups: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for key in todo:
        n, k, _, *budget = key
        groups.setdefault((n, k, *budget), []).append(key)
    for (n, k, width, steps, batch), members in groups.items():
        started = time.perf_counter()
        seeds = [key[2] for key in members]
        tasks = [ParityTask.draw(n, k, torch.Generator().manual_seed(s)) for s in seeds]
        architecture = Architecture(width=width)
        training = Training(steps=steps, batch=batch)

        def step(_: int) -> None:
            checkpoint()

        trained = [
            ensemble.train_ensemble(tasks, supervision, seeds, torch.device(device),
                                    architecture, training, CURVE, on_step=step)
            for supervision in ("direct", "trajectory")
        ]  # fmt: skip
        group = Ensembles(trained[0], trained[1])
        for index, key in enumerate(members):
            _EXPERIMENTS.setdefault(key, {})[device] = Experiment(group, index)
        log.info(
            "cot: trained %d experiments (n=%d, k=%d) as two ensembles in %.1f s",
            len(members),
            n,
            k,
            time.perf_counter() - started,
        )


def prepare_census(instances: list[Params], device: torch.device) -> None:
    """The census's ``prepare``: train all its experiments, grouped by shape."""
    train_experiments([_key(params) for params in instances], str(device))


def experiment(key: tuple[int, ...], device: str) -> Experiment:
    """The experiment of an instance, trained (alone) if no census trained it."""
    train_experiments([key], device)
    return _EXPERIMENTS[key][device]


def _experiments(batch: Batch) -> list[Experiment]:
    device = str(batch["seed"].device)
    rows = [dict(zip(batch, row, strict=True))
            for row in zip(*(v.tolist() for v in batch.values()), strict=True)]  # fmt: skip
    keys = [_key(row) for row in rows]
    train_experiments(keys, device)  # those not trained yet, together
    return [_EXPERIMENTS[key][device] for key in keys]


def _from_params(params: Params) -> Experiment:
    """The experiment of a census entry, on whichever device it was trained (the CPU when
    it has to be trained again)."""
    trained = _EXPERIMENTS.get(_key(params), {})
    return next(iter(trained.values())) if trained else experiment(_key(params), "cpu")


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
    rows = []
    for params, e in experiments:
        a_direct, a_trajectory = e.accuracies()
        rows.append([
            params["n"], params["k"], params["seed"], a_direct, a_trajectory,
            "yes" if near_chance(a_direct, EVALUATION) else "no",
        ])  # fmt: skip
    panels = []
    for shape, members in _by_shape(experiments).items():
        series = []
        for supervision in ("direct", "trajectory"):
            curves = [e.curve(supervision) for e in members]
            steps = [step for step, _ in curves[0]]
            values = np.array([[value for _, value in curve] for curve in curves])
            series.append(_band(values, supervision, steps, low=0.0, high=1.0))
        panels.append({"title": f"{shape} ({len(members)} instances)", "series": series})
    return {
        "title": "Held-out answer accuracy, direct against trajectory supervision",
        "summary": _census_summary(outcome)
        + (
            f" Curves: held-out accuracy on {CURVE} inputs along training, mean over the "
            "instances of each shape with the band from the lowest to the highest."
        ),
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


def _band(
    values: np.ndarray, label: str, x: list[Any] | None = None, low: float = 0.25,
    high: float = 0.75, median: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """A series over rows of ``values`` (instances, points): the mean (or the median) at
    each point, with the band between the ``low`` and ``high`` quantiles."""
    center = np.median(values, axis=0) if median else values.mean(0)
    return {
        "label": label,
        "x": list(range(values.shape[1])) if x is None else x,
        "y": center.tolist(),
        "low": np.quantile(values, low, axis=0).tolist(),
        "high": np.quantile(values, high, axis=0).tolist(),
        "style": "markers-line",
    }


def answer_nll_study(outcome: Outcome) -> dict[str, Any]:
    experiments = _census_experiments(outcome)
    rows = []
    for params, e in experiments:
        s = probe_statistics(*e.probes())
        rows.append([params["n"], params["k"], params["seed"], s["monotone fraction"],
                     s["spearman"], s["corrupted rise fraction"]])  # fmt: skip
    panels = []
    for shape, members in _by_shape(experiments).items():
        probes = [e.probes() for e in members]  # each instance: its mean over the inputs
        correct = np.array([c.mean(0) for c, _ in probes])
        corrupted = np.array([c.mean(0) for _, c in probes])
        panels.append({
            "title": f"{shape} ({len(members)} instances)",
            "series": [_band(correct, "correct trajectory"),
                       _band(corrupted, "corrupted trajectory")],
        })  # fmt: skip
    return {
        "title": "The answer-NLL probe along trajectories (trajectory-trained model)",
        "summary": _census_summary(outcome) + (
            f" Each instance's mean L_j over its {PROBES} probe inputs; the line is the mean "
            "over the instances of a shape, the band their interquartile range. The probe "
            "puts the answer marker after j < k trajectory tokens, where training never "
            "put it: L_j for j < k reads the model off its training distribution."
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
    rows = []
    readings = [(params, e.sharpness(), e.accuracies()) for params, e in experiments]
    blocks = list(readings[0][1]["direct"].blocks) if readings else []
    for params, r, (a_direct, a_trajectory) in readings:
        rows.append([
            params["n"], params["k"], params["seed"], r["direct"].top_eigenvalue,
            r["trajectory"].top_eigenvalue, r["direct"].loss, r["trajectory"].loss,
            a_direct, a_trajectory,
            *(r[s].blocks[b] for s in ("direct", "trajectory") for b in blocks),
            max(r["direct"].residual / abs(r["direct"].top_eigenvalue),
                r["trajectory"].residual / abs(r["trajectory"].top_eigenvalue)),
        ])  # fmt: skip
    ticks = [*blocks, "whole"]
    series = []
    for supervision in ("direct", "trajectory"):
        values = np.array([[r[supervision].blocks[b] for b in blocks]
                           + [r[supervision].top_eigenvalue] for _, r, _ in readings])  # fmt: skip
        empty: dict[str, Any] = {"label": supervision, "x": [], "y": []}
        series.append(_band(values, supervision, median=True) if len(values) else empty)
    return {
        "title": "Top Hessian eigenvalue of the training loss at the end of training",
        "summary": _census_summary(outcome) + (
            f" Each model's training loss on {HESSIAN_SEQUENCES} sequences, in float64; "
            f"{LANCZOS_STEPS} Lanczos steps for the whole Hessian and for each block (the "
            "block's rows and columns: where the curvature sits). The figure shows the "
            "median over the instances with their interquartile band. Read with the losses beside "
            "them: the cross-entropy's curvature in the logits is p(1 - p), largest at "
            "chance (p = 1/2) and vanishing as a model grows certain, so a model that has "
            "learned its tokens sits lower than one at chance whatever its supervision; the "
            "comparison mixes flatness with fit."
        ),
        "table": {
            "columns": ["n", "k", "seed", "lmax direct", "lmax trajectory", "loss direct",
                        "loss trajectory", "accuracy direct", "accuracy trajectory",
                        *(f"lmax {b} {s}" for s in ("direct", "trajectory") for b in blocks),
                        "Lanczos residual (relative)"],
            "rows": rows,
        },
        "figure": {
            "kind": "lines", "x_label": "parameter block", "y_label": "top eigenvalue",
            "log_y": True, "x_ticks": ticks, "panels": [{"title": "", "series": series}],
        },
    }  # fmt: skip


# shared ----------------------------------------------------------------------------------


def _label(params: Params) -> str:
    return f"n={params['n']} k={params['k']} seed={params['seed']}"


def _census_experiments(outcome: Outcome) -> list[tuple[Params, Experiment]]:
    census = outcome.census or {"instances": []}
    return [(entry["params"], _from_params(entry["params"])) for entry in census["instances"]]


def _by_shape(
    experiments: list[tuple[Params, Experiment]],
) -> dict[str, list[Experiment]]:
    """The census's experiments by shape, in the order of the shapes' first draw."""
    shapes: dict[str, list[Experiment]] = {}
    for params, e in experiments:
        shapes.setdefault(f"n={params['n']} k={params['k']}", []).append(e)
    return shapes


def _census_summary(outcome: Outcome) -> str:
    census = outcome.census or {"instances": []}
    instances = census["instances"]
    text = f"The claim {census_sentence(census)}."
    if census.get("rule"):
        text += f" Verdict rule, fixed before the run: {census['rule']}."
    if instances:
        params = instances[0]["params"]
        a = Architecture(width=params["width"])
        t = Training(steps=params["steps"], batch=params.get("batch", Training.batch))
        text += (
            f" Each instance: a {a.layers}-layer, width-{a.width}, {a.heads}-head "
            f"transformer, AdamW {t.learning_rate:g}, batch {t.batch}, {t.steps} steps for "
            f"each supervision (the instances of one shape trained together as an "
            f"ensemble); accuracy on {EVALUATION} held-out inputs, probe on {PROBES}."
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
        sample=sample_experiments,
        prepare=prepare_census,
    )


PARITY_LEARNABILITY = _property(cot.PARITY_LEARNABILITY, measure_learnability, learnability_study)
ANSWER_NLL_DESCENT = _property(cot.ANSWER_NLL_DESCENT, measure_answer_nll, answer_nll_study)
FLATTER_MINIMA = _property(cot.FLATTER_MINIMA, measure_sharpness, sharpness_study)
