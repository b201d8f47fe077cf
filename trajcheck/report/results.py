"""``results.json``: building it from a run, writing a run's folder, reading it back.

The field names are a public contract (ARCHITECTURE.md): extend, never rename. The
Markdown and HTML reports are rendered from this JSON alone, so ``trajcheck report DIR``
rebuilds exactly what ``trajcheck verify`` wrote.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from trajcheck.core import Result

FORMAT_VERSION = 1
RESULTS = "results.json"
COUNTEREXAMPLES = "counterexamples"

_CLAIM_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "family": str,
    "kind": str,
    "source": str,
    "expected": str,
    "verdict": str,
    "as_expected": bool,
    "examples": int,
    "seconds": (int, float),
    "mutants": list,
}
_RUN_FIELDS: dict[str, type | tuple[type, ...]] = {
    "version": str,
    "profile": str,
    "device": str,
    "seconds": (int, float),
}


class MalformedResults(ValueError):
    pass


def counterexample_name(identifier: str) -> str:
    """A file name for a claim or mutant id (ids hold letters, digits, '.', '_', '-', '~')."""
    return re.sub(r"[^A-Za-z0-9._~-]", "_", identifier) + ".json"


def build_results(
    results: Sequence[Result],
    *,
    profile: str,
    device: torch.device,
    seed: int | None,
    seconds: float,
    out: Path,
) -> dict[str, Any]:
    """The ``results.json`` document of a run, replay commands pointing into ``out``."""
    claims = []
    for result in results:
        entry = result.to_json()
        searches = [(result.claim.id, entry)] + [(m["id"], m) for m in entry["mutants"]]
        for identifier, searched in searches:
            if searched["counterexample"] is not None:
                path = out / COUNTEREXAMPLES / counterexample_name(identifier)
                searched["counterexample"]["replay"] = f"trajcheck replay {path}"
        claims.append(entry)
    return {
        "version": version("trajcheck"),
        "format": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "profile": profile,
        "device": str(device),
        "seed": seed,
        "seconds": seconds,
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "hypothesis": version("hypothesis"),
            "machine": platform.machine(),
            "cuda": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
        "claims": claims,
    }


def counterexample_files(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One replayable JSON document per counterexample, by file name."""
    files = {}
    for claim in document["claims"]:
        searches = [(claim["id"], None, claim)] + [
            (m["id"], m["id"].split("~", 1)[1], m) for m in claim["mutants"]
        ]
        for identifier, mutant, searched in searches:
            found = searched.get("counterexample")
            if found is None:
                continue
            files[counterexample_name(identifier)] = {
                "claim": claim["id"],
                "mutant": mutant,
                "origin": claim.get("origins", {}).get(found.get("model"), claim.get("origin", "")),
                "device": document["device"],
                "dtype": "float64",
                **found,
            }
    return files


def validate(document: Any, where: str) -> dict[str, Any]:
    """Check the shape of a ``results.json`` document; raise MalformedResults if wrong."""
    if not isinstance(document, dict):
        raise MalformedResults(
            f"{where}: not a trajcheck results document (top level is not an object)"
        )
    for name, kind in _RUN_FIELDS.items():
        if not isinstance(document.get(name), kind):
            raise MalformedResults(f"{where}: not a trajcheck results document (field {name!r})")
    claims = document.get("claims")
    if not isinstance(claims, list):
        raise MalformedResults(f"{where}: not a trajcheck results document (field 'claims')")
    for i, claim in enumerate(claims):
        if not isinstance(claim, dict):
            raise MalformedResults(f"{where}: claims[{i}] is not an object")
        for name, kind in _CLAIM_FIELDS.items():
            if not isinstance(claim.get(name), kind):
                raise MalformedResults(f"{where}: claims[{i}] lacks a valid {name!r}")
    return document


def load_results(folder: Path) -> dict[str, Any]:
    path = Path(folder) / RESULTS
    if not path.is_file():
        raise MalformedResults(f"{folder}: holds no {RESULTS}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedResults(f"{path}: unreadable JSON ({exc})") from exc
    return validate(document, str(path))


def holds_a_run(folder: Path) -> bool:
    return (Path(folder) / RESULTS).exists()


def write_run(folder: Path, document: dict[str, Any], renders: dict[str, str]) -> None:
    """Write a run's files all at once: staged in a fresh sibling folder, then moved in.

    A run that fails half-way leaves nothing half-written. An earlier run in ``folder``
    (replaced only with --force) loses its files only once the new ones are whole; other
    files in ``folder`` are left alone.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new.", dir=folder.parent))
    retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
    swapped = False
    try:
        (staging / RESULTS).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        for name, text in renders.items():
            (staging / name).write_text(text, encoding="utf-8")
        files = counterexample_files(document)
        if files:
            (staging / COUNTEREXAMPLES).mkdir()
        for name, content in files.items():
            (staging / COUNTEREXAMPLES / name).write_text(
                json.dumps(content, indent=2) + "\n", encoding="utf-8"
            )
        folder.mkdir(exist_ok=True)
        # An earlier run's counterexamples go too: a stale one would be misread as new.
        for name in {*os.listdir(staging), COUNTEREXAMPLES}:
            if (folder / name).exists():
                os.replace(folder / name, retired / name)
        for name in os.listdir(staging):
            os.replace(staging / name, folder / name)
        swapped = True
    finally:
        if not swapped:  # put the earlier run back where it was
            for name in os.listdir(retired):
                if not (folder / name).exists():
                    os.replace(retired / name, folder / name)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
