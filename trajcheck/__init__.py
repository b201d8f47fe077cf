"""trajcheck: optimization claims about trajectory-aided reasoning, checked by search.

The three names below are imported on first use, not with the package: the console
script must be able to take charge of Ctrl-C (``trajcheck.__main__``) before torch is
imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Claim", "Property", "Result"]

if TYPE_CHECKING:
    from trajcheck.core import Claim, Property, Result


def __getattr__(name: str) -> Any:
    if name in __all__:
        from trajcheck import core

        return getattr(core, name)
    raise AttributeError(f"module 'trajcheck' has no attribute {name!r}")
