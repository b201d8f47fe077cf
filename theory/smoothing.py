"""Family ``smoothing``: do trajectories (inner gradient steps) flatten the landscape?

Notation (CLAIMS.md): ``U_a(x) = x - a grad f(x)`` is one inner step, ``F_K = f o U_a^K``.
For a quadratic ``f(x) = 1/2 (x - x*)' A (x - x*) + f*`` with ``L = lmax(A)``,

    Hess F_K = (I - aA)^K A (I - aA)^K,

whose eigenvalues are ``g(l) = l (1 - a l)^(2K)`` over the eigenvalues ``l`` of ``A``.
"""

from typing import Any

from theory._xp import namespace
from trajcheck.core import Claim, Mutant

AMPLIFIED_CURVATURE_TOLERANCE = (
    "1e-12 relative to (2K+1)L: A = Q diag(spectrum) Q' is formed with an eigenvalue "
    "error of about d*eps*L, and d/dl of l(1-al)^(2K) reaches 4K+1 at a*l = 2, where "
    "(I-aA)^K stops damping it; the rest (products, eigvalsh) adds log2(K)*d*eps*L."
)
DAMPED_CURVATURE_TOLERANCE = (
    "1e-12 relative to L: with a*L <= 1 the eigenvalues of I-aA lie in [0, 1], so the "
    "power damps the d*eps*L error of forming A; products and eigvalsh add log2(K)*d*eps*L."
)


def spectral_filter(eigenvalue: Any, a: Any, K: Any) -> Any:
    """g(l) = l (1 - a l)^(2K): the curvature that K inner steps leave of eigenvalue l."""
    return eigenvalue * (1 - a * eigenvalue) ** (2 * K)


def adapted_curvature_bound(L: Any, a: Any, K: Any, factor: float = 1.0) -> Any:
    """factor * g(min(L, 1/(a(2K+1)))): the peak of g over [0, L] when 0 < a <= 1/L.

    g'(l) = (1 - a l)^(2K-1) (1 - a(2K+1) l) vanishes at l = 1/(a(2K+1)); g rises before
    that point and falls after it, so the peak over [0, L] sits there or at L.
    """
    xp = namespace(L, a)
    peak = 1 / (a * (2 * K + 1))
    return factor * spectral_filter(xp.minimum(L, peak), a, K)


QUADRATIC = Claim(
    id="smoothing.quadratic",
    title="Inner steps never sharpen a quadratic",
    statement=(
        "quadratic f, 0 < a <= 2/L, K >= 0: "
        "lmax(Hess F_{K+1}) <= lmax(Hess F_K) <= L, with Hess F_K = (I-aA)^K A (I-aA)^K."
    ),
    assumptions=("f quadratic with A symmetric PSD, L = lmax(A) > 0", "0 < a <= 2/L", "K >= 0"),
    source="summary",
    citation="summary of arXiv 2505.19815: trajectories smooth the loss landscape",
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=AMPLIFIED_CURVATURE_TOLERANCE,
    search_note="a*L drawn in (0, 2], dimension 1..max, spectrum in [0, L], Haar rotation.",
)

QUADRATIC_RATE = Claim(
    id="smoothing.quadratic_rate",
    title="Curvature after K inner steps decays like 1/(2K+1)",
    statement=(
        "quadratic f, 0 < a <= 1/L, K >= 1: lmax(Hess F_K) <= g(min(L, 1/(a(2K+1)))) with "
        "g(l) = l(1-al)^(2K); tight (attained when A has the eigenvalue 1/(a(2K+1)) <= L)."
    ),
    assumptions=("f quadratic with A symmetric PSD, L = lmax(A) > 0", "0 < a <= 1/L", "K >= 1"),
    source="summary",
    citation="summary of arXiv 2505.19815; closed form of Hess F_K for quadratics",
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=DAMPED_CURVATURE_TOLERANCE,
    constants={"factor": 1.0},
    mutants=(Mutant("times-0.99", "bound g(...) -> 0.99 g(...)", {"factor": 0.99}),),
    search_note=(
        "a*L drawn in (0, 1], K from 1, spectrum in [0, L]; the bound is attained at "
        "a*L <= 1/(2K+1) (peak beyond L) or by an eigenvalue at the peak 1/(a(2K+1))."
    ),
)

ANY_STEP = Claim(
    id="smoothing.any_step",
    title="The unconditional reading: any step size smooths",
    statement="for every a > 0 and K >= 1: lmax(Hess F_K) <= L.",
    assumptions=("f quadratic with A symmetric PSD, L = lmax(A) > 0", "a > 0", "K >= 1"),
    source="summary",
    citation="summary of arXiv 2505.19815, read without the step-size condition",
    kind="conjecture",
    expected="fails",
    rtol=1e-12,
    tolerance_note=AMPLIFIED_CURVATURE_TOLERANCE,
    search_note="a*L drawn in (0, 4]; the theorem's boundary is a*L = 2.",
)

CLAIMS = (QUADRATIC, QUADRATIC_RATE, ANY_STEP)
