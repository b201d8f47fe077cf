"""Family ``meta``: the bi-level (MAML) reading of training, paper eq. (8).

Questions are tasks and a trajectory is the inner loop: the outer objective is
F_K(x) = f(U_a^K(x)), and the chain rule gives

    grad F_K(x) = (I - a Hess f(x_0)) ... (I - a Hess f(x_{K-1})) grad f(x_K),  x_0 = x,

which first-order MAML replaces by grad f(x_K).
"""

from typing import Any

from trajcheck.core import Claim, Mutant


def first_order_error_bound(a: Any, L: Any, grad_norm: Any, factor: float = 1.0) -> Any:
    """a L ||grad f(U_a(x))||: grad F_1 - grad f(U_a(x)) = -a Hess f(x) grad f(U_a(x)),
    and ||Hess f(x)|| <= L (Finn, Abbeel, Levine 2017 drop this term in first-order MAML)."""
    return factor * a * L * grad_norm


GRADIENT_IDENTITY = Claim(
    id="meta.gradient_identity",
    latex=(
        r"\nabla F_K(x) = (I - a \nabla^2 f(x_0)) \cdots (I - a \nabla^2 f(x_{K-1}))\, \nabla "
        r"f(x_K), \quad x_0 = x"
    ),
    references=("liu2025deciphering", "finn2017maml"),
    title="Autodiff through K inner steps equals the chain-rule product",
    statement=(
        "automatic differentiation through K unrolled inner steps equals the closed form "
        "grad F_K(x) = (I - a Hess f(x_0)) ... (I - a Hess f(x_{K-1})) grad f(x_K) (product "
        "from the first step on the left), x_0 = x."
    ),
    assumptions=(
        "f twice differentiable; models: quadratics, cosine sums (closed-form Hessians), "
        "the regression loss of a one-hidden-layer tanh network in its parameters (Hessian "
        "from torch.func.hessian)",
        "inner steps x_{k+1} = x_k - a grad f(x_k) with grad f from torch.func, as in MAML; "
        "any a > 0 (a*L in (0, 2] where L is known, a in (0, 1] for the network), K >= 1",
    ),
    source="paper",
    citation=(
        "arXiv 2505.19815, eq. (8) (the bi-level problem); the gradient of Finn, Abbeel and "
        "Levine, Model-Agnostic Meta-Learning, ICML 2017, Sec. 2.2"
    ),
    kind="identity",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 per coordinate, relative to max(|closed form|, s) with s = prod_k max(1, "
        "||I - a H_k||) (1 + a max_k ||H_k||_F) ||grad f(x_K)||: reverse mode and the "
        "explicit product round each of the K steps at about d*eps of its terms, and later "
        "factors amplify earlier errors (K*d*eps <= 6e-14 at K = 16, d = 16)."
    ),
    constants={"order": 1.0},
    mutants=(
        Mutant(
            "reversed-product",
            "product from the first step on the left -> on the right (order ignored)",
            {"order": -1.0},
        ),
    ),
    search_note=(
        "quadratics and cosine sums: d up to the profile's, K <= 16; the network: 1-2 "
        "inputs, 1-4 hidden units, 1-6 samples, K <= 8 (reverse mode through nested "
        "gradients and the network's Hessians are the slow part)."
    ),
)

FIRST_ORDER_ERROR = Claim(
    id="meta.first_order_error",
    latex=r"\|\nabla F_1(x) - \nabla f(U_a(x))\| \leq a L\, \|\nabla f(U_a(x))\|",
    references=("fallah2020convergence",),
    title="The first-order MAML error is at most a L ||grad f(U_a(x))||",
    statement=(
        "f L-smooth: ||grad F_1(x) - grad f(U_a(x))|| <= a L ||grad f(U_a(x))|| "
        "(the first-order MAML error)."
    ),
    assumptions=(
        "f L-smooth; models: quadratics (L = lmax(A)), cosine sums (L = sum |c_j| ||w_j||^2)",
        "any a > 0 (drawn as a*L in (0, 2]); grad F_1 by autodiff through the step",
    ),
    source="summary",
    citation=(
        "Fallah, Mokhtari and Ozdaglar, On the Convergence Theory of Gradient-Based "
        "Model-Agnostic Meta-Learning Algorithms, AISTATS 2020, Sec. 4 (first-order MAML)"
    ),
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative to max(rhs, (2 + aL) (||grad f(U_a(x))|| + T(U_a(x)) + L ||x|| + "
        "2 aL T(x))), T(y) the size of the terms grad f(y) sums (L (||y|| + ||x*||) on "
        "quadratics, L ||y|| + G (1 + max |b_j|) on cosine sums): the lhs subtracts two "
        "gradients rounded at that size before any cancellation, so a gradient that cancels "
        "exactly at U_a(x) does not shrink the scale with it."
    ),
    constants={"factor": 1.0},
    mutants=(Mutant("aL-times-0.99", "a L -> 0.99 a L", {"factor": 0.99}),),
    search_note="tight where grad f(U_a(x)) lies along an eigenvector of Hess f(x) at |l| = L.",
)

INITIALIZATION = Claim(
    id="meta.initialization",
    latex=(
        r"\mathbb{E}_i\, f_i(U_a^K(x_M)) \leq \mathbb{E}_i\, f_i(U_a^K(x_J)) \\ "
        r"x_M = \arg\min_x \sum_i F_{K,i}(x), \quad x_J = \arg\min_x \sum_i f_i(x)"
    ),
    references=("liu2025deciphering", "finn2017maml"),
    title="MAML's initialization adapts better than joint training's on held-out tasks",
    statement=(
        "tasks f_i(x) = 1/2 (x-c_i)' A_i (x-c_i) drawn from one distribution; "
        "x_M = argmin sum_i F_{K,i}(x) (a convex quadratic program: solved by cvxpy and "
        "checked against the closed form) and x_J = argmin sum_i f_i(x). On held-out tasks "
        "from the same distribution, the mean loss after K inner steps from x_M is <= the "
        "one from x_J (up to the 95% confidence half-width of the paired difference over "
        "512 held-out tasks)."
    ),
    assumptions=(
        "A_i = Q_i diag(l_i) Q_i', Q_i Haar, l_i uniform in [low L, L], low in [0.01, 1]",
        "c_i = mean + spread z_i + tilt A_i e / L (tilt > 0: centers depend on curvature)",
        "2 to 32 training tasks, 512 held-out tasks, a = s/L with s in (0, 1/2], K in 1..8",
    ),
    source="summary",
    citation=(
        "arXiv 2505.19815, eq. (8) and the summary's 'an initialization that is easy to "
        "fine-tune'; MAML of Finn, Abbeel and Levine (ICML 2017)"
    ),
    kind="conjecture",
    expected="open",
    rtol=1e-9,
    tolerance_note=(
        "1e-9 relative: x_M and x_J are solved to about cond(sum H_i) eps ||c||, and the "
        "sums of H_i and A_i over Haar-rotated tasks are well conditioned; sampling noise is "
        "not a tolerance but part of the statement (the 95% half-width)."
    ),
    constants={"confidence": 0.95},
    search_note=(
        "a counterexample is a distribution and a training draw for which x_M is worse on "
        "held-out tasks beyond the 95% half-width; the report maps both initializations "
        "over the number of training tasks."
    ),
)

CLAIMS = (GRADIENT_IDENTITY, FIRST_ORDER_ERROR, INITIALIZATION)
