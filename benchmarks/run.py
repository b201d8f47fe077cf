"""Side-by-side measurements, all in one run (README.md, Performance):

1. the batched sweep (``sweeps.py``): instances per second against one instance per
   Hypothesis example for every swept model; smoothing.quadratic against the raw batched
   eigenvalue call; the share of instances and seeds that reach each family's tight
   region, per dimension; peak memory of --sweep 10^4 and 10^7;
2. the top Hessian eigenvalue of a small transformer (the cot family's decoder, shrunk
   to one layer of width 16): the engine's Lanczos against
   PyHessian's power iteration (a benchmark-only dependency), products counted, time and
   relative error against the dense Hessian;
3. the performance-estimation certificate (PEPit, solved by cvxpy/CLARABEL) against the
   closed form L/(4K+2): value and time;
4. the wall time of ``trajcheck verify --profile default`` family by family;
5. the training claims' census (``census.py``): today's ensembles against the few
   instances trained one at a time before, ci and default sizes;
6. ``trajcheck verify --profile default`` on the whole catalogue with ``--jobs 1`` and
   ``--jobs 2`` (``parallel.py``): wall time, and whether the results are the same.

    python benchmarks/run.py [--device cpu|cuda] [--skip-verify] [--skip-memory]
                             [--only sweeps|census|jobs] [--json FILE]

Never a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch
from census import cot_census, trained_lsa_census
from parallel import verify_jobs
from sweeps import (
    sweep_against_eigenvalue_limit,
    sweep_against_hypothesis,
    sweep_memory,
    tight_region_power,
)

from trajcheck.curvature import dense_hessian, lanczos_top_eigenvalue, math_attention
from trajcheck.discovery import discover
from trajcheck.profiles import get_profile
from trajcheck.runner import run_claim
from trajcheck_catalogue.models.decoder import Architecture, Training, train, training_loss
from trajcheck_catalogue.models.parity import MARKER, VOCABULARY, ParityTask
from trajcheck_catalogue.properties import pep
from trajcheck_catalogue.theory import convergence

#: The cot family's decoder, shrunk until its dense Hessian (one product per parameter)
#: takes seconds: one layer, width 16, two heads.
BENCHMARK_DECODER = Architecture(width=16, layers=1, heads=2, feedforward=32)


class _SupervisedLogits(torch.nn.Module):
    """The decoder's logits at the supervised positions, flat, for PyHessian's
    ``criterion(model(inputs), targets)``; with ``ignore_index`` at the marker the
    cross-entropy is the decoder's training loss."""

    def __init__(self, decoder: torch.nn.Module, first: int) -> None:
        super().__init__()
        self.decoder, self.first = decoder, first

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        return self.decoder(sequences)[:, self.first - 1 :].reshape(-1, VOCABULARY)


def _transformer_problem(device: torch.device) -> tuple[Any, Callable, list[torch.Tensor]]:
    """A decoder trained briefly on trajectory-supervised parity (n = 8, k = 3), and its
    training loss on 64 sequences as a function of the parameters."""
    task = ParityTask.draw(8, 3, torch.Generator().manual_seed(0))
    trained = train(task, "trajectory", 0, device, BENCHMARK_DECODER, Training(steps=100))
    loss, params = training_loss(trained, count=64)
    return trained, loss, params


def _pyhessian_data(trained: Any, device: torch.device) -> tuple[torch.nn.Module, Any, Any]:
    task = trained.task
    model = _SupervisedLogits(copy.deepcopy(trained.model).to(torch.float64), task.n)
    data = torch.Generator().manual_seed(trained.seed + 104_729)  # training_loss's sequences
    sequences = task.sequences(task.inputs(64, data), "trajectory").to(device)
    return model, sequences[:, :-1], sequences[:, task.n :].reshape(-1)


def lanczos_against_power_iteration(device: torch.device) -> pd.DataFrame:
    trained, loss, params = _transformer_problem(device)
    model, tokens, targets = _pyhessian_data(trained, device)
    started = time.perf_counter()
    reference = float(torch.linalg.eigvalsh(dense_hessian(loss, params))[-1])
    dense_seconds = time.perf_counter() - started
    rows = [
        {
            "method": "dense Hessian (reference)",
            "products": sum(p.numel() for p in params),
            "seconds": round(dense_seconds, 2),
            "top eigenvalue": reference,
            "relative error": 0.0,
        }
    ]
    # ARPACK's first Lanczos factorization costs a product per basis vector: a basis of
    # 3 stops sooner where the top eigenvalue stands apart, 8 (the default) is safer
    for basis, tol in ((3, 1e-3), (8, 1e-3), (8, 1e-10)):
        started = time.perf_counter()
        top = lanczos_top_eigenvalue(loss, params, tol=tol, basis=basis)
        rows.append(
            {
                "method": f"Lanczos, trajcheck.curvature (basis {basis}, tol {tol:g})",
                "products": top.products,
                "seconds": round(time.perf_counter() - started, 3),
                "top eigenvalue": top.value,
                "relative error": abs(top.value - reference) / abs(reference),
            }
        )
    for tol in (1e-3, 1e-5):
        rows.append(_pyhessian_row(model, tokens, targets, reference, device, tol))
    return pd.DataFrame(rows)


