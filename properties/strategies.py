"""The instances the properties draw: programs (``properties.draws``), each read both as a
Hypothesis strategy and as the sweep's batched sampler, and small Hypothesis strategies.

Every strategy returns JSON-ready values (floats, ints, lists), so that a shrunk
counterexample can be written to a file and replayed exactly. A program's strategy keeps
the name the strategy had before programs existed (``quadratics``, ``cosine_sums``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from trajcheck.core import Batch, Frontier, Params, Profile
from trajcheck_catalogue.models.logistic import spanning_anchors
from trajcheck_catalogue.properties.draws import Draws, strategy

#: Range of the top eigenvalue L: wide enough that scale-dependence would show.
SMOOTHNESS_RANGE = (1e-2, 1e2)
SMOOTHNESS = st.floats(*SMOOTHNESS_RANGE)


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


def vectors(d: int, bound: float = 10.0) -> st.SearchStrategy[list[float]]:
    return st.lists(st.floats(-bound, bound), min_size=d, max_size=d)


def draw_spectrum(draw: Draws, d: int, *, min_ratio: float = 0.0) -> torch.Tensor:
    """Eigenvalues of A, (B, d): the top one is L in [1e-2, 1e2], the others L * r with
    r in [min_ratio, 1]. Putting L first makes L = lmax(A) exact rather than a maximum
    recomputed in floats."""
    L = draw.floats(*SMOOTHNESS_RANGE)
    ratios = draw.floats(min_ratio, 1.0, (d - 1,))
    return torch.cat([L[:, None], L[:, None] * ratios], dim=-1)


def draw_quadratic(draw: Draws, *, min_ratio: float = 0.0) -> Batch:
    """A quadratic's A = Q diag(spectrum) Q': keys ``spectrum`` (L first) and ``rotation``
    (Haar); the dimension is drawn first, so that a counterexample shrinks toward d = 1."""
    d = draw.dimension()
    return {"spectrum": draw_spectrum(draw, d, min_ratio=min_ratio), "rotation": draw.rotations(d)}


def quadratics(profile: Profile, *, min_ratio: float = 0.0) -> st.SearchStrategy[Params]:
    """``draw_quadratic`` as a Hypothesis strategy."""
    return strategy(partial(draw_quadratic, min_ratio=min_ratio))(profile)


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


def toward_an_eigenvector(
    draw: Draws, quadratic: Batch, point: torch.Tensor, bound: float,
    around: torch.Tensor | None = None,
) -> torch.Tensor:  # fmt: skip
    """``point`` half of the time; otherwise around + t v, with v the eigenvector of A's
    largest eigenvalue or of its smallest (half of those times each) and t in
    [-bound, bound]. Where a bound is attained along one eigenvector (a gradient along the
    top curvature, an error along the slowest direction), a point drawn uniformly in a
    box of dimension d comes close to it with a probability that falls with d; this
    reaches it at every d."""
    spectrum, rotation = quadratic["spectrum"], quadratic["rotation"]
    smallest = spectrum.argmin(dim=-1).view(-1, 1, 1).expand(-1, rotation.shape[-1], 1)
    top, bottom = rotation[:, :, 0], rotation.gather(-1, smallest)[..., 0]
    direction = torch.where(draw.booleans()[:, None], top, bottom)
    aligned = draw.floats(-bound, bound)[:, None] * direction
    if around is not None:
        aligned = around + aligned
    return torch.where(draw.booleans()[:, None], aligned, point)


def draw_cosine_sum(draw: Draws, max_terms: int = 4) -> Batch:
    """f(x) = sum_j c_j cos(w_j'x + b_j): keys ``coef``, ``freq``, ``phase``.

    |c_j| in [0.1, 2] and ||w_j|| in [0.1, 3], so that L > 0; each w_j is a length times
    a direction, so that a one-dimensional counterexample shrinks to w_j = +-length.
    Half the draws have one dimension and half one term: L = sum |c_j| ||w_j||^2 bounds
    the curvature exactly only for one term in one dimension, and grows looser with more.
    """
    d = draw.dimension(favour_low=True)
    m = draw.length(1, max_terms, favour_low=True)
    # Always max_terms terms drawn, the first m kept: with lists of length m, Hypothesis's
    # target phase, changing m, shifted every later draw and overran its buffer; on
    # meta.gradient_identity it spent 78 s on 347 examples of its 1,000 (now 17 s, 1,000).
    coef = draw.signs((max_terms,)) * draw.floats(0.1, 2.0, (max_terms,))
    freq = draw.floats(0.1, 3.0, (max_terms,)).unsqueeze(-1) * draw.directions(max_terms, d)
    phase = draw.floats(-np.pi, np.pi, (max_terms,))
    return {"coef": coef[:, :m], "freq": freq[:, :m], "phase": phase[:, :m]}


def cosine_sums(profile: Profile, max_terms: int = 4) -> st.SearchStrategy[Params]:
    """``draw_cosine_sum`` as a Hypothesis strategy."""
    return strategy(partial(draw_cosine_sum, max_terms=max_terms))(profile)


def cosine_smoothness(params: Params) -> float:
    """L = sum_j |c_j| ||w_j||^2 of drawn cosine-sum parameters (to set a = s/L)."""
    coef, freq = np.array(params["coef"]), np.array(params["freq"])
    return float((np.abs(coef) * (freq**2).sum(-1)).sum())


def cosine_dimension(params: Params) -> int:
    return len(params["freq"][0])


def draw_logistic(draw: Draws, *, ridge: bool | None) -> Batch:
    """Logistic regression data: keys ``features`` (n + d + 1 rows), ``labels``, ``ridge``.

    1-12 drawn samples in [-3, 3]^d (on one line half of the time) with labels +-1, then
    the d + 1 anchor points of
    ``models.logistic.spanning_anchors`` (label +1), so that a minimizer exists even
    with ridge = 0. With ``ridge``, a ridge term in [1e-3, 1] makes f strongly convex;
    ``ridge=None`` draws whether there is one.
    """
    d = draw.dimension()
    n = draw.length(1, 12)
    samples = draw.floats(-3.0, 3.0, (n, d))
    # half of the time the samples lie on one line: the curvature then has one top
    # direction, along which the gradient at 0 points, and the smoothness bound is
    # nearly attained there (rarely so for scattered samples in high dimension)
    on_a_line = draw.floats(-3.0, 3.0, (n,))[..., None] * draw.directions(1, d)
    samples = torch.where(draw.booleans()[:, None, None], on_a_line, samples)
    labels = draw.signs((n,))
    anchors = torch.as_tensor(spanning_anchors(d), dtype=samples.dtype, device=samples.device)
    size = samples.shape[0]
    features = torch.cat([samples, anchors.expand(size, d + 1, d)], dim=1)
    labels = torch.cat([labels, labels.new_ones(size, d + 1)], dim=1)
    with_ridge = draw.booleans() if ridge is None else None
    strength = draw.floats(1e-3, 1.0) if ridge is not False else torch.zeros_like(labels[:, 0])
    if with_ridge is not None:
        strength = torch.where(with_ridge, strength, 0.0)
    return {"features": features, "labels": labels, "ridge": strength}


def near_zero(draw: Draws, point: torch.Tensor) -> torch.Tensor:
    """``point`` half of the time, otherwise ``point`` scaled by a fraction in [0, 1]
    (log-uniform an eighth of the time): a logistic loss curves most at 0, where every
    margin is 0."""
    return torch.where(draw.booleans()[:, None], point, draw.unit_interval()[:, None] * point)


def logistic_regressions(profile: Profile, *, ridge: bool) -> st.SearchStrategy[Params]:
    """``draw_logistic`` as a Hypothesis strategy."""
    return strategy(partial(draw_logistic, ridge=ridge))(profile)


def logistic_constants(params: Params) -> tuple[float, float]:
    """(mu, L) = (ridge, lmax(X'X)/(4n) + ridge) of drawn logistic-regression parameters."""
    X = np.array(params["features"])
    L = float(np.linalg.eigvalsh(X.T @ X)[-1]) / (4 * len(X)) + params["ridge"]
    return params["ridge"], L


def features_dimension(params: Params) -> int:
    return len(params["features"][0])


def draw_positive_definite(
    draw: Draws, *, min_dimension: int = 1, favour_smallest: bool = False
) -> Batch:
    """A positive definite A = Q diag(spectrum) Q' (ratios in [1e-3, 1], so cond <= 1e3);
    half of the time Q = I, where coordinate subsets isolate eigenvectors.

    ``favour_smallest`` draws the smallest dimension half of the time: where failures are
    common in every dimension, the first one found is then often already of the smallest,
    which the shrinker, stepping down one choice at a time, does not always reach.
    """
    d = draw.dimension(min_dimension, favour_low=favour_smallest)
    # one choice each, whatever d: shrinking d then leaves them in place, and only the
    # lists drawn last (the spectrum) change length
    identity = draw.booleans()
    rotation = draw.rotations(d)
    eye = torch.eye(d, dtype=rotation.dtype, device=rotation.device)
    rotation = torch.where(identity.view(-1, 1, 1), eye, rotation)
    return {"spectrum": draw_spectrum(draw, d, min_ratio=1e-3), "rotation": rotation}


def positive_definite(
    profile: Profile, *, min_dimension: int = 1, favour_smallest: bool = False
) -> st.SearchStrategy[Params]:
    """``draw_positive_definite`` as a Hypothesis strategy."""
    program = partial(
        draw_positive_definite, min_dimension=min_dimension, favour_smallest=favour_smallest
    )
    return strategy(program)(profile)
