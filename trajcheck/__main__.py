"""The ``trajcheck`` console script, and ``python -m trajcheck``."""

from __future__ import annotations

import sys

from trajcheck import interrupts


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
    return run()


if __name__ == "__main__":
    sys.exit(main())
