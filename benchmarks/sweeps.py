"""The batched sweep measured (imported by ``run.py``; each function one table):

- ``sweep_against_hypothesis``: instances per second of the sweep and of one instance per
  Hypothesis example, for every swept model, at d <= 4, 8, 16;
- ``sweep_against_eigenvalue_limit``: smoothing.quadratic's sweep beside the raw batched
  eigenvalue call it is built on, on the device given (the GPU target is a fraction of
  that limit);
- ``tight_region_power``: per family and dimension, the share of instances within 1e-3
  of the bound, the share of seeds that reach one, and the share of instances that
  refute each of the claim's mutants (a wrong constant is refuted only where the bound
  is nearly attained);
- ``sweep_memory``: peak memory of ``trajcheck verify --sweep N`` for two N, each in its
  own process.

Never a test: nothing here asserts a time.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

import pandas as pd
import torch

from trajcheck.discovery import discover
from trajcheck.evaluation import measure_batch
from trajcheck.modes.sweep import instance, sweep
from trajcheck.profiles import get_profile
from trajcheck.runner import search
from trajcheck_catalogue.models.quadratic import eigenvalues

DIMENSIONS = (4, 8, 16)
HYPOTHESIS_EXAMPLES = 200
SWEPT_INSTANCES = 20_480


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sweep_against_hypothesis(device: torch.device) -> pd.DataFrame:
    """Instances per second of both paths on every swept model, d <= D, K <= 16 (a claim
    refuted, or a mutant, stops both paths at its first violation, so only the claims
    themselves are timed, and a refuted claim's rate counts what was measured)."""
    rows = []
    for entry in discover():
        for prop in entry.props:
            if prop.sweep is None:
                continue
            for D in DIMENSIONS:
                profile = replace(get_profile("ci"), max_dimension=D, max_steps=16)
                searched = search(prop, None, profile, device, seed=1, budget=HYPOTHESIS_EXAMPLES)
                _synchronize(device)
                swept = sweep(prop, None, profile, device, count=SWEPT_INSTANCES, seed=1)
                _synchronize(device)
                hypothesis_rate = searched.examples / searched.seconds
                sweep_rate = swept.swept / swept.seconds
                rows.append(
                    {
                        "claim": entry.claim.id,
                        "model": prop.model,
                        "d <=": D,
                        "hypothesis /s": round(hypothesis_rate),
                        "sweep /s": round(sweep_rate),
                        "ratio": round(sweep_rate / hypothesis_rate, 1),
                    }
                )
    return pd.DataFrame(rows)


def _eigenvalues_per_second(device: torch.device, d: int, count: int) -> float:
    generator = torch.Generator(device=device).manual_seed(0)
    m = torch.randn(count, d, d, generator=generator, device=device, dtype=torch.float64)
    m = m + m.transpose(-1, -2)
    eigenvalues(m)  # warm-up: library loading, workspace allocation
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(3):
        eigenvalues(m)
    _synchronize(device)
    return 3 * count / (time.perf_counter() - started)


def sweep_against_eigenvalue_limit(device: torch.device) -> pd.DataFrame:
    """smoothing.quadratic's sweep at d <= D against one batched eigenvalue call on D x D
    matrices (its measure needs two per instance, of K-step Hessians)."""
    prop = discover().entries["smoothing.quadratic"].props[0]
    count = 1_048_576 if device.type == "cuda" else 40_960
    rows = []
    for D in (4, 16):
        profile = replace(get_profile("ci"), max_dimension=D, max_steps=16)
        sweep(prop, None, profile, device, count=count // 16, seed=2)  # warm-up
        _synchronize(device)
        swept = sweep(prop, None, profile, device, count=count, seed=1)
        _synchronize(device)
        batch = 32_768 if device.type == "cuda" else 4096
        limit = _eigenvalues_per_second(device, D, batch)
        rate = swept.swept / swept.seconds
        rows.append(
            {
                "d <=": D,
                "sweep /s": round(rate),
                "eigvalsh D x D /s": round(limit),
                "limit / sweep": round(limit / rate, 1),
            }
        )
    return pd.DataFrame(rows)


def _dimension_group(d: int) -> str:
    return "1" if d == 1 else "2-3" if d < 4 else "4-8" if d <= 8 else "9-16"


POWER_SEEDS = 3
POWER_BATCHES = 24
NEAR = 1e-3


def tight_region_power(device: torch.device) -> pd.DataFrame:
    """For every swept model of a claim expected to hold: per dimension group, the share of
    instances whose tolerated margin is below 1e-3, the share of seeds (POWER_SEEDS, each
    POWER_BATCHES batches of 512) with at least one such instance in that group, and the
    share of instances that refute the claim's mutants (the first mutant, as the
    catalogue orders them)."""
    profile = replace(get_profile("ci"), max_dimension=16)
    rows = []
    for entry in discover():
        claim = entry.claim
        if claim.expected != "holds":
            continue
        for prop in entry.props:
            if prop.sweep is None:
                continue
            near, total, seeds_near, refuted = (collections.Counter() for _ in range(4))
            for seed in range(POWER_SEEDS):
                generator = torch.Generator(device=device).manual_seed(seed)
                reached: set[str] = set()
                for _ in range(POWER_BATCHES):
                    batch = prop.sweep(512, generator, profile, device)
                    size = min(int(v.shape[0]) for v in batch.values())
                    if size == 0:
                        continue
                    group = _dimension_group(prop.dimension(instance(batch, 0)))
                    measured = measure_batch(prop, batch, claim.constants, size)
                    margins = measured.at_worst(measured.tolerated)
                    close = int((margins < NEAR).sum())
                    near[group] += close
                    total[group] += size
                    if close:
                        reached.add(group)
                    if claim.mutants:
                        constants = claim.constants_for(claim.mutants[0])
                        wrong = measure_batch(prop, batch, constants, size)
                        refuted[group] += int((wrong.at_worst(wrong.tolerated) < -claim.rtol).sum())
                for group in reached:
                    seeds_near[group] += 1
            for group in ("1", "2-3", "4-8", "9-16"):
                if total[group]:
                    rows.append(
                        {
                            "claim": claim.id,
                            "model": prop.model,
                            "d": group,
                            "instances": total[group],
                            "within 1e-3": round(near[group] / total[group], 4),
                            "seeds reaching it": f"{seeds_near[group]}/{POWER_SEEDS}",
                            "mutant refuted": round(refuted[group] / total[group], 4)
                            if claim.mutants
                            else None,
                        }
                    )
    return pd.DataFrame(rows)


#: Runs a command and prints its peak resident memory (KiB on Linux): a fresh process per
#: measurement, since getrusage's peak over children only ever grows (what
#: /usr/bin/time -v reports, without needing it installed).
PEAK_OF = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _peak_memory_of(command: list[str]) -> tuple[float, float]:
    """(peak resident MiB, seconds) of a command."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF, *command], check=True, capture_output=True, text=True
    )
    return int(done.stdout.split()[-1]) / 1024, time.perf_counter() - started


def sweep_memory(
    device: torch.device, counts: tuple[int, ...] = (10_000, 10_000_000)
) -> pd.DataFrame:
    """Peak memory of one claim verified with ``--sweep N``, each N in its own process."""
    rows = []
    for count in counts:
        with tempfile.TemporaryDirectory() as out:
            command = [
                sys.executable, "-m", "trajcheck", "verify", "smoothing.quadratic",
                "--profile", "ci", "--seed", "1", "--sweep", str(count),
                "--device", device.type, "--out", out,
            ]  # fmt: skip
            peak, seconds = _peak_memory_of(command)
        rows.append({"--sweep": count, "peak MiB": round(peak, 1), "seconds": round(seconds, 1)})
    return pd.DataFrame(rows)
