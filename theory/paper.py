"""Family ``paper``: what arXiv 2505.19815 itself states about one transformer layer.

Proposition 2.1 (with eqs. 5-7 and App. B): for a one-layer transformer, attending to the
first trajectory token t_0 after the prompt l = (I, q) gives the same activation as
attending to l alone with updated attention weights theta' = (W'_q, W'_k, W'_v), which
the paper reads as one pseudo-gradient step. The model and its reading are in
``models/one_layer.py``.
"""

from trajcheck.core import Claim

PROP21_EXISTENCE = Claim(
    id="paper.prop21_existence",
    latex=r"\exists\ W'_q, W'_k, W'_v:\quad M(E_l; \theta') = M([E_l; t_0]; \theta)",
    references=("liu2025deciphering",),
    title="Proposition 2.1: updated attention weights reproduce the trajectory token's effect",
    statement=(
        "one-layer transformer of eq. (5) (attention then a two-layer feed-forward net, no "
        "normalization), feed-forward weights kept fixed, prompt embeddings E_l of full row "
        "rank (|l| <= d): there exist W'_q, W'_k, W'_v, depending only on theta, the prompt "
        "l = (I, q) and the first trajectory token t_0, such that the activation on l under "
        "theta' equals the activation on [l; t_0] under theta."
    ),
    assumptions=(
        "the activation is read at the prompt's last position (the query row); single head",
        "E_l (n x d, n <= d) of full row rank: Gaussian rows, cond(E_l) <= 1e4",
        "the witness checked: W'_q = W_q, W'_k = 0, W'_v = E_l^+ 1 o, with o the attention "
        "output on [l; t_0] under theta",
    ),
    source="paper",
    citation="arXiv 2505.19815, Proposition 2.1, eqs. (5)-(7) and Appendix B",
    kind="theorem",
    expected="holds",
    rtol=1e-12,
    tolerance_note=(
        "1e-12 per coordinate relative to max(|M|, s), s = cond(E_l) ||o|| ||W_1|| ||W_2|| "
        "+ ||W_2|| (||W_1|| ||o|| + ||b_1||) + ||b_2||: the pseudo-inverse is accurate to "
        "cond(E_l) eps, the feed-forward net carries an error in its input at most "
        "||W_1|| ||W_2|| times into its output, and rounds its output at the size of its terms."
    ),
    search_note=(
        "The witness makes the statement true and says nothing about gradients: uniform "
        "attention and a rank-one value matrix built from the answer itself (W'_v = E_l^+ 1 o) "
        "reproduce any attention output o, so existence cannot support reading t_0 as a "
        "gradient step; that reading rests on the construction (paper.prop21_construction)."
    ),
)

PROP21_CONSTRUCTION = Claim(
    id="paper.prop21_construction",
    latex=(
        r"\|M(E_l; \theta') - M([E_l; t_0]; \theta)\| \leq 10^{-6}\, \|M([E_l; t_0]; \theta)\| \\ "
        r"W'_q = P W_q, \quad W'_k = E_l^{+} M M^\top E_l W_k, \quad W'_v = E_l^{+} M M^\top E_l "
        r"W_v"
    ),
    references=("liu2025deciphering",),
    title="Proposition 2.1 as constructed in Appendix B",
    statement=(
        "the construction of App. B (eq. 13: P with e_last P = e_t0 and W'_q = P W_q; eq. 16: "
        "e_t0 ~ C E_l by least squares; eq. 17: M = [I, C']; eq. 19: W'_k = E_l^+ M M' E_l W_k, "
        "W'_v = E_l^+ M M' E_l W_v) reproduces the activation of eq. (6): "
        "||M(E_l; theta') - M([E_l; t_0]; theta)|| <= 1e-6 ||M([E_l; t_0]; theta)||."
    ),
    assumptions=(
        *PROP21_EXISTENCE.assumptions[:2],
        "eq. 13 read so that the query matches (e_last P = e_t0, least-norm P); as printed "
        "(e_t0 P = e_last) P maps the other way: the report gives the error of both",
        "eq. 19 as printed does not conform (E_l^+ is d x n, the stacked keys have n + 1 "
        "rows); the reading taken inserts M to fold them into n: E_l^+ M M' E_l W",
    ),
    source="paper",
    citation="arXiv 2505.19815, Proposition 2.1, Appendix B, eqs. (13)-(19)",
    kind="conjecture",
    expected="fails",
    rtol=1e-9,
    constants={"max_relative_error": 1e-6},
    tolerance_note=(
        "1e-9 relative on top of the statement's 1e-6: the relative error is computed in "
        "float64, where the construction's pseudo-inverses are accurate to cond(E_l) eps "
        "<= 1e4 eps ~ 2e-12."
    ),
    search_note=(
        "the same transformers and prompts as paper.prop21_existence. The construction "
        "keeps |l| keys where [l; t_0] has |l| + 1: the softmax weights of n + 1 tokens are "
        "not those of n linear combinations of them, whatever the fold."
    ),
)

CLAIMS = (PROP21_EXISTENCE, PROP21_CONSTRUCTION)
