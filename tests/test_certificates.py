"""Performance-estimation certificates: each agrees with its closed form over a table of
parameters (PEPit's own tests compare the numerical value with the theoretical one so),
and each is recorded in the shape the reports draw without knowing the claim."""

from __future__ import annotations

import pytest

from trajcheck_catalogue.properties import pep

#: The SDP value against the closed form: CLARABEL's accuracy at L = 1 is about 1e-9.
AGREEMENT = 1e-6


@pytest.mark.parametrize(("L", "K"), [(1.0, 1), (84.0, 10), (10.9, 14), (0.01, 32)])
def test_gradient_descent_convex_matches_drori_teboulle(L: float, K: int) -> None:
    worst = pep.gradient_descent_convex(L, K)
    assert worst.theoretical == pytest.approx(L / (4 * K + 2), rel=1e-15)
    assert worst.relative_gap <= AGREEMENT
    assert len(worst.trajectory) == K + 1 and worst.trajectory[-1] == pytest.approx(
        worst.value, rel=AGREEMENT
    )


#: (L, mu, a as a fraction of 2/(mu + L), K): scales of L from 1e-2 to 1e2, condition
#: numbers to 1e3 (the searched range), the longest trajectory a certificate solves for.
STRONGLY_CONVEX_TABLE = [
    (1.0, 0.1, 1.0, 1),
    (1.0, 0.5, 0.3, 5),
    (84.0, 0.5, 0.7, 12),
    (0.02, 0.001, 1.0, 7),
    (100.0, 0.1, 0.05, pep.MAX_STEPS),
]


@pytest.mark.parametrize(("L", "mu", "fraction", "K"), STRONGLY_CONVEX_TABLE)
def test_strongly_convex_gd_matches_its_rate(L: float, mu: float, fraction: float, K: int) -> None:
    a = fraction * 2 / (mu + L)
    worst = pep.gradient_descent_strongly_convex(L, mu, a, K)
    q = max(abs(1 - a * mu), abs(1 - a * L))
    assert worst.theoretical == pytest.approx(q**K, rel=1e-12)
    assert worst.relative_gap <= AGREEMENT
    assert len(worst.trajectory) == K + 1


@pytest.mark.parametrize(("L", "mu", "fraction", "K"), STRONGLY_CONVEX_TABLE)
def test_error_contraction_matches_its_factor(L: float, mu: float, fraction: float, K: int) -> None:
    a = fraction * 2 / (mu + L)
    worst = pep.gradient_descent_contraction(L, mu, a, K)
    q = max(abs(1 - a * mu), abs(1 - a * L))
    assert worst.theoretical == pytest.approx(q**K, rel=1e-12)
    assert worst.relative_gap <= AGREEMENT
    assert worst.trajectory[0] == pytest.approx(1.0, rel=AGREEMENT)  # ||e|| = 1 is active


@pytest.mark.parametrize(
    ("L", "aL"), [(1.0, 0.5), (1.0, 1.0), (10.0, 1.99), (0.01, 0.01), (100.0, 1.5)]
)
def test_descent_lemma_matches_its_bound(L: float, aL: float) -> None:
    a = aL / L
    worst = pep.gradient_step_smooth(L, a)
    assert worst.theoretical == pytest.approx(-a * (1 - aL / 2), rel=1e-12)
    assert worst.relative_gap <= AGREEMENT
