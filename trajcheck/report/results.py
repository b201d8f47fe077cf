"""``results.json``: building it from a run, writing a run's folder, reading it back.

The field names are a public contract (docs/ARCHITECTURE.md): extend, never rename. The
Markdown and HTML reports are rendered from this JSON alone, so ``trajcheck report DIR``
rebuilds exactly what ``trajcheck verify`` wrote.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from trajcheck.core import Profile, Result
from trajcheck.report.folder import (
    COUNTEREXAMPLES,
    RESULTS,
    commit,
    counterexample_name,
    prepare,
)
from trajcheck.report.schema import (
    COUNTEREXAMPLE_SCHEMA,
    RESULTS_SCHEMA,
    UnreadableJSON,
    problem,
    read_document,
)

FORMAT_VERSION = 2

#: Set (to anything but "" or "0"), a run whose files do not conform to their schemas
#: raises instead of being written with a warning. The test suite sets it, so every run
#: the tests write is checked against the published schemas (tests/conftest.py).
STRICT_SCHEMA = "TRAJCHECK_STRICT_SCHEMA"


class MalformedResults(ValueError):
    pass


class SchemaViolation(AssertionError):
    """trajcheck itself was about to write a file its schema rejects: a bug."""


def build_results(
    results: Sequence[Result],
    *,
    profile: str,
    device: torch.device,
    seed: int | None,
    seconds: float,
    out: Path | None,
    settings: Profile | None = None,
    executor: dict[str, Any] | None = None,
    bibliography: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``results.json`` document of a run, replay commands pointing into ``out`` (none
    when the run is kept in memory only, ``out`` None);
    ``settings``: the profile as run (a --sweep changes it), recorded whole; ``executor``:
    where the work ran (``trajcheck.executors``), which changes no result; ``bibliography``:
    the entries the claims cite, by BibTeX key (``trajcheck.bibliography``)."""
    claims = []
    for result in results:
        entry = result.to_json()
        searches = [(result.claim.id, entry)] + [(m["id"], m) for m in entry["mutants"]]
        for identifier, searched in searches:
            if searched["counterexample"] is not None and out is not None:
                path = out / COUNTEREXAMPLES / counterexample_name(identifier)
                # quoted, so that it pastes into a shell whatever the folder's name
                searched["counterexample"]["replay"] = shlex.join(
                    ["trajcheck", "replay", str(path)]
                )
        claims.append(entry)
    return {
        "version": version("trajcheck"),
        "format": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "profile": profile,
        "settings": dataclasses.asdict(settings) if settings is not None else None,
        "device": str(device),
        "seed": seed,
        "seconds": seconds,
        "executor": executor,
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "hypothesis": version("hypothesis"),
            "machine": platform.machine(),
            "cuda": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
        "claims": claims,
        "bibliography": dict(bibliography or {}),
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
    """Check a ``results.json`` document against its schema; raise MalformedResults (one
    line: where the document breaks it, and how) if it does not conform."""
    found = problem(document, RESULTS_SCHEMA)
    if found is not None:
        raise MalformedResults(f"{where}: not a trajcheck results document ({found})")
    return document


def read_json(path: Path) -> Any:
    """A JSON file's content; every way of failing becomes one MalformedResults line."""
    try:
        return read_document(path)
    except UnreadableJSON as exc:
        raise MalformedResults(f"{path}: {exc}") from exc


def load_results(folder: Path) -> dict[str, Any]:
    path = Path(folder) / RESULTS
    if not path.is_file():
        raise MalformedResults(f"{folder}: holds no {RESULTS}")
    return validate(read_json(path), str(path))


def run_files(document: dict[str, Any], renders: dict[str, str]) -> dict[str, str]:
    """Every file of a run, by path relative to its folder: results.json, the renders and
    one file per counterexample, each checked against its schema first."""
    check_conformance(document, RESULTS_SCHEMA, RESULTS)
    texts = {RESULTS: json.dumps(document, indent=2) + "\n", **renders}
    for name, content in counterexample_files(document).items():
        check_conformance(content, COUNTEREXAMPLE_SCHEMA, f"{COUNTEREXAMPLES}/{name}")
        texts[f"{COUNTEREXAMPLES}/{name}"] = json.dumps(content, indent=2) + "\n"
    return texts


def check_conformance(document: Any, schema: str, name: str) -> None:
    """A file trajcheck writes must conform to its published schema. Where it does not,
    that is trajcheck's bug: under ``STRICT_SCHEMA`` (the tests) it raises, elsewhere the
    run is still written (its results are not lost) with a warning on stderr."""
    found = problem(document, schema)
    if found is None:
        return
    message = f"{name} does not conform to {schema} ({found}); please report this"
    if os.environ.get(STRICT_SCHEMA, "") not in ("", "0"):
        raise SchemaViolation(message)
    print(f"trajcheck: warning: {message}", file=sys.stderr)


def write_run(folder: Path, document: dict[str, Any], renders: dict[str, str]) -> None:
    """Write a run into ``folder`` at once, with --force semantics (a test helper and the
    API's; the CLI prepares the folder before the search)."""
    prepared = prepare(folder, force=True)
    try:
        commit(prepared, run_files(document, renders))
    finally:
        prepared.release(keep_created=True)
