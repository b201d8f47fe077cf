"""The project's search profiles: how many examples, how large the instances.

These are trajcheck's own profiles, kept apart from Hypothesis's settings profiles so that
Hypothesis's built-in ``ci`` profile (derandomized, no database), which it loads by itself
when ``CI`` is set, still applies underneath: the runner sets only what a profile names.
A profile is handed whole to the catalogue (``trajcheck.core.Profile``).
"""

from __future__ import annotations

from trajcheck.core import Profile

#: Environment variable that selects a profile for the pytest sessions.
PROFILE_VARIABLE = "TRAJCHECK_PROFILE"

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="ci",
            examples=300,
            mutant_examples=300,
            max_dimension=8,
            max_steps=16,
            sweep=10_000,
            description="fast: tests and CI",
        ),
        Profile(
            name="default",
            examples=3_000,
            mutant_examples=1_000,
            max_dimension=12,
            max_steps=32,
            sweep=100_000,
            description="the verify run: a few seconds per claim",
        ),
        Profile(
            name="thorough",
            examples=3_000,
            mutant_examples=3_000,
            max_dimension=16,
            max_steps=64,
            sweep=100_000,
            seeds=3,
            description="three seeds, each 10^5 swept instances per model and 3,000 "
            "Hypothesis examples per claim: the no-false-alarm check",
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
