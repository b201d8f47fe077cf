"""Small composable Hypothesis strategies for the instances the properties draw.

Every strategy returns JSON-ready values (floats, ints, lists), so that a shrunk
counterexample can be written to a file and replayed exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from trajcheck.core import Limits, Params

#: Range of the top eigenvalue L: wide enough that scale-dependence would show.
SMOOTHNESS = st.floats(min_value=1e-2, max_value=1e2)


def dimensions(limits: Limits) -> st.SearchStrategy[int]:
    """Dimension d; drawn first so that a counterexample shrinks toward d = 1."""
    return st.integers(min_value=1, max_value=limits.max_dimension)


def step_counts(limits: Limits, min_steps: int = 0) -> st.SearchStrategy[int]:
    """Number K of inner (trajectory) steps."""
    return st.integers(min_value=min_steps, max_value=limits.max_steps)


def unit_interval(*, exclude_min: bool = False, exclude_max: bool = False) -> Any:
    return st.floats(0.0, 1.0, exclude_min=exclude_min, exclude_max=exclude_max)


def haar_rotation(d: int, seed: int) -> list[list[float]]:
    """An orthogonal d x d matrix drawn from the Haar measure (QR with sign correction).

    Drawn from a seed rather than entry by entry: d^2 Hypothesis floats would shrink to
    a singular matrix, and the rotation only matters up to its distribution.
    """
    gaussian = np.random.default_rng(seed).standard_normal((d, d))
    q, r = np.linalg.qr(gaussian)
    return (q * np.sign(np.diag(r))).tolist()


def rotations(d: int) -> st.SearchStrategy[list[list[float]]]:
    return st.integers(0, 2**32 - 1).map(lambda seed: haar_rotation(d, seed))


@st.composite
def spectra(draw: st.DrawFn, d: int, *, min_ratio: float = 0.0) -> list[float]:
    """Eigenvalues of A: the top one is L, the others L * r with r in [min_ratio, 1].

    Putting L first makes L = lmax(A) exact rather than a maximum recomputed in floats.
    """
    L = draw(SMOOTHNESS)
    ratios = draw(st.lists(st.floats(min_ratio, 1.0), min_size=d - 1, max_size=d - 1))
    return [L] + [L * r for r in ratios]


def vectors(d: int, bound: float = 10.0) -> st.SearchStrategy[list[float]]:
    return st.lists(st.floats(-bound, bound), min_size=d, max_size=d)


@st.composite
def quadratics(draw: st.DrawFn, limits: Limits, *, min_ratio: float = 0.0) -> Params:
    """A quadratic's A = Q diag(spectrum) Q': keys ``spectrum`` and ``rotation``."""
    d = draw(dimensions(limits))
    return {
        "spectrum": draw(spectra(d, min_ratio=min_ratio)),
        "rotation": draw(rotations(d)),
    }


def dimension_of(params: Params) -> int:
    return len(params["spectrum"])
