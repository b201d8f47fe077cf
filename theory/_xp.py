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
