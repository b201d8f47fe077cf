"""Fixed instances kept as regressions: some once broke a true theorem through rounding,
others are minimal counterexamples the search found, replayed.

Each was found by the search itself; the claims' tests do not depend on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from trajcheck.core import to_batch
from trajcheck.discovery import discover
from trajcheck.evaluation import evaluate, margins

CATALOGUE = discover()
CPU = torch.device("cpu")
DATA = Path(__file__).parent / "data"


def _violates(claim_id: str, params: dict) -> bool:
    prop = CATALOGUE.entries[claim_id].props[0]
    return evaluate(prop, params, prop.claim.constants, CPU).violates(prop.claim.rtol)


def test_contraction_scale_counts_the_injected_iterate() -> None:
    """x0 = 0, x* = 1e-12, e = 1, a*L = 1: the injected iterate has norm 1, so rounding
    of order eps is relative to it, not to the iterates before the injection."""
    params = {
        "spectrum": [1.0],
        "rotation": [[1.0]],
        "center": [1e-12],
        "x0": [0.0],
        "error": [1.0],
        "K": 1,
        "j": 0,
        "a": 1.0,
    }
    assert not _violates("descent.error_contraction", params)


def test_monotone_curvature_at_the_boundary_with_a_repeated_top_eigenvalue() -> None:
    """a*L = 2 with a 4-fold top eigenvalue, d = 7, K = 32: (I - aA)^K has eigenvalue -1
    there and amplifies the d*eps*L rounding of A about 4K-fold. Relative to L alone the
    margin is -1e-13; relative to (2K+1)L, the claim's documented scale, it is noise."""
    params = json.loads((DATA / "smoothing_quadratic_boundary.json").read_text())
    prop = CATALOGUE.entries["smoothing.quadratic"].props[0]
    m = prop.measure(to_batch(params, CPU), prop.claim.constants)
    L = torch.tensor([params["spectrum"][0]], dtype=torch.float64)
    assert margins(m.lhs, m.rhs, L).min().item() < -1e-14  # the delicate case it was
    assert not _violates("smoothing.quadratic", params)


def test_block_descent_where_the_first_update_reaches_the_rounding_floor() -> None:
    """x0 on the first block and 0 elsewhere: the first update takes z from 12 to about
    4e-15, and every later update works on rounding residue. An update's rounding must be
    relative to the iterate it updates: the same sweeps done as one product by M per
    sweep rounded relative to the sweep's start, and f rose by more than the tolerance."""
    params = json.loads((DATA / "block_descent_contracting_sweep.json").read_text())
    assert not _violates("decomposition.block_descent", params)


def test_two_coupled_coordinates_make_blocks_dearer_than_cholesky() -> None:
    """The search's minimal counterexample to decomposition.cheaper, replayed: n = 2 in two
    blocks of one, eps = 0.1. One sweep costs 12 flops after 2/3 of setup, and coupling
    makes it take two sweeps: 24.67 flops against 8/3 + 16 = 18.67 for Cholesky."""
    c, s = 0.192646, 0.981268
    params = {
        "spectrum": [1.0, 0.125],
        "rotation": [[c, -s], [s, c]],
        "blocks": [0, 1],
        "x0": [0.0, 1.0],
        "digits": 1,
    }
    prop = CATALOGUE.entries["decomposition.cheaper"].props[0]
    m = prop.measure(to_batch(params, CPU), prop.claim.constants)
    assert m.notes["sweeps"].item() == 2
    assert m.lhs.item() == 2 / 3 + 2 * 12 and m.rhs.item() == 8 / 3 + 16
    assert _violates("decomposition.cheaper", params)


def test_a_trained_layer_that_stalls_at_a_rank_one_saddle() -> None:
    """A stalled run of icl.trained_lsa's census (ci, --seed 1), trained again alone:
    d = 3, N = 14. Adam leaves W_K'W_Q of rank one, and the layer predicts unlike one
    gradient step (cosine 0.53 in the census)."""
    params = {"d": 3, "N": 14, "seed": 927586281}
    prop = CATALOGUE.entries["icl.trained_lsa"].props[0]
    m = prop.measure(to_batch(params, CPU), prop.claim.constants)
    assert m.notes["cosine"].item() < 0.9 and m.notes["gap"].item() > 0.5
    assert _violates("icl.trained_lsa", params)


def test_gradient_identity_scale_survives_a_gradient_of_1e_minus_279() -> None:
    """Found by the thorough search: a*L = 1 along a cosine's only direction makes
    (I - a H) cancel exactly, and the gradient at x_K is about 1e-279; the sum of its
    squared entries underflowed to 0, so the rounding scale was 0 and two residues of
    1e-296 of opposite sign read as a violation. The scale's norm now avoids underflow."""
    params = json.loads((DATA / "gradient_identity_underflow.json").read_text())
    prop = next(p for p in CATALOGUE.entries["meta.gradient_identity"].props if p.model == "cosine")
    m = prop.measure(to_batch(params, CPU), prop.claim.constants)
    assert m.scale is not None and m.scale.item() > 0
    assert not evaluate(prop, params, prop.claim.constants, CPU).violates(prop.claim.rtol)
