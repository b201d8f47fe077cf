"""Small composable Hypothesis strategies for the instances the properties draw.

Every strategy returns JSON-ready values (floats, ints, lists), so that a shrunk
counterexample can be written to a file and replayed exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from trajcheck.core import Frontier, Params, Profile
from trajcheck_catalogue.models.blocks import block_labels
from trajcheck_catalogue.models.logistic import spanning_anchors
from trajcheck_catalogue.models.norms import norm

#: Range of the top eigenvalue L: wide enough that scale-dependence would show.
SMOOTHNESS = st.floats(min_value=1e-2, max_value=1e2)


def dimensions(profile: Profile) -> st.SearchStrategy[int]:
    """Dimension d; drawn first so that a counterexample shrinks toward d = 1."""
    return st.integers(min_value=1, max_value=profile.max_dimension)


def step_counts(profile: Profile, min_steps: int = 0) -> st.SearchStrategy[int]:
    """Number K of inner (trajectory) steps."""
    return st.integers(min_value=min_steps, max_value=profile.max_steps)


def unit_interval(*, exclude_min: bool = False, exclude_max: bool = False) -> Any:
    """A fraction in [0, 1]; when 0 is excluded, no subnormal either: a step size drawn as
    a fraction of its bound and divided by L would underflow to a = 0, outside the
    assumptions of every claim (0 < a)."""
    return st.floats(
        0.0, 1.0, exclude_min=exclude_min, exclude_max=exclude_max, allow_subnormal=not exclude_min
    )


def step_fractions(high: float, *, exclude_max: bool = False) -> st.SearchStrategy[float]:
    """A step size as a fraction of its bound, in (0, high]: positive and never subnormal
    (see ``unit_interval``)."""
    return st.floats(0.0, high, exclude_min=True, exclude_max=exclude_max, allow_subnormal=False)


def up_to_the_boundary() -> st.SearchStrategy[float]:
    """A fraction in (0, 1], and exactly 1 half of the time: a step-size assumption such
    as a <= 1/L is most often broken, if at all, at its boundary."""
    return st.one_of(st.just(1.0), unit_interval(exclude_min=True))


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
def quadratics(draw: st.DrawFn, profile: Profile, *, min_ratio: float = 0.0) -> Params:
    """A quadratic's A = Q diag(spectrum) Q': keys ``spectrum`` and ``rotation``."""
    d = draw(dimensions(profile))
    return {
        "spectrum": draw(spectra(d, min_ratio=min_ratio)),
        "rotation": draw(rotations(d)),
    }


def dimension_of(params: Params) -> int:
    return len(params["spectrum"])


def steps_of(params: Params) -> int:
    """The number K of inner steps of an instance that has one."""
    return int(params["K"])


def step_frontier(smoothness: Callable[[Params], float], safe_aL: float) -> Frontier:
    """Bisect the step a, reported as a*L, from a*L = ``safe_aL`` (where the claim holds)
    to the counterexample's step."""
    return Frontier(
        parameter="a",
        label="a*L",
        safe=lambda params: safe_aL / smoothness(params),
        report=lambda params, a: a * smoothness(params),
    )


def unit_vector(d: int, seed: int) -> list[float]:
    """A direction drawn uniformly on the sphere (from a seed, like the rotations)."""
    v = np.random.default_rng(seed).standard_normal(d)
    return (v / float(norm(torch.as_tensor(v)))).tolist()


@st.composite
def cosine_sums(draw: st.DrawFn, profile: Profile, max_terms: int = 4) -> Params:
    """f(x) = sum_j c_j cos(w_j'x + b_j): keys ``coef``, ``freq``, ``phase``.

    |c_j| in [0.1, 2] and ||w_j|| in [0.1, 3], so that L > 0; each w_j is a length times
    a direction, so that a one-dimensional counterexample shrinks to w_j = +-length.
    Half the draws have one dimension and half one term: L = sum |c_j| ||w_j||^2 bounds
    the curvature exactly only for one term in one dimension, and grows looser with more.
    """
    d = draw(st.one_of(st.just(1), dimensions(profile)))
    m = draw(st.one_of(st.just(1), st.integers(1, max_terms)))
    # Always max_terms terms drawn, the first m kept: with lists of length m, Hypothesis's
    # target phase, changing m, shifted every later draw and overran its buffer; on
    # meta.gradient_identity it spent 78 s on 347 examples of its 1,000 (now 17 s, 1,000).
    term = st.tuples(
        st.sampled_from([1.0, -1.0]),  # sign of c_j
        st.floats(0.1, 2.0),  # |c_j|
        st.floats(0.1, 3.0),  # ||w_j||
        st.integers(0, 2**32 - 1),  # seed of w_j's direction
        st.floats(-np.pi, np.pi),  # b_j
    )
    terms = draw(st.lists(term, min_size=max_terms, max_size=max_terms))[:m]
    return {
        "coef": [sign * size for sign, size, *_ in terms],
        "freq": [[length * u for u in unit_vector(d, seed)] for _, _, length, seed, _ in terms],
        "phase": [phase for *_, phase in terms],
    }


