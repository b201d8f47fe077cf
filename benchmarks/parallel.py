"""``trajcheck verify`` spread over worker processes (``--jobs``), side by side in one run:
the wall time of the whole command for each number of jobs, and whether every run's
results.json is the same (times, the date and the executor aside)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from trajcheck.compare import comparable


def verify_jobs(
    device: str, jobs: tuple[int, ...] = (1, 2), profile: str = "default", seed: int = 1
) -> pd.DataFrame:
    """The whole catalogue with each ``--jobs``, one run after the other."""
    rows, documents = [], []
    with tempfile.TemporaryDirectory() as home:
        for count in jobs:
            out = Path(home) / f"jobs{count}"
            command = [sys.executable, "-m", "trajcheck", "verify", "--profile", profile,
                       "--seed", str(seed), "--device", device, "--jobs", str(count),
                       "--out", str(out)]  # fmt: skip
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            document = json.loads((out / "results.json").read_text())
            documents.append(comparable(document))
            rows.append(
                {
                    "jobs": count,
                    "claims": len(document["claims"]),
                    "exit code": done.returncode,
                    "wall s": round(seconds, 1),
                    "claim s (sum)": round(sum(c["seconds"] for c in document["claims"]), 1),
                }
            )
    table = pd.DataFrame(rows)
    table["speed-up"] = (table["wall s"].iloc[0] / table["wall s"]).round(2)
    table["same results as jobs 1"] = [d == documents[0] for d in documents]
    return table
