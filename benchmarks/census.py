"""The training claims' census, side by side in one run: the instances of a census trained
as ensembles (today's code) against the few instances the census had before, each model
trained alone with the budget of then (batch 128, 400 steps; Hessians by ARPACK on 256
sequences in float64; trained layers one at a time). Both read everything the claims
read: accuracies, probes, Hessian top eigenvalues, the comparison with gradient descent.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from trajcheck.profiles import get_profile
from trajcheck_catalogue.models.decoder import (
    Architecture,
    Training,
    answer_accuracy,
    answer_nll_probe,
    held_out_inputs,
    top_hessian_eigenvalue,
    train,
)
from trajcheck_catalogue.models.lsa import compare_with_gradient_descent, train_lsa
from trajcheck_catalogue.models.parity import ParityTask
from trajcheck_catalogue.properties import cot, icl

#: The census sizes before ensembles: cot (ci, default), icl.trained_lsa (ci, default).
BEFORE = {"cot": {"ci": 2, "default": 3}, "icl.trained_lsa": {"ci": 1, "default": 3}}


def _one_cot_instance_alone(n: int, k: int, seed: int, device: torch.device) -> None:
    """One instance as it was read before: both models trained alone (batch 128, 400
    steps, the curve on 1024 inputs), then accuracy, probe and ARPACK's eigenvalue."""
    task = ParityTask.draw(n, k, torch.Generator().manual_seed(seed))
    for supervision in ("direct", "trajectory"):
        trained = train(task, supervision, seed, device, Architecture(width=32),
                        Training(steps=400, batch=128), 1024)  # fmt: skip
        inputs = held_out_inputs(task, 1024, seed, device)
        answer_accuracy(trained.model, task, supervision, inputs)
        top_hessian_eigenvalue(trained, 256)
        if supervision == "trajectory":
            probe = held_out_inputs(task, 256, seed + 1, device)
            answer_nll_probe(trained.model, task, probe, task.trajectory(probe.cpu()).to(device))


def cot_census(device: torch.device) -> pd.DataFrame:
    rows = []
    for name in ("ci", "default"):
        profile = get_profile(name)
        budget = cot.budget_for(profile)
        drawn = cot.sample_experiments(
            budget.instances, torch.Generator().manual_seed(2026), profile, device
        )
        params = [{key: int(v[i]) for key, v in drawn.items()} for i in range(budget.instances)]
        started = time.perf_counter()
        for p in params[: BEFORE["cot"][name]]:
            _one_cot_instance_alone(p["n"], p["k"], p["seed"], device)
        before = time.perf_counter() - started
        started = time.perf_counter()
        cot.prepare_census(params, device)
        for p in params:
            e = cot._from_params(p)
            e.accuracies(), e.probes(), e.sharpness()
        after = time.perf_counter() - started
        rows.append(_row("cot (3 claims)", name, BEFORE["cot"][name], before, len(params), after))
    return pd.DataFrame(rows)


def trained_lsa_census(device: torch.device) -> pd.DataFrame:
    rows = []
    for name in ("ci", "default"):
        profile = get_profile(name)
        count = icl._training_runs(profile)
        drawn = icl.sample_training_runs(
            count, torch.Generator().manual_seed(2026), profile, device
        )
        runs = [
            (int(drawn["d"][i]), int(drawn["N"][i]), int(drawn["seed"][i])) for i in range(count)
        ]
        started = time.perf_counter()
        for d, N, seed in runs[: BEFORE["icl.trained_lsa"][name]]:
            compare_with_gradient_descent(train_lsa(d, N, seed, device), d, N, seed, device)
        before = time.perf_counter() - started
        started = time.perf_counter()
        icl.train_runs(runs, device)
        after = time.perf_counter() - started
        rows.append(
            _row("icl.trained_lsa", name, BEFORE["icl.trained_lsa"][name], before, count, after)
        )
    return pd.DataFrame(rows)


def _row(claims: str, profile: str, old: int, before: float, new: int, after: float) -> dict:
    return {
        "claims": claims,
        "profile": profile,
        "before: instances": old,
        "before: s": round(before, 1),
        "ensembles: instances": new,
        "ensembles: s": round(after, 1),
        "time ratio": round(after / before, 2),
        "instances per s, ratio": round((new / after) / (old / before), 1),
    }
