"""The extension kit: every name a new claim file needs, in one place.

A claim file (``--module PATH``, or a package registered under the entry-point group
``trajcheck.claims``) imports from here: the engine's types; the programs that describe
an instance distribution once, for the Hypothesis search and for the batched sweep
(``Draws``, ``drawn_by``, ``draw_quadratic``, ...), and the plain strategies; the models
and the builders that turn drawn parameters into models; and the bound functions of the
built-in families. What is listed in ``__all__`` is public and kept; anything else in
the catalogue may change.
"""

from trajcheck.core import (
    Batch,
    Certificate,
    Claim,
    Frontier,
    Measurement,
    Mutant,
    Outcome,
    Params,
    Profile,
    Property,
    to_batch,
)
from trajcheck_catalogue.models.cosine import CosineSum
from trajcheck_catalogue.models.huber import RadialHuber
from trajcheck_catalogue.models.inner_loop import unroll
from trajcheck_catalogue.models.logistic import Logistic
from trajcheck_catalogue.models.norms import frobenius, norm
from trajcheck_catalogue.models.quadratic import Quadratic
from trajcheck_catalogue.properties import builders, pep
from trajcheck_catalogue.properties.draws import Draws, drawn_by, sampler, strategy
from trajcheck_catalogue.properties.strategies import (
    SMOOTHNESS,
    cosine_dimension,
    cosine_smoothness,
    cosine_sums,
    dimension_of,
    dimensions,
    draw_cosine_sum,
    draw_logistic,
    draw_positive_definite,
    draw_quadratic,
    features_dimension,
    logistic_constants,
    logistic_regressions,
    positive_definite,
    quadratics,
    step_counts,
    step_frontier,
    steps_of,
    unit_interval,
    vectors,
)
from trajcheck_catalogue.theory.convergence import convex_gd_bound, linear_rate_bound
from trajcheck_catalogue.theory.descent import (
    contracted_error,
    contraction_factor,
    descent_lemma_bound,
)

__all__ = [
    "SMOOTHNESS",
    "Batch",
    "Certificate",
    "Claim",
    "CosineSum",
    "Draws",
    "Frontier",
    "Logistic",
    "Measurement",
    "Mutant",
    "Outcome",
    "Params",
    "Profile",
    "Property",
    "Quadratic",
    "RadialHuber",
    "builders",
    "contracted_error",
    "contraction_factor",
    "convex_gd_bound",
    "cosine_dimension",
    "cosine_smoothness",
    "cosine_sums",
    "descent_lemma_bound",
    "dimension_of",
    "dimensions",
    "draw_cosine_sum",
    "draw_logistic",
    "draw_positive_definite",
    "draw_quadratic",
    "drawn_by",
    "features_dimension",
    "frobenius",
    "linear_rate_bound",
    "logistic_constants",
    "logistic_regressions",
    "norm",
    "pep",
    "positive_definite",
    "quadratics",
    "sampler",
    "step_counts",
    "step_frontier",
    "steps_of",
    "strategy",
    "to_batch",
    "unit_interval",
    "unroll",
    "vectors",
]