def cosine_smoothness(params: Params) -> float:
    """L = sum_j |c_j| ||w_j||^2 of drawn cosine-sum parameters (to set a = s/L)."""
    coef, freq = np.array(params["coef"]), np.array(params["freq"])
    return float((np.abs(coef) * (freq**2).sum(-1)).sum())


def cosine_dimension(params: Params) -> int:
    return len(params["freq"][0])


@st.composite
def logistic_regressions(draw: st.DrawFn, profile: Profile, *, ridge: bool) -> Params:
    """Logistic regression data: keys ``features`` (n + d + 1 rows), ``labels``, ``ridge``.

    1-12 drawn samples in [-3, 3]^d with labels +-1, then the d + 1 anchor points of
    ``models.logistic.spanning_anchors`` (label +1), so that a minimizer exists even
    with ridge = 0. With ``ridge``, a ridge term in [1e-3, 1] makes f strongly convex.
    """
    d = draw(dimensions(profile))
    n = draw(st.integers(1, 12))
    samples = draw(st.lists(vectors(d, 3.0), min_size=n, max_size=n))
    labels = draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=n, max_size=n))
    return {
        "features": samples + spanning_anchors(d).tolist(),
        "labels": labels + [1.0] * (d + 1),
        "ridge": draw(st.floats(1e-3, 1.0)) if ridge else 0.0,
    }


def logistic_constants(params: Params) -> tuple[float, float]:
    """(mu, L) = (ridge, lmax(X'X)/(4n) + ridge) of drawn logistic-regression parameters."""
    X = np.array(params["features"])
    L = float(np.linalg.eigvalsh(X.T @ X)[-1]) / (4 * len(X)) + params["ridge"]
    return params["ridge"], L


def features_dimension(params: Params) -> int:
    return len(params["features"][0])


@st.composite
def positive_definite(
    draw: st.DrawFn, profile: Profile, *, min_dimension: int = 1, favour_smallest: bool = False
) -> Params:
    """A positive definite A = Q diag(spectrum) Q' (ratios in [1e-3, 1], so cond <= 1e3);
    half of the time Q = I, where coordinate subsets isolate eigenvectors.

    ``favour_smallest`` draws the smallest dimension half of the time: where failures are
    common in every dimension, the first one found is then often already of the smallest,
    which the shrinker, stepping down one choice at a time, does not always reach.
    """
    dimensions_ = st.integers(min_dimension, max(min_dimension, profile.max_dimension))
    if favour_smallest:
        dimensions_ = st.one_of(st.just(min_dimension), dimensions_)
    d = draw(dimensions_)
    # one choice each, whatever d: shrinking d then leaves them in place, and only the
    # lists drawn last (the spectrum) change length
    rotation = np.eye(d).tolist() if draw(st.booleans()) else draw(rotations(d))
    return {"spectrum": draw(spectra(d, min_ratio=1e-3)), "rotation": rotation}


def index_sets(d: int, *, proper: bool = False) -> st.SearchStrategy[list[int]]:
    """A non-empty subset of range(d) (a proper one if asked), sorted; shrinks toward {0}."""
    return st.sets(st.integers(0, d - 1), min_size=1, max_size=d - 1 if proper else d).map(sorted)


@st.composite
def block_partitions(draw: st.DrawFn, d: int, *, min_blocks: int = 1) -> list[int]:
    """Contiguous blocks of range(d), as the block label of each coordinate.

    The cuts between blocks are drawn (so the number of blocks and their sizes are);
    a partition shrinks toward few cuts near the start.
    """
    if d == 1:
        return [0]
    cuts = draw(st.sets(st.integers(1, d - 1), min_size=min_blocks - 1, max_size=d - 1))
    edges = [0, *sorted(cuts), d]
    return block_labels([hi - lo for lo, hi in itertools.pairwise(edges)])
