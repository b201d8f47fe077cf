"""The ``trajcheck`` console script, and ``python -m trajcheck``."""

from __future__ import annotations

import os
import sys
import threading
import time

from trajcheck import interrupts

#: How long the threads still running after the command (a --module's, a library's) are
#: given to end by themselves before the process exits without them.
THREAD_GRACE_SECONDS = 2.0


def main() -> int:
    # torch's import calls back into Python from C++ code that cannot pass an exception
    # on: a KeyboardInterrupt raised there aborts the process ("terminate called after
    # throwing an instance of 'pybind11::error_already_set'", SIGABRT). Ctrl-C is
    # therefore only recorded while the command line and what it needs are imported.
    with interrupts.starting():
        from trajcheck.cli import main as run
    if interrupts.pending():
        print(interrupts.STOPPED, file=sys.stderr)
        return interrupts.EXIT_CODE
    code = run()
    _exit_past_lingering_threads(code)
    return code


def _exit_past_lingering_threads(code: int) -> None:
    """Exit with ``code`` even when a thread that is not a daemon is still running (a
    --module that started one): Python would wait for it forever after the report is
    written. Such threads get THREAD_GRACE_SECONDS, then the process leaves without
    them, saying so in one line."""
    deadline = time.monotonic() + THREAD_GRACE_SECONDS
    for thread in _lingering():
        thread.join(max(0.0, deadline - time.monotonic()))
    left = _lingering()
    if not left:
        return
    names = ", ".join(sorted({t.name for t in left}))
    print(
        f"trajcheck: exiting with {code} although {len(left)} thread(s) a module or library "
        f"started still run ({names})",
        file=sys.stderr,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _lingering() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
