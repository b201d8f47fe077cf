"""Ctrl-C that always stops a run.

Python delivers SIGINT as a KeyboardInterrupt raised wherever the interpreter happens to
be; when that is a garbage-collection or weakref callback (Hypothesis uses both), the
exception is printed as "Exception ignored" and lost, and the run carried on to write its
report. Here the handler also records the interrupt, and the run asks at every example,
every batch and before it writes anything (:func:`checkpoint`), so an interrupt that was
swallowed once is raised again at the next of those points.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: What an interrupted run prints, and its exit code (the shell's for SIGINT).
STOPPED = "trajcheck: interrupted; nothing was written"
EXIT_CODE = 130

_pending = False
_deferring = 0  # depth of nested deferred() blocks
_settled = False  # the run is written: what is left of the process ignores SIGINT


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    _pending = True
    if not _deferring:
        raise KeyboardInterrupt


def pending() -> bool:
    """Whether an interrupt arrived since :func:`watching` began."""
    return _pending


def checkpoint() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived, even one swallowed on the way."""
    if _pending:
        raise KeyboardInterrupt


@contextmanager
def watching() -> Iterator[None]:
    """Record every SIGINT while the block runs (main thread only; elsewhere, a no-op)."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    global _settled
    _pending, _settled = False, False
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if _settled else previous)


def settle() -> None:
    """Once a run is written, an interrupt can no longer keep it from being written: the
    watching block then leaves SIGINT ignored for the little the process has left to do
    (print its verdicts and exit with their code). Only for the console script: a caller
    in Python keeps its own handler."""
    global _settled
    _settled = True


@contextmanager
def starting() -> Iterator[None]:
    """Record SIGINT, never raise it, while a process starts (imports); afterwards the
    previous handler is back and :func:`pending` tells whether one came."""
    global _pending
    _pending = False
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        with deferred():
            yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold interrupts for the block (they are recorded, not raised): for a step that must
    not be cut in two, such as the rename that makes a new run visible."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
