"""Family ``decomposition``: does a trajectory break a problem into easier sub-problems?

The summary's claim is read on quadratics f(x) = 1/2 (x - x*)' A (x - x*) with A positive
definite. A partition of the coordinates into blocks S_1, ..., S_p gives the
sub-problems min over x_{S_i} with the other coordinates fixed; solving them one after
another in cyclic order is block Gauss-Seidel, whose error after one sweep is

    x_+ - x* = M (x - x*),   M = I - (D + L)^(-1) A,

with D + L the block lower-triangular part of A (diagonal blocks included).
"""

from typing import Any

from trajcheck.core import Claim, Mutant


def cholesky_solve_flops(n: Any) -> Any:
    """n^3/3 + 4 n^2: one Cholesky factorization and two triangular solves (2 n^2 each)."""
    return n**3 / 3 + 4 * n**2


def block_setup_flops(sizes: Any) -> Any:
    """sum_i m_i^3/3: the Cholesky factors of the diagonal blocks, computed once."""
    return sum(m**3 / 3 for m in sizes)


def block_sweep_flops(sizes: Any) -> Any:
    """sum_i 2 m_i (n - m_i) + 4 m_i^2: per block, the coupling A_{S_i, rest} x_rest
    (matrix-vector, 2 m n flops for an m x n matrix) and two triangular solves."""
    n = sum(sizes)
    return sum(2 * m * (n - m) + 4 * m**2 for m in sizes)


def block_solve_flops(sizes: Any, sweeps: Any) -> Any:
    """Setup plus ``sweeps`` sweeps of block minimization, in the flop model above."""
    return block_setup_flops(sizes) + sweeps * block_sweep_flops(sizes)


INTERLACING = Claim(
    id="decomposition.interlacing",
    latex=(
        r"\lambda_{\min}(A) \leq \lambda_{\min}(A_{SS}) \leq \lambda_{\max}(A_{SS}) \leq "
        r"\lambda_{\max}(A) \\ "
        r"\kappa(A_{SS}) \leq \kappa(A)"
    ),
    references=("horn2013matrix", "liu2025deciphering"),
    title="A sub-problem is never worse conditioned than the whole (Cauchy interlacing)",
    statement=(
        "A symmetric positive definite, any non-empty index set S (a proper one: a "
        "sub-problem): lmin(A) <= lmin(A_SS) <= "
        "lmax(A_SS) <= lmax(A), so cond(A_SS) <= cond(A)."
    ),
    assumptions=(
        "A = Q diag(spectrum) Q' symmetric positive definite, Q Haar-distributed or the "
        "identity (sub-problems aligned with eigenvectors, where the bounds are attained)",
        "d >= 2 and S any non-empty proper subset of the coordinates (a sub-problem)",
    ),
    source="summary",
    citation=(
        "Horn and Johnson, Matrix Analysis (2nd ed., 2013), Theorem 4.3.28 (Cauchy "
        "interlacing for bordered matrices); the claim itself is the summary's"
    ),
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative to L for the eigenvalue parts and to cond(A)^2 for the condition "
        "numbers: eigvalsh returns each eigenvalue of A and of A_SS to about d*eps*L, which "
        "moves lmin by d*eps*L and so cond = lmax/lmin by about d*eps*cond^2."
    ),
    constants={"factor": 1.0},
    mutants=(
        Mutant(
            "cond-times-0.99",
            "cond(A_SS) <= cond(A) -> cond(A_SS) <= 0.99 cond(A) (sub-problems strictly better)",
            {"factor": 0.99},
        ),
    ),
    search_note=(
        "d up to the profile's dimension, eigenvalue ratios in [1e-3, 1]; half of the "
        "matrices are diagonal (Q = I), so that S can isolate eigenvectors."
    ),
)

BLOCK_DESCENT = Claim(
    id="decomposition.block_descent",
    latex=r"f(x^{(t+1)}) \leq f(x^{(t)}), \quad \rho(M) < 1, \quad M = I - (D + L)^{-1} A",
    references=("golub2013matrix",),
    title="Block minimization in cyclic order never increases f and converges",
    statement=(
        "quadratic f with A positive definite, any partition of the coordinates into blocks, "
        "exact minimization over one block at a time in cyclic order: f never increases, "
        "and the spectral radius of one sweep's error map M = I - (D+L)^(-1) A is < 1 "
        "(block Gauss-Seidel)."
    ),
    assumptions=(
        "A = Q diag(spectrum) Q' positive definite, eigenvalue ratios in [1e-3, 1]",
        "any partition into contiguous blocks (Q is Haar, so contiguity loses nothing)",
        "x* = 0 and f* = 0: the iteration is translation invariant",
    ),
    source="summary",
    citation=(
        "Golub and Van Loan, Matrix Computations (4th ed., 2013), Theorem 11.2.3 "
        "(Gauss-Seidel converges for symmetric positive definite A; blocks alike)"
    ),
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "Descent: 1e-12 relative to L ||x_k - x*||^2, the size of the terms of 1/2 z'Az "
        "(each rounded to about d*eps of it); a block is solved by Cholesky, whose error "
        "changes f only to second order at the block minimizer. Spectral radius: checked as "
        "rho(M) <= 1 to 1e-12; strictly below 1 in exact arithmetic, and eigvals of the "
        "non-normal M is accurate to about eps ||M|| times its eigenvector condition, far "
        "below the gap 1 - rho (>= 1e-6 for cond(A) <= 1e3, d <= 16)."
    ),
    search_note=(
        "K sweeps, 1..8 (every update is a block minimization from the current point, and "
        "random starts reach the points later sweeps would); partitions: number and sizes "
        "of blocks drawn."
    ),
)

CHEAPER = Claim(
    id="decomposition.cheaper",
    latex=(
        r"\mathrm{flops}_{\mathrm{blocks}}\left(f(x) - f^\ast \leq \varepsilon\, (f(x_0) - "
        r"f^\ast)\right) < \dfrac{n^3}{3} + 4n^2"
    ),
    references=("golub2013matrix", "liu2025deciphering"),
    title="Solving by blocks is cheaper than one direct solve",
    statement=(
        "with a partition into at least two blocks, reaching f(x) - f* <= eps (f(x_0) - f*) "
        "by block minimization costs fewer flops than one direct Cholesky solve of the "
        "full problem (flop model: Cholesky n^3/3, triangular solves 2n^2 each, "
        "matrix-vector 2mn)."
    ),
    assumptions=(
        "A = Q diag(spectrum) Q' positive definite, Q Haar (blocks coupled)",
        "at least two blocks; eps = 10^-digits, digits in 1..12",
        "block cost: sum_i m_i^3/3 once, then per sweep sum_i 2 m_i (n - m_i) + 4 m_i^2",
    ),
    source="summary",
    citation="flop counts from Golub and Van Loan, Matrix Computations (4th ed.), 4.2 and 3.1",
    kind="conjecture",
    expected="fails",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 relative: flop counts are exact integers (thirds); only the sweep count "
        "depends on floats, through f(x_s) <= eps f(x_0)."
    ),
    search_note=(
        "sweeps counted until f(x_s) <= eps f(x_0), or until the cost passes the direct "
        "solve's (the lhs is then a lower bound). The report maps the cost ratio over "
        "dimension, block size and condition number."
    ),
)

CLAIMS = (INTERLACING, BLOCK_DESCENT, CHEAPER)
