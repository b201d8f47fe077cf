"""Family ``cot``: trajectory supervision on a small transformer (paper Sec. 2.2).

Task: k-sparse parity over n bits (models/parity.py). A small decoder-only transformer
is trained twice with the same architecture, data stream, optimizer and number of steps:
on direct answers (input, marker, answer) and on trajectories (input, running xor over
the secret set, marker, answer). Each instance of these claims is one such pair of
training runs; the verdict counts over the instances drawn (a census, not a hunt).
"""

from trajcheck.core import Claim

SETTING = (
    "k-sparse parity over n bits, secret set drawn from the seed; a 2-layer causal "
    "transformer (pre-norm, learned positions, no dropout) trained with AdamW from the "
    "same seed on direct answers and on trajectory + answer, same steps and batch"
)
BUDGET = "n, k, width and steps per profile (properties/cot.py, BUDGETS)"

PARITY_LEARNABILITY = Claim(
    id="cot.parity_learnability",
    title="Trajectory supervision makes sparse parity learnable",
    statement=(
        "at equal training budget the trajectory-trained model's held-out answer accuracy "
        "is >= the direct one's, and >= 0.95 where the direct model stays near chance "
        "(k >= 3)."
    ),
    assumptions=(
        SETTING,
        BUDGET,
        "accuracy on fresh held-out inputs; the trajectory model writes its own trajectory "
        "(greedy) before the marker",
        "near chance: the direct accuracy lies within the 95 % interval of 1/2 for the "
        "number of held-out inputs",
    ),
    source="summary",
    citation=(
        "arXiv 2505.19815, Sec. 2.2; Wies, Levine, Shashua, Sub-Task Decomposition Enables "
        "Learning in Sequence to Sequence Tasks, ICLR 2023; Kim and Suzuki, Transformers "
        "Provably Solve Parity Efficiently with Chain of Thought, 2024"
    ),
    kind="conjecture",
    expected="holds",
    rtol=1e-9,
    tolerance_note=(
        "1e-9 relative: the accuracies are counts over the same held-out inputs and the "
        "thresholds are the statement; their sampling spread (about 3 % at 1024 inputs) "
        "is reported, not tolerated."
    ),
    constants={"min_accuracy": 0.95},
    search_note=(
        "a census: each instance (n, k, seed) is two training runs; Hypothesis draws them "
        "within the profile's budget and every one drawn is counted."
    ),
)

ANSWER_NLL_DESCENT = Claim(
    id="cot.answer_nll_descent",
    title="The answer's likelihood climbs step by step along a trajectory",
    statement=(
        "on the trajectory-trained model, the probe L_j = -log p(answer | input, first j "
        "trajectory tokens, answer marker), j = 0..k, is non-increasing along correct "
        "trajectories (fraction of monotone instances >= 0.9, Spearman correlation of j "
        "and L_j <= -0.5), and does not decrease along corrupted trajectories (a wrong bit "
        "injected at a random step): L_k >= L_0 for a fraction >= 0.9 of them."
    ),
    assumptions=(
        SETTING,
        BUDGET,
        "probe inputs are fresh held-out inputs; the answer is the true one",
        "corrupted: one bit flipped at a random step j*, and the later tokens follow from "
        "the flipped value (the running xor continued), so the last token is wrong",
        "the marker after j < k trajectory tokens sits where training never put it: the "
        "probe reads the model off its training distribution",
        "monotone: L_{j+1} <= L_j + 1e-5 max(L_j, 1) for every j (float32 logits)",
    ),
    source="paper",
    citation="arXiv 2505.19815, Sec. 2.2 (the answer-likelihood probe along trajectories)",
    kind="conjecture",
    expected="open",
    rtol=1e-9,
    tolerance_note=(
        "1e-9 on fractions and a correlation, all in [-1, 1] (scale 1): the thresholds are "
        "the statement; steps of L_j within 1e-5 relative count as level (float32 logits)."
    ),
    constants={"min_monotone": 0.9, "max_spearman": -0.5, "min_corrupted_rise": 0.9},
    search_note=PARITY_LEARNABILITY.search_note,
)

FLATTER_MINIMA = Claim(
    id="cot.flatter_minima",
    title="Trajectory training ends in a flatter minimum",
    statement=(
        "at the end of training the top Hessian eigenvalue of the training loss is lower "
        "for the trajectory-trained model than for the direct one."
    ),
    assumptions=(
        SETTING,
        BUDGET,
        "each model's own training loss (cross-entropy of its supervised tokens) on 256 "
        "sequences drawn from the training distribution, in float64 on a copy of the "
        "trained weights",
        "top eigenvalue by the engine's Lanczos (ARPACK, tolerance 1e-6) on "
        "Hessian-vector products by double backward",
    ),
    source="summary",
    citation="arXiv 2505.19815, Sec. 2.2 (trajectories smooth the loss landscape)",
    kind="conjecture",
    expected="open",
    rtol=1e-4,
    tolerance_note=(
        "1e-4 relative to the direct model's eigenvalue: Lanczos stops at 1e-6 relative, "
        "so closer eigenvalues are not told apart."
    ),
    search_note=PARITY_LEARNABILITY.search_note,
)

CLAIMS = (PARITY_LEARNABILITY, ANSWER_NLL_DESCENT, FLATTER_MINIMA)
