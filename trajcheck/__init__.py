"""trajcheck: optimization claims about trajectory-aided reasoning, checked by search.

The public names: :func:`verify` runs claims and :func:`load` reads a saved run, both
giving a :class:`Run` (``trajcheck.api``); :func:`diff` compares two runs
(``trajcheck.compare``); :class:`Claim`, :class:`Property` and :class:`Result` are what a new
claim is made of (``trajcheck.core``).

They are imported on first use, not with the package: the console script must be able to
take charge of Ctrl-C (``trajcheck.__main__``) before torch is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Claim",
    "MalformedResults",
    "Property",
    "Result",
    "Run",
    "RunDiff",
    "RunNotWritten",
    "UsageError",
    "diff",
    "load",
    "verify",
]

#: Where each public name lives.
_HOMES = {
    "Claim": "trajcheck.core",
    "Property": "trajcheck.core",
    "Result": "trajcheck.core",
    "Run": "trajcheck.api",
    "UsageError": "trajcheck.api",
    "RunNotWritten": "trajcheck.api",
    "load": "trajcheck.api",
    "verify": "trajcheck.api",
    "MalformedResults": "trajcheck.report.results",
    "RunDiff": "trajcheck.compare",
    "diff": "trajcheck.compare",
}

if TYPE_CHECKING:
    from trajcheck.api import Run, RunNotWritten, UsageError, load, verify
    from trajcheck.compare import RunDiff, diff
    from trajcheck.core import Claim, Property, Result
    from trajcheck.report.results import MalformedResults


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'trajcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
