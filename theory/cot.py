"""Family ``cot``: trajectory supervision on a small transformer (paper Sec. 2.2).

Task: k-sparse parity over n bits (models/parity.py). A small decoder-only transformer
is trained twice with the same architecture, data stream, optimizer and number of steps:
on direct answers (input, marker, answer) and on trajectories (input, running xor over
the secret set, marker, answer). Each instance of these claims is one such pair of
training runs; the verdict counts over the instances drawn (a census, not a hunt).
"""

from trajcheck.core import CensusRule, Claim

SETTING = (
    "k-sparse parity over n bits, secret set drawn from the seed; a 2-layer causal "
    "transformer (pre-norm, learned positions, no dropout) trained with AdamW from the "
    "same seed on direct answers and on trajectory + answer, same steps and batch"
)
BUDGET = "n, k, width, steps and batch per profile (properties/cot.py, BUDGETS)"

#: The verdict rule of the family's census, fixed before any run: a claim about what
#: trajectory supervision does holds when, at 95 % confidence, it fails on at most a
#: quarter of the tasks drawn (the upper end of the Wilson interval of the failure
#: proportion <= 0.25). With 16 instances (ci) that allows no failure, with 32 three,
#: with 128 about twenty.
RULE = CensusRule(max_failure=0.25)

SEARCH_NOTE = (
    "a census: each instance (n, k, seed) is two training runs; its instances are drawn "
    "independently (n on a grid of 4, so that few shapes hold them all), and those of one "
    "shape are trained together as one ensemble per supervision; every one drawn is "
    "counted, and the rule reads the failure proportion's Wilson interval."
)

PARITY_LEARNABILITY = Claim(
    id="cot.parity_learnability",
    latex=(
        r"\mathrm{acc}_{\mathrm{traj}} \geq \mathrm{acc}_{\mathrm{direct}}, \quad "
        r"\mathrm{acc}_{\mathrm{traj}} \geq 0.95\ \mathrm{where}\ \mathrm{acc}_{\mathrm{direct}} "
        r"\approx \mathrm{chance}\ (k \geq 3)"
    ),
    references=("liu2025deciphering", "wies2023subtask", "kim2024parity"),
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
    search_note=SEARCH_NOTE,
    census_rule=RULE,
)

ANSWER_NLL_DESCENT = Claim(
    id="cot.answer_nll_descent",
    latex=(
        r"L_j = -\log p(\mathrm{answer} \mid \mathrm{input}, t_1, \ldots, t_j): \quad L_{j+1} "
        r"\leq L_j\ \mathrm{on\ correct\ trajectories}, \quad L_k \geq L_0\ \mathrm{on\ "
        r"corrupted\ ones}"
    ),
    references=("liu2025deciphering",),
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
    search_note=SEARCH_NOTE,
    census_rule=RULE,
)

FLATTER_MINIMA = Claim(
    id="cot.flatter_minima",
    latex=(
        r"\lambda_{\max}(\nabla^2 \mathcal{L}_{\mathrm{traj}}) < \lambda_{\max}(\nabla^2 "
        r"\mathcal{L}_{\mathrm{direct}})"
    ),
    references=("liu2025deciphering",),
    title="Trajectory training ends in a flatter minimum",
    statement=(
        "at the end of training the top Hessian eigenvalue of the training loss is lower "
        "for the trajectory-trained model than for the direct one."
    ),
    assumptions=(
        SETTING,
        BUDGET,
        "each model's own training loss (cross-entropy of its supervised tokens) on 64 "
        "sequences drawn from the training distribution, in float32 as trained (float64 "
        "agreed to 6 digits on the models measured)",
        "top eigenvalue by 10 steps of Lanczos with full reorthogonalization (batched over "
        "the ensemble's members) on Hessian-vector products by double backward; the same "
        "for each block of the Hessian (embeddings, each layer, output), reported",
    ),
    source="summary",
    citation="arXiv 2505.19815, Sec. 2.2 (trajectories smooth the loss landscape)",
    kind="conjecture",
    expected="open",
    rtol=1e-4,
    tolerance_note=(
        "1e-4 relative to the direct model's eigenvalue: closer eigenvalues are not told "
        "apart. After 10 Lanczos steps the residual bound r of the step before was at most "
        "1e-3 relative on the models measured (reported per instance), and a Ritz value's "
        "error is of order r^2 / gap (Parlett, Ch. 11): float32 and float64 and 10 or 14 "
        "steps agreed to 6 digits."
    ),
    search_note=SEARCH_NOTE,
    census_rule=RULE,
)

CLAIMS = (PARITY_LEARNABILITY, ANSWER_NLL_DESCENT, FLATTER_MINIMA)
