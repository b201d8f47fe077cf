"""The array namespace of the arguments, so that bounds work on numpy and torch alike."""

from typing import Any

import array_api_compat
import numpy as np


def namespace(*values: Any) -> Any:
    """numpy for plain Python numbers, else the namespace of the array arguments."""
    arrays = [v for v in values if not isinstance(v, int | float)]
    if not arrays:
        return array_api_compat.array_namespace(np.asarray(0.0))
    return array_api_compat.array_namespace(*arrays)


def as_real(value: Any, like: Any) -> Any:
    """``value`` in the real dtype of ``like`` when it is an integer array: torch promotes
    an int64 tensor combined with a Python float to its default dtype (float32 unless
    set), so a bound such as 4K + 2.2 must not see K as integers."""
    if isinstance(value, int | float) or isinstance(like, int | float):
        return value
    xp = namespace(value, like)
    if xp.isdtype(value.dtype, "integral"):
        return xp.astype(value, like.dtype)
    return value
