"""Progress in logs: what a long run says off a terminal, in every process it uses."""

from __future__ import annotations

import logging
import sys


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
