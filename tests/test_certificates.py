"""Performance-estimation certificates: each agrees with its closed form over a table of
parameters (PEPit's own tests compare the numerical value with the theoretical one so),
and each is recorded in the shape the reports draw without knowing the claim."""

from __future__ import annotations

import pytest

from properties import pep

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
