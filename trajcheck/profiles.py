"""The project's search profiles: how many examples, how large the instances.

These are trajcheck's own profiles, kept apart from Hypothesis's settings profiles so that
Hypothesis's built-in ``ci`` profile (derandomized, no database), which it loads by itself
when ``CI`` is set, still applies underneath: the runner sets only what a profile names.
"""

from __future__ import annotations

from dataclasses import dataclass

from trajcheck.core import Limits

#: Environment variable that selects a profile for the pytest sessions.
PROFILE_VARIABLE = "TRAJCHECK_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    examples: int  # per claim: a true theorem must survive this many
    mutant_examples: int  # per mutant: each must be refuted within this many
    limits: Limits
    description: str
    #: instances per claim for the batched sweep, where a model has one (0: none)
    sweep: int = 0


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "ci",
            300,
            300,
            Limits(max_dimension=8, max_steps=16, profile="ci"),
            "fast: tests and CI",
            10_000,
        ),
        Profile(
            "default",
            3_000,
            1_000,
            Limits(max_dimension=12, max_steps=32, profile="default"),
            "the verify run: a few seconds per claim",
            100_000,
        ),
        Profile(
            "thorough",
            100_000,
            3_000,
            Limits(max_dimension=16, max_steps=64, profile="thorough"),
            "10^5 examples per claim: the no-false-alarm check",
            1_000_000,
        ),
    )
}


class UnknownProfile(ValueError):
    pass


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(
            f"unknown profile {name!r} (choose one of: {', '.join(PROFILES)})"
        ) from None
