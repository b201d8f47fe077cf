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
        "+ |b_2|: the pseudo-inverse is accurate to cond(E_l) eps, and the feed-forward net "
        "carries an error in its input at most ||W_1|| ||W_2|| times into its output."
    ),
    search_note=(
        "The witness makes the statement true and says nothing about gradients: uniform "
        "attention and a rank-one value matrix built from the answer itself (W'_v = E_l^+ 1 o) "
        "reproduce any attention output o, so existence cannot support reading t_0 as a "
        "gradient step; that reading rests on the construction (paper.prop21_construction)."
    ),
)

CLAIMS = (PROP21_EXISTENCE,)
