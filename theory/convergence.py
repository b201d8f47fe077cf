"""Family ``convergence``: guarantees for the inner loop (gradient descent) itself."""

from typing import Any

from trajcheck.core import Claim, Mutant
from trajcheck_catalogue.theory._xp import as_real


def convex_gd_bound(L: Any, distance_sq: Any, K: Any, offset: float = 2.0) -> Any:
    """L ||x_0 - x*||^2 / (4K + offset); offset 2 is Drori and Teboulle's tight bound for
    gradient descent with step 1/L on L-smooth convex functions."""
    return L * distance_sq / (4 * as_real(K, L) + offset)


def linear_rate_bound(distance: Any, q: Any, K: Any, rate_factor: float = 1.0) -> Any:
    """(rate_factor q)^K ||x_0 - x*||: linear convergence at rate q = max(|1-a mu|, |1-aL|)."""
    return (rate_factor * q) ** K * distance


CONVEX_GD = Claim(
    id="convergence.convex_gd",
    latex=r"f(x_K) - f^\ast \leq \dfrac{L\, \|x_0 - x^\ast\|^2}{4K + 2} \quad (a = 1/L)",
    references=("drori2014performance", "goujaud2024pepit"),
    title="Gradient descent on a smooth convex loss: L R^2/(4K+2)",
    statement=(
        "f convex and L-smooth, a = 1/L: f(x_K) - f* <= L ||x_0 - x*||^2 / (4K+2); tight on "
        "a Huber function, and certified by a performance-estimation SDP (PEPit)."
    ),
    assumptions=(
        "f convex and L-smooth with a minimizer x*; models: quadratics (A PSD), radial "
        "Huber losses, logistic regression on data whose cone is R^d",
        "a = 1/L",
        "K >= 1",
    ),
    source="established",
    citation=(
        "Drori and Teboulle, Performance of first-order methods for smooth convex "
        "minimization: a novel approach, Math. Program. 145 (2014), Theorem 3.1"
    ),
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative to max(rhs, |f(x_K)| + |f*|): quadratics and Huber losses are "
        "searched with x* = 0 (the families are translation invariant), so only the K steps "
        "round; for "
        "logistic regression f(x_K) - f* subtracts two numbers of size |f*|, and f* is "
        "damped Newton's minimum (checked against cvxpy/CLARABEL in the tests) polished by "
        "Newton steps to the float64 floor."
    ),
    constants={"offset": 2.0},
    mutants=(Mutant("4K-plus-4", "4K+2 -> 4K+4", {"offset": 4.0}),),
    search_note=(
        "K in 1..max; Huber width delta = t R/(2K+1), t in (0, 3], so that the worst case "
        "t = 1 is inside the family; logistic: 1-12 samples plus d+1 anchor points."
    ),
)

STRONGLY_CONVEX_GD = Claim(
    id="convergence.strongly_convex_gd",
    latex=(
        r"\|x_K - x^\ast\| \leq q^K\, \|x_0 - x^\ast\| \quad (0 < a \leq 2/(\mu + L)) \\ "
        r"q = \max(|1 - a\mu|, |1 - aL|)"
    ),
    references=("nesterov2018lectures",),
    title="Gradient descent on a strongly convex loss converges linearly at rate q",
    statement=(
        "f mu-strongly convex, L-smooth, 0 < a <= 2/(mu+L): ||x_K - x*|| <= q^K ||x_0 - x*||, "
        "q = max(|1 - a mu|, |1 - a L|)."
    ),
    assumptions=(
        "f mu-strongly convex and L-smooth; models: quadratics with lmin(A) = mu > 0, "
        "ridge-regularized logistic regression (mu = ridge)",
        "0 < a <= 2/(mu+L)",
        "K >= 1",
    ),
    source="established",
    citation="Nesterov, Lectures on Convex Optimization (2018), Theorem 2.1.15",
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative to max(rhs, ||x*|| + the largest iterate norm): x_K - x* subtracts "
        "vectors of that size; the logistic x* is damped Newton's, polished by Newton steps, "
        "and "
        "known to eps (mean ||x_i|| + ridge ||x*||) / lmin(Hess f(x*)), which adds to the scale."
    ),
    constants={"rate_factor": 1.0},
    mutants=(Mutant("rate-times-0.99", "q -> 0.99 q (1 % too fast)", {"rate_factor": 0.99}),),
    search_note="a = s * 2/(mu+L), s in (0, 1]; condition number up to 1e3; K in 1..max; "
    "x0 - x* along an extreme eigenvector of A half of the time.",
)

CLAIMS = (CONVEX_GD, STRONGLY_CONVEX_GD)
