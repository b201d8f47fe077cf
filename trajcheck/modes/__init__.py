"""Search modes: how the instances of one property are drawn and judged.

Three modes, one module each, all returning an ``Outcome``:

- ``hunt``: Hypothesis searches for a violation and shrinks it (the default);
- ``census``: every instance is an experiment, counted, none shrunk (``Property.census``);
- ``sweep``: a batched pass over many instances drawn on the device before the hunt
  (``Property.sweep``); it cannot shrink, so what it finds is handed on.

:func:`search` picks the mode a property asks for; the runner knows no mode by name.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from trajcheck.core import Mutant, Outcome, Profile, Property
from trajcheck.modes.census import census
from trajcheck.modes.hunt import hunt

__all__ = ["census", "hunt", "search"]


def search(
    prop: Property,
    mutant: Mutant | None,
    profile: Profile,
    device: torch.device,
    seed: int | None = None,
    on_example: Callable[[int], None] | None = None,
    budget: int | None = None,
    session: int | None = None,
) -> Outcome:
    """Search one property (a claim or one of its mutants, on one model) in its mode.

    ``budget`` defaults to the profile's examples for a claim or a mutant; ``session`` is
    the run's key for draws that every process of the run must agree on (a census's).
    """
    if budget is None:
        budget = profile.mutant_examples if mutant is not None else profile.examples
    if prop.census:
        return census(prop, mutant, profile, device, budget, seed, on_example, session)
    return hunt(prop, mutant, profile, device, budget, seed, on_example)
