"""Family ``descent``: gradient flow and the correction of errors along a trajectory."""

from typing import Any

from trajcheck.core import Claim, Mutant
from trajcheck_catalogue.theory._xp import namespace


def descent_lemma_bound(f_x: Any, grad_sq: Any, a: Any, L: Any, divisor: float = 2.0) -> Any:
    """f(x) - a (1 - a L / divisor) ||grad f(x)||^2; the descent lemma has divisor 2."""
    return f_x - a * (1 - a * L / divisor) * grad_sq


def contraction_factor(mu: Any, L: Any, a: Any) -> Any:
    """q = max(|1 - a mu|, |1 - a L|): the Lipschitz constant of U_a on mu-strongly convex,
    L-smooth f when 0 < a <= 2/(mu + L)."""
    xp = namespace(mu, L, a)
    return xp.maximum(abs(1 - a * mu), abs(1 - a * L))


def contracted_error(error_norm: Any, q: Any, steps: Any) -> Any:
    """q^steps ||e||: how large an error injected ``steps`` inner steps ago can still be."""
    return q**steps * error_norm


LEMMA = Claim(
    id="descent.lemma",
    latex=(
        r"f(U_a(x)) \leq f(x) - a\, (1 - aL/2)\, \|\nabla f(x)\|^2 \quad (0 < a < "
        r"2/L) \\ "
        r"U_a(x) = x - a \nabla f(x)"
    ),
    references=("nesterov2018lectures",),
    title="One inner step decreases an L-smooth loss",
    statement=(
        "f L-smooth, 0 < a < 2/L: f(U_a(x)) <= f(x) - a(1 - aL/2)||grad f(x)||^2; "
        "tight on quadratics (top eigenvector)."
    ),
    assumptions=(
        "f L-smooth; models: quadratics (L = lmax(A)), cosine sums "
        "(L = sum |c_j| ||w_j||^2), logistic regression with and without ridge "
        "(L = lmax(X'X)/(4n) + ridge), radial Huber losses (L times a Huber of the radius)",
        "0 < a < 2/L",
    ),
    source="established",
    citation="Nesterov, Lectures on Convex Optimization (2018), Lemma 1.2.3 and eq. (1.2.19)",
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative to the size of the rounded terms: max(|rhs|, |f(x)| + a||g||^2 + a "
        "model's own term): |f*| + L||x - x*||(||x|| + ||x*||) for quadratics (the "
        "cancellation in U_a(x) - x* when x and x* are large and close), the latter for "
        "Huber losses, sum |c_j| for cosine sums, none for logistic regression."
    ),
    constants={"divisor": 2.0},
    mutants=(Mutant("aL-over-4", "1 - aL/2 -> 1 - aL/4", {"divisor": 4.0}),),
    search_note="a*L drawn in (0, 2); quadratics: x* in [-10, 10]^d, x in [-10, 10]^d or, "
    "half of the time, x* + t v (v the top or bottom eigenvector of A, |t| <= 10); cosine "
    "sums: 1-4 terms, x in [-4, 4]^d; logistic: 1-12 samples (on one line half of the "
    "time) plus anchors, x in [-5, 5]^d (scaled toward 0 half of the time); Huber: width "
    "in [1e-3, 10], x within two widths of x* half of the time.",
)

ERROR_CONTRACTION = Claim(
    id="descent.error_contraction",
    latex=(
        r"\|\tilde{x}_K - x_K\| \leq q^{K-j}\, \|e\| \quad (0 < a \leq 2/(\mu + L)) \\ "
        r"q = \max(|1 - a\mu|, |1 - aL|)"
    ),
    references=("nesterov2018lectures",),
    title="Strong convexity contracts an error injected into a trajectory",
    statement=(
        "f mu-strongly convex and L-smooth, 0 < a <= 2/(mu+L): an error e injected into "
        "iterate j is contracted, ||x~_K - x_K|| <= q^(K-j) ||e||, "
        "q = max(|1 - a mu|, |1 - a L|)."
    ),
    assumptions=(
        "f mu-strongly convex and L-smooth (here: quadratic with lmin(A) = mu > 0)",
        "0 < a <= 2/(mu+L)",
        "0 <= j <= K",
    ),
    source="established",
    citation="Nesterov, Lectures on Convex Optimization (2018), Theorem 2.1.15",
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative to max(rhs, the largest iterate norm): the two trajectories are "
        "subtracted, so rounding is relative to the iterates, not to the error."
    ),
    search_note="quadratics with condition number up to 1e3; a = s * 2/(mu+L), s in (0, 1]; "
    "x0 and e along an extreme eigenvector of A half of the time each.",
)

ERROR_CONTRACTION_NONCONVEX = Claim(
    id="descent.error_contraction_nonconvex",
    latex=r"\|\tilde{x}_K - x_K\| \leq \|e\| \quad (f\ \mathrm{nonconvex},\ 0 < a \leq 1/L)",
    references=("liu2025deciphering",),
    title="Without convexity, inner steps never amplify an injected error",
    statement=(
        "f L-smooth, nonconvex (cosine sums), 0 < a <= 1/L: injected errors are never "
        "amplified, ||x~_K - x_K|| <= ||e||."
    ),
    assumptions=(
        "f = sum_j c_j cos(w_j'x + b_j), L = sum_j |c_j| ||w_j||^2",
        "0 < a <= 1/L",
        "0 <= j <= K",
    ),
    source="summary",
    citation="summary of arXiv 2505.19815: trajectories correct errors in intermediate steps",
    kind="conjecture",
    expected="fails",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative to max(||e||, the largest iterate norm): the two trajectories "
        "are subtracted, so rounding is relative to the iterates."
    ),
    search_note="cosine sums, 1-4 terms, a*L in (0, 1], x0 and e in [-4, 4]^d.",
)

CLAIMS = (LEMMA, ERROR_CONTRACTION, ERROR_CONTRACTION_NONCONVEX)