def _pyhessian_row(
    model: torch.nn.Module, tokens: Any, targets: Any, reference: float, device: torch.device,
    tol: float,
) -> dict[str, Any]:  # fmt: skip
    try:
        # the module, not the class of the same name that the package exports
        pyhessian_module = importlib.import_module("pyhessian.hessian")
    except ImportError:
        return {"method": "PyHessian power iteration", "products": None, "seconds": None,
                "top eigenvalue": None, "relative error": "pip install pyhessian"}  # fmt: skip
    counted = {"products": 0}
    original = pyhessian_module.hessian_vector_product

    def counting(*args: Any, **kwargs: Any) -> Any:
        counted["products"] += 1
        return original(*args, **kwargs)

    pyhessian_module.hessian_vector_product = counting
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # its random start vectors follow the default
    try:
        started = time.perf_counter()
        with math_attention():
            computer = pyhessian_module.hessian(  # type: ignore[attr-defined]
                model, torch.nn.CrossEntropyLoss(ignore_index=MARKER), data=(tokens, targets),
                cuda=device.type == "cuda",
            )  # fmt: skip
            values, _ = computer.eigenvalues(maxIter=1000, tol=tol, top_n=1)
        seconds = time.perf_counter() - started
    finally:
        torch.set_default_dtype(previous)
        pyhessian_module.hessian_vector_product = original
    return {
        "method": f"PyHessian power iteration (tol {tol:g})",
        "products": counted["products"],
        "seconds": round(seconds, 3),
        "top eigenvalue": values[0],
        "relative error": abs(values[0] - reference) / abs(reference),
    }


def certificate_against_closed_form() -> pd.DataFrame:
    rows = []
    for L, K in ((1.0, 1), (1.0, 10), (10.9, 14), (84.0, 32)):
        started = time.perf_counter()
        value = pep.gradient_descent_convex(L, K).value
        seconds = time.perf_counter() - started
        closed = float(convergence.convex_gd_bound(L, 1.0, K))
        rows.append(
            {
                "L": L,
                "K": K,
                "PEPit (CLARABEL)": value,
                "L/(4K+2)": closed,
                "relative gap": abs(value - closed) / closed,
                "seconds": round(seconds, 3),
            }
        )
    return pd.DataFrame(rows)


def verify_per_family(device: torch.device) -> pd.DataFrame:
    catalogue, profile = discover(), get_profile("default")
    seconds: dict[str, float] = {}
    for entry in catalogue:
        started = time.perf_counter()
        run_claim(entry.props, entry.origin_by_model, profile, device, seed=1)
        family = entry.claim.family
        seconds[family] = seconds.get(family, 0.0) + time.perf_counter() - started
    rows = [{"family": f, "seconds": round(s, 1)} for f, s in seconds.items()]
    rows.append({"family": "all", "seconds": round(sum(seconds.values()), 1)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--skip-verify", action="store_true", help="leave out part 4")
    parser.add_argument("--skip-memory", action="store_true", help="leave out --sweep 10^7")
    parser.add_argument("--only", choices=["sweeps", "census", "jobs"], help="part 1, 5 or 6 alone")
    parser.add_argument("--json", help="also write the tables to this file")
    args = parser.parse_args()
    device = torch.device(args.device)
    machine = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(f"device {device} ({machine}); torch {torch.__version__}\n")
    tables: dict[str, pd.DataFrame] = {}
    if args.only in (None, "sweeps"):
        tables["sweep against Hypothesis (instances per second)"] = sweep_against_hypothesis(device)
        tables["sweep against the batched eigenvalue limit"] = sweep_against_eigenvalue_limit(
            device
        )
        tables["tight region reached, per family and dimension"] = tight_region_power(device)
    if args.only in (None, "census"):
        tables["census: ensembles against one model at a time"] = pd.concat(
            [cot_census(device), trained_lsa_census(device)]
        )
    if not args.skip_memory and args.only in (None, "sweeps"):
        tables["peak memory of --sweep N"] = sweep_memory(device)
    if args.only is None:
        tables["top Hessian eigenvalue of a small transformer"] = lanczos_against_power_iteration(
            device
        )
        tables["performance-estimation certificate"] = certificate_against_closed_form()
    if not args.skip_verify and args.only is None:
        tables["trajcheck verify --profile default, by family"] = verify_per_family(device)
    if args.only in (None, "jobs"):
        tables["trajcheck verify --profile default, --jobs 1 and 2"] = verify_jobs(str(device))
    for title, table in tables.items():
        print(f"== {title}\n{table.to_string(index=False)}\n")
    if args.json:
        document = {"device": str(device), "machine": machine, "torch": torch.__version__}
        document |= {title: table.to_dict(orient="records") for title, table in tables.items()}
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2)


if __name__ == "__main__":
    main()
