"""Every discovered claim gets the verdict the catalogue expects, and every mutant dies.

These are searches, not fixed instances: a true theorem that the search breaks, a false
claim it cannot refute, or a mutant that survives turns the session red.
"""

from __future__ import annotations

import pytest

from trajcheck.discovery import discover
from trajcheck.runner import search_models

CATALOGUE = discover()
ENTRIES = list(CATALOGUE)
MUTANTS = [(e, m) for e in ENTRIES for m in e.claim.mutants]


def test_catalogue_holds_the_issue_claims() -> None:
    ids = set(CATALOGUE.entries)
    assert {
        "smoothing.quadratic",
        "smoothing.quadratic_rate",
        "smoothing.any_step",
        "descent.lemma",
        "descent.error_contraction",
        "decomposition.interlacing",
        "decomposition.block_descent",
        "decomposition.cheaper",
        "meta.gradient_identity",
        "meta.first_order_error",
        "meta.initialization",
        "icl.lsa_equals_gd",
        "icl.trajectory_descent",
        "icl.trajectory_descent_any_step",
        "icl.trained_lsa",
        "paper.prop21_existence",
        "paper.prop21_construction",
        "cot.parity_learnability",
        "cot.answer_nll_descent",
        "cot.flatter_minima",
    } <= ids


def expected_examples(entry, profile) -> int:  # type: ignore[no-untyped-def]
    """The profile's examples per claim, or fewer where a model is costly (a training
    run) and says how many it gets."""
    share = -(-profile.examples // len(entry.props))
    return sum(
        min(share, p.max_examples(profile)) if p.max_examples else share
        for p in entry.props
    ) if any(p.max_examples for p in entry.props) else profile.examples  # fmt: skip


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.claim.id)
def test_claim_verdict_is_as_expected(
    entry, trajcheck_profile, trajcheck_device, trajcheck_session
) -> None:
    claim = entry.claim
    outcome = search_models(
        entry.props, None, trajcheck_profile, trajcheck_device, session=trajcheck_session
    )
    assert outcome.error is None, outcome.error
    if claim.expected == "holds":
        assert outcome.verdict == "holds", outcome.counterexample
        assert outcome.examples >= expected_examples(entry, trajcheck_profile)
    elif claim.expected == "fails":
        assert outcome.verdict == "fails", f"not refuted in {outcome.examples} examples"
        assert outcome.counterexample is not None
        assert outcome.counterexample.margin < -claim.rtol


@pytest.mark.parametrize(
    ("entry", "mutant"), MUTANTS, ids=lambda x: getattr(x, "name", None) or x.claim.id
)
def test_mutant_is_refuted_by_the_search(
    entry, mutant, trajcheck_profile, trajcheck_device, trajcheck_session
):
    outcome = search_models(
        entry.props, mutant, trajcheck_profile, trajcheck_device, session=trajcheck_session
    )
    assert outcome.verdict == "fails", (
        f"{entry.claim.mutant_id(mutant)} survived {outcome.examples} examples"
    )


def test_any_step_counterexample_is_one_dimensional_past_the_boundary(
    trajcheck_profile, trajcheck_device
) -> None:
    outcome = search_models(
        CATALOGUE.entries["smoothing.any_step"].props, None, trajcheck_profile, trajcheck_device
    )
    found = outcome.counterexample
    assert found is not None
    assert found.dimension == 1
    assert found.notes["a*L"] > 2.0  # the theorem's boundary: the search cannot go below it
