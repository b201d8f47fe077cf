"""Could the search have drawn this instance? The program read a fourth way, for replay.

A counterexample file is data: its parameters may have been edited, or written by hand,
and replay must not measure what no search could have drawn (a step a = -3 where the
claim assumes a > 0, a K of -5, a "rotation" that is not orthogonal, ``true`` for a
number). A program states its assumptions by construction, not as predicates, so they
are read off it here in two ways:

- the *laws* of its choices: the program runs under :class:`RecordingDraws`, which
  notes what each choice was asked for (floats in [low, high], integers in a range, a
  rotation, a direction, signs, a subset mask, a partition); a parameter that *is* one
  choice (``params["K"] = draw.steps()``) must lie inside that choice's law;
- the *invariants* of its outputs, for every parameter (the derived ones too: a = s / L):
  what holds on every one of many instances the program draws at the largest profile
  (whole numbers, a sign, values in {0, 1} or {-1, 1}, symmetric, orthogonal or positive
  semi-definite matrices, unit rows), after Daikon's dynamic invariant detection (Ernst
  et al., IEEE TSE 2001), restricted to properties a program's construction guarantees.
  Each is checked to rounding, so that an instance the program did draw is never refused.

Each parameter must also have the program's type (a boolean is not a number; a fraction
is not an integer) and number of axes. No maintained library reads assumptions off a
sampler like this; Hypothesis's strategies cannot be inverted, hence this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trajcheck.core import Batch, Params, Profile
from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.properties.draws import BatchDraws, Bound

#: Relative tolerance of the matrix invariants: the programs build them to rounding
#: (a Householder product is orthogonal to about d eps), and a saved instance went
#: through float64 -> JSON -> float64 exactly.
MATRIX_TOLERANCE = 1e-9
#: Instances drawn to read the invariants off: batches of BATCH, each its own shape.
BATCHES, BATCH = 24, 128


@dataclass
class Law:
    """What one choice was asked for: a kind and, for numbers, its range."""

    kind: str
    low: float = -math.inf
    high: float = math.inf
    exclude_min: bool = False
    exclude_max: bool = False
    just: float | None = None

    def widened(self, other: Law) -> Law | None:
        """One law for a parameter seen under both (the range of either), or None when
        they are of different kinds."""
        if other.kind != self.kind or other.just != self.just:
            return None
        low, high = min(self.low, other.low), max(self.high, other.high)
        return Law(
            self.kind, low, high,
            exclude_min=all(law.exclude_min for law in (self, other) if law.low == low),
            exclude_max=all(law.exclude_max for law in (self, other) if law.high == high),
            just=self.just,
        )  # fmt: skip

    def refusal(self, values: np.ndarray) -> str | None:
        """Why ``values`` cannot come from this law, or None."""
        if self.kind not in ("floats", "integers"):
            return None
        allowed = (values >= self.low) & (values <= self.high)
        if self.exclude_min:
            allowed &= values != self.low
        if self.exclude_max:
            allowed &= values != self.high
        if self.just is not None:
            allowed |= values == self.just
        if bool(allowed.all()):
            return None
        low = "(" if self.exclude_min else "["
        high = ")" if self.exclude_max else "]"
        bad = float(values[~allowed].reshape(-1)[0])
        return f"{bad:g} is outside the {self.kind}' range {low}{self.low:g}, {self.high:g}{high}"


class RecordingDraws(BatchDraws):
    """The batched sampler, noting the law of every choice it returns (by the identity of
    the tensor it returned, which a program stores as it is when a parameter is a choice)."""

    def __init__(self, profile: Profile, size: int, generator: torch.Generator) -> None:
        super().__init__(profile, size, generator, torch.device("cpu"))
        self.laws: dict[int, tuple[torch.Tensor, Law]] = {}

    def _noted(self, value: torch.Tensor, law: Law) -> torch.Tensor:
        self.laws[id(value)] = (value, law)  # the tensor is kept: its id stays unique
        return value

    def floats(
        self, low: float, high: float, shape: Sequence[int] = (), *, exclude_min: bool = False,
        exclude_max: bool = False, allow_subnormal: bool = True, just: float | None = None,
    ) -> torch.Tensor:  # fmt: skip
        value = super().floats(
            low, high, shape, exclude_min=exclude_min, exclude_max=exclude_max,
            allow_subnormal=allow_subnormal, just=just,
        )  # fmt: skip
        law = Law("floats", low, high, exclude_min, exclude_max, just)
        return self._noted(value, law)

    def integers(self, low: Bound, high: Bound) -> torch.Tensor:
        value = super().integers(low, high)
        if isinstance(low, torch.Tensor) or isinstance(high, torch.Tensor):
            return value  # bounds that depend on the instance: no one range to check
        return self._noted(value, Law("integers", float(low), float(high)))

    def rotations(self, d: int) -> torch.Tensor:
        return self._noted(super().rotations(d), Law("rotations"))

    def directions(self, count: int, d: int) -> torch.Tensor:
        return self._noted(super().directions(count, d), Law("directions"))


def _invariants() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Each invariant as a test of a stack of values (instances first) -> (instances,)."""

    def flat(v: np.ndarray) -> np.ndarray:
        return v.reshape(v.shape[0], -1)

    def square(v: np.ndarray) -> bool:
        return v.ndim >= 3 and v.shape[-1] == v.shape[-2]

    def scale(v: np.ndarray) -> np.ndarray:
        return np.maximum(np.abs(flat(v)).max(axis=1), 1e-300)

    def symmetric(v: np.ndarray) -> np.ndarray:
        if not square(v):
            return np.zeros(v.shape[0], bool)
        gap = flat(v - np.swapaxes(v, -1, -2))
        return np.abs(gap).max(axis=1) <= MATRIX_TOLERANCE * scale(v)

    def orthogonal(v: np.ndarray) -> np.ndarray:
        if not square(v):
            return np.zeros(v.shape[0], bool)
        gap = v @ np.swapaxes(v, -1, -2) - np.eye(v.shape[-1])
        return np.abs(flat(gap)).max(axis=1) <= MATRIX_TOLERANCE * v.shape[-1]

    def semidefinite(v: np.ndarray) -> np.ndarray:
        good = symmetric(v)
        if not good.any():
            return good
        eigenvalues = np.linalg.eigvalsh((v + np.swapaxes(v, -1, -2)) / 2)
        lowest = eigenvalues.reshape(v.shape[0], -1).min(axis=1)
        return good & (lowest >= -MATRIX_TOLERANCE * scale(v))

    def unit_rows(v: np.ndarray) -> np.ndarray:
        if v.ndim < 2:
            return np.zeros(v.shape[0], bool)
        lengths = norm(torch.from_numpy(v)).numpy()
        return np.abs(flat(lengths - 1)).max(axis=1) <= MATRIX_TOLERANCE

    def every(test: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        def each_instance(v: np.ndarray) -> np.ndarray:
            return np.asarray(np.asarray(test(flat(v))).all(axis=1))

        return each_instance

    return {
        "whole numbers": every(lambda v: v == np.trunc(v)),
        "non-negative": every(lambda v: v >= 0),
        "positive": every(lambda v: v > 0),
        "non-positive": every(lambda v: v <= 0),
        "negative": every(lambda v: v < 0),
        "0 or 1": every(lambda v: (v == 0) | (v == 1)),
        "+1 or -1": every(lambda v: np.abs(v) == 1),
        "a symmetric matrix": symmetric,
        "an orthogonal matrix": orthogonal,
        "positive semi-definite": semidefinite,
        "of unit norm (each row)": unit_rows,
    }


INVARIANTS = _invariants()


@dataclass
class Portrait:
    """What every instance a program draws has, parameter by parameter."""

    kinds: dict[str, str] = field(default_factory=dict)  # "int", "float" or "bool"
    axes: dict[str, set[int]] = field(default_factory=dict)  # axes of one instance's value
    invariants: dict[str, list[str]] = field(default_factory=dict)
    laws: dict[str, Law | None] = field(default_factory=dict)


def _kind(value: torch.Tensor) -> str:
    if value.dtype == torch.bool:
        return "bool"
    return "float" if value.is_floating_point() else "int"


def portrait(program: Callable[[Any], Batch], profile: Profile, seed: int = 0) -> Portrait:
    """Read a program's parameter types, laws and invariants off BATCHES batches of it."""
    generator = torch.Generator().manual_seed(seed)
    seen: dict[str, list[np.ndarray]] = {}
    found = Portrait()
    for _ in range(BATCHES):
        draws = RecordingDraws(profile, BATCH, generator)
        batch = program(draws)
        keep = draws.keep if draws.keep is not None else torch.ones(BATCH, dtype=torch.bool)
        for key, value in batch.items():
            found.kinds.setdefault(key, _kind(value))
            found.axes.setdefault(key, set()).add(value.dim() - 1)
            recorded = draws.laws.get(id(value))
            law = recorded[1] if recorded is not None and recorded[0] is value else None
            if key not in found.laws:
                found.laws[key] = law
            elif found.laws[key] is not None:
                previous = found.laws[key]
                found.laws[key] = None if law is None else previous.widened(law)  # type: ignore[union-attr]
            kept = value[keep].detach().to(torch.float64).numpy()
            if kept.shape[0]:
                seen.setdefault(key, []).append(kept)
    for key, stacks in seen.items():
        found.invariants[key] = [
            name for name, test in INVARIANTS.items() if all(bool(test(s).all()) for s in stacks)
        ]
    return found


def _as_array(value: Any) -> np.ndarray | None:
    """A JSON value as a float64 array, or None when it is not a rectangular array of
    numbers."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return array if array.dtype == np.float64 else None


def _holds_bool(value: Any) -> bool:
    if isinstance(value, list):
        return any(_holds_bool(v) for v in value)
    return isinstance(value, bool)


def _holds_fraction(value: Any) -> bool:
    if isinstance(value, list):
        return any(_holds_fraction(v) for v in value)
    return not isinstance(value, int)


def refusal(found: Portrait, params: Params) -> str | None:
    """Why the program could not have drawn ``params``, in words, or None."""
    missing = sorted(set(found.kinds) - set(params))
    extra = sorted(set(params) - set(found.kinds))
    if missing or extra:
        return f"its parameters are not the program's (missing {missing}, unknown {extra})"
    for key, value in params.items():
        kind = found.kinds[key]
        if kind != "bool" and _holds_bool(value):
            return f"{key} holds a boolean where the program draws {kind}s"
        if kind == "int" and _holds_fraction(value):
            return f"{key} must hold integers, as the program draws it"
        array = _as_array(value)
        if array is None:
            return f"{key} is not a number or a rectangular array of numbers"
        if array.ndim not in found.axes[key]:
            axes = " or ".join(str(n) for n in sorted(found.axes[key]))
            return f"{key} has {array.ndim} axes where the program draws {axes}"
        if not np.isfinite(array).all():
            return f"{key} is not finite"
        law = found.laws.get(key)
        broken = law.refusal(array) if law is not None else None
        if broken is not None:
            return f"{key}: {broken}"
        for name in found.invariants.get(key, []):
            if not bool(INVARIANTS[name](array[None]).all()):
                return f"{key} must be {name}, as every instance the program draws is"
    return None


def admission(program: Callable[[Any], Batch]) -> Callable[[Params, Profile], str | None]:
    """``Property.admits`` for a program: the refusal of a saved instance, the program's
    portrait read once per profile (replay asks with the largest) on first use."""
    cache: dict[Profile, Portrait] = {}

    def admits(params: Params, profile: Profile) -> str | None:
        if profile not in cache:
            cache[profile] = portrait(program, profile)
        return refusal(cache[profile], params)

    return admits
