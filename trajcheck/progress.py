"""Progress: a bar on a terminal, and lines in logs (a CI log, a file, a notebook's
stderr), in every process a run uses."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trajcheck.core import Result


def log_progress_lines() -> None:
    """Progress inside a claim (a census's training runs, which take minutes) goes to the
    loggers ``trajcheck`` and ``trajcheck_catalogue`` at INFO: off a terminal, one line on
    stderr each, as the claims' own lines. Set up once per process: the run's, and each
    worker's, whose stderr is the run's or, on a cluster, the worker's own log."""
    for name in ("trajcheck", "trajcheck_catalogue"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "trajcheck_lines", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("trajcheck: %(message)s"))
            handler.trajcheck_lines = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)


@dataclass
class Hooks:
    """How a run shows its progress: ``display`` is entered around the search;
    ``on_units`` hears units of work done (label, count), ``on_example`` the running count
    of examples searched in this process, ``on_claim`` each claim as it completes;
    ``log_lines``: whether worker processes log their own lines (a census's training)."""

    display: AbstractContextManager[Any]
    on_units: Callable[[str, int], None]
    on_example: Callable[[int], None]
    on_claim: Callable[[Result], None]
    log_lines: bool


def silent(total: int) -> Hooks:
    return Hooks(nullcontext(), lambda label, units: None, lambda count: None, _ignore, False)


def _ignore(result: Result) -> None:
    pass


def claim_line(result: Result) -> str:
    o = result.outcome
    verdict = o.verdict + ("" if result.as_expected else ", NOT as expected")
    return (
        f"trajcheck: finished {result.claim.id}: {verdict}, {o.examples} examples, "
        f"{o.seconds:.1f} s"
    )


def lines(total: int) -> Hooks:
    """One line on stderr per claim as it finishes, and the census's own lines."""
    log_progress_lines()

    def finished(result: Result) -> None:
        print(claim_line(result), file=sys.stderr, flush=True)

    return Hooks(nullcontext(), lambda label, units: None, lambda count: None, finished, True)


def shown(total: int) -> Hooks:
    """On a terminal, a bar (stderr) with one step per unit of work (``trajcheck.work``:
    one shard of one search, on whichever worker), and the running count of examples
    where the run searches in this process; elsewhere, :func:`lines`."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        return lines(total)
    progress = Progress(
        TextColumn("{task.description:<40}"),
        TextColumn("{task.fields[examples]:>9} examples"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("searching", total=total, examples=0)

    def advance(label: str, units: int) -> None:
        progress.update(task, advance=units, description=label, examples=0)

    def count(examples: int) -> None:
        progress.update(task, examples=examples)

    return Hooks(progress, advance, count, _ignore, False)
