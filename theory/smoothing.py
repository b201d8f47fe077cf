"""Family ``smoothing``: do trajectories (inner gradient steps) flatten the landscape?

Notation (every family): ``U_a(x) = x - a grad f(x)`` is one inner step, ``F_K = f o U_a^K``.
For a quadratic ``f(x) = 1/2 (x - x*)' A (x - x*) + f*`` with ``L = lmax(A)``,

    Hess F_K = (I - aA)^K A (I - aA)^K,

whose eigenvalues are ``g(l) = l (1 - a l)^(2K)`` over the eigenvalues ``l`` of ``A``.
"""

from typing import Any

from trajcheck.core import Claim, Mutant
from trajcheck_catalogue.theory._xp import namespace

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


def maml_hessian_bound(L: Any, rho: Any, G: Any, a: Any) -> Any:
    """4L + 2 a rho G: the bound on ||Hess F_1|| of Fallah, Mokhtari, Ozdaglar (2020),
    Lemma 1, for 0 < a <= 1/L."""
    return 4 * L + 2 * a * rho * G


def one_step_hessian_estimate(L: Any, rho: Any, G: Any, a: Any) -> Any:
    """(1 + aL)^2 L + a rho G: what the chain rule gives before 1 + aL <= 2 and the
    factor 2 on a rho G; ||Hess F_1|| <= this <= maml_hessian_bound."""
    return (1 + a * L) ** 2 * L + a * rho * G


COSINE_TOLERANCE = (
    "1e-12 relative to L: the phases w'x + b (|.| <= 50 here) are rounded before cos and "
    "sin, which puts an absolute error of about 50*eps*L on each curvature."
)

QUADRATIC = Claim(
    id="smoothing.quadratic",
    latex=(
        r"\lambda_{\max}(\nabla^2 F_{K+1}) \leq \lambda_{\max}(\nabla^2 F_K) \leq L \quad (0 < a "
        r"\leq 2/L,\ K \geq 0) \\ "
        r"\nabla^2 F_K = (I - aA)^K A (I - aA)^K"
    ),
    references=("liu2025deciphering",),
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
    latex=(
        r"\lambda_{\max}(\nabla^2 F_K) \leq g(\min(L,\ 1/(a(2K+1)))) "
        r"\quad (0 < a \leq 1/L,\ K \geq 1) \\ "
        r"g(\lambda) = \lambda (1 - a\lambda)^{2K}"
    ),
    references=("liu2025deciphering",),
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
    latex=r"\lambda_{\max}(\nabla^2 F_K) \leq L \quad \mathrm{for\ every}\ a > 0,\ K \geq 1",
    references=("liu2025deciphering",),
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

NONQUADRATIC = Claim(
    id="smoothing.nonquadratic",
    latex=(
        r"\sup_x\ \lambda_{\max}(\nabla^2 F_1(x)) \leq L \quad (0 < a \leq 1/L) \\ "
        r"f(x) = \sum_j c_j \cos(w_j^\top x + b_j), \quad L = \sum_j |c_j|\, \|w_j\|^2"
    ),
    references=("liu2025deciphering",),
    title="One inner step never sharpens an L-smooth loss",
    statement=(
        "f L-smooth but not quadratic, 0 < a <= 1/L: sup_x lmax(Hess F_1(x)) <= L. "
        "Family: f(x) = sum_j c_j cos(w_j'x + b_j), L = sum_j |c_j| ||w_j||^2."
    ),
    assumptions=("f = sum_j c_j cos(w_j'x + b_j), L = sum_j |c_j| ||w_j||^2", "0 < a <= 1/L"),
    source="summary",
    citation="summary of arXiv 2505.19815 (smoothing), carried beyond quadratics",
    kind="conjecture",
    expected="fails",
    rtol=1e-12,
    tolerance_note=COSINE_TOLERANCE,
    search_note="cosine sums, 1-4 terms, a*L in (0, 1], x in [-4, 4]^d.",
)

MAML_BOUND = Claim(
    id="smoothing.maml_bound",
    latex=(
        r"\|\nabla^2 F_1(x)\| \leq 4L + 2 a \rho G \quad (0 < a \leq 1/L) \\ "
        r"\rho = \sum_j |c_j|\, \|w_j\|^3, \quad G = \sum_j |c_j|\, \|w_j\|"
    ),
    references=("fallah2020convergence",),
    title="The MAML curvature bound 4L + 2a rho G",
    statement=(
        "each f L-smooth, rho-Hessian-Lipschitz, G-Lipschitz, 0 < a <= 1/L: "
        "||Hess F_1(x)|| <= 4L + 2 a rho G. Cosine family: rho = sum |c_j| ||w_j||^3, "
        "G = sum |c_j| ||w_j||."
    ),
    assumptions=(
        "f = sum_j c_j cos(w_j'x + b_j) with L, rho, G as stated",
        "0 < a <= 1/L",
    ),
    source="established",
    citation=(
        "Fallah, Mokhtari, Ozdaglar, On the convergence theory of gradient-based "
        "model-agnostic meta-learning algorithms, AISTATS 2020, Lemma 1"
    ),
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=COSINE_TOLERANCE.replace("relative to L", "relative to the bound"),
    search_note=(
        "cosine sums, 1-4 terms, a*L in (0, 1], x in [-4, 4]^d; the note 'chain rule' is "
        "||Hess F_1|| / ((1 + aL)^2 L + a rho G), the sharper bound before rounding up."
    ),
)

CLAIMS = (QUADRATIC, QUADRATIC_RATE, ANY_STEP, NONQUADRATIC, MAML_BOUND)
