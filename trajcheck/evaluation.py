"""Measuring instances: the checks every measure's output passes, and the margin rule.

Both search paths go through :func:`measure_batch`: the Hypothesis search with a batch of
one instance, the sweep with thousands. So both apply the same rule:

- the sides are checked before any margin is taken: ``lhs`` and ``rhs`` are tensors of
  one shape, (B,) or (B, m); ``scale`` is (B,) or the sides' shape; all three have the
  run's dtype (float64 unless asked). Anything else is a :class:`MeasureError` whose
  message names what was expected, and the claim's verdict is ``error``;
- a non-finite lhs, rhs or scale makes the instance non-finite, and the verdict
  ``error``, never a pass;
- the measure runs with torch's default dtype set to the run's, so that no implicit
  promotion (an int64 tensor plus a Python float) computes a bound in float32;
- an inequality ``lhs <= rhs`` is violated when ``lhs - rhs > rtol * max(|rhs|, scale)``
  (an identity when ``|lhs - rhs|`` is), that is when the *tolerated* margin
  ``(rhs - lhs) / max(|rhs|, scale)`` is below ``-rtol``; the *plain* margin
  ``(rhs - lhs) / |rhs|`` is what a counterexample reports beside its two sides.

A violation is then confirmed by :func:`decided_by_rounding` before it counts (see there).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# torch's documented extension point for intercepting every aten operation (what
# torch.utils.flop_counter builds on); it lives in a private module
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map

from trajcheck.core import TINY, Measurement, Params, Property, to_batch

DTYPE = torch.float64

#: Below this size (the smallest normal float64 over eps) a result may have gone through
#: subnormal numbers and lost relative precision: its margin says nothing about tightness.
SUBNORMAL_SIDE = float(np.finfo(np.float64).tiny / np.finfo(np.float64).eps)

#: The rounding check: re-measurements of a violating instance under random rounding,
#: each input of each operation moved by 1 to ROUNDING_ULPS units of eps.
ROUNDING_TRIALS = 4
ROUNDING_ULPS = 4.0


class MeasureError(Exception):
    """A measure's output breaks the contract (type, shape or dtype of a side)."""


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """torch's default dtype set to ``dtype`` for the block: a tensor built from Python
    numbers, or an int64 tensor promoted by a float, gets the run's precision."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def margins(lhs: torch.Tensor, rhs: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    """(rhs - lhs) / max(|rhs|, scale): the relative slack of each inequality.

    ``lhs`` and ``rhs`` are (B,) or (B, m); ``scale`` is (B,), the same for every part,
    or (B, m), one per part.
    """
    if scale is None:
        scale = torch.zeros_like(rhs)
    elif scale.dim() < rhs.dim():
        scale = scale.unsqueeze(-1)
    return (rhs - lhs) / torch.clamp(torch.maximum(rhs.abs(), scale), min=TINY)


def _tensor(value: Any, name: str, size: int, dtype: torch.dtype) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise MeasureError(
            f"the measure's {name} is a {type(value).__name__}; expected a torch.Tensor "
            f"of shape ({size},) or ({size}, m) in {dtype}"
        )
    if value.dim() not in (1, 2) or value.shape[0] != size:
        raise MeasureError(
            f"the measure's {name} has shape {tuple(value.shape)}; expected ({size},) or "
            f"({size}, m) for a batch of {size}"
        )
    if value.dtype != dtype:
        raise MeasureError(
            f"the measure's {name} has dtype {value.dtype}; the run computes in {dtype} "
            "(a side in another precision would be compared at the wrong tolerance)"
        )
    return value


@dataclass
class BatchMargins:
    """A batch measured and checked: sides as (B, m), margins of each part, and per
    instance the worst part (smallest tolerated margin)."""

    lhs: torch.Tensor
    rhs: torch.Tensor
    scale: torch.Tensor  # (B, m); zeros where the measure gives none
    tolerated: torch.Tensor
    plain: torch.Tensor
    parts: tuple[str, ...]
    notes: dict[str, torch.Tensor]  # (B,): one value per instance

    @property
    def size(self) -> int:
        return int(self.lhs.shape[0])

    @property
    def finite(self) -> torch.Tensor:
        """(B,): every side and the scale finite."""
        return (
            torch.isfinite(self.lhs) & torch.isfinite(self.rhs) & torch.isfinite(self.scale)
        ).all(dim=-1)

    @property
    def worst_part(self) -> torch.Tensor:
        return torch.nan_to_num(self.tolerated, nan=-math.inf).argmin(dim=-1, keepdim=True)

    def at_worst(self, values: torch.Tensor) -> torch.Tensor:
        """(B,): ``values`` (B, m) at each instance's worst part."""
        return values.gather(-1, self.worst_part).squeeze(-1)

    def nonfinite(self, index: int) -> str:
        """Which sides of instance ``index`` are not finite, with their values."""
        named = {"lhs": self.lhs, "rhs": self.rhs, "scale": self.scale}
        bad = [
            f"{name}={value[index].tolist()!r}"
            for name, value in named.items()
            if not bool(torch.isfinite(value[index]).all())
        ]
        return "non-finite " + ", ".join(bad)

    def evaluation(self, index: int) -> Evaluation:
        j = int(self.worst_part[index, 0])
        finite = bool(self.finite[index])
        return Evaluation(
            lhs=float(self.lhs[index, j]),
            rhs=float(self.rhs[index, j]),
            margin=float(self.plain[index, j]),
            tolerated=float(self.tolerated[index, j]),
            part=self.parts[j] if self.parts else None,
            notes={k: float(v[index]) for k, v in self.notes.items()},
            finite=finite,
            problem=None if finite else self.nonfinite(index),
        )


def check(
    measurement: Any, size: int, dtype: torch.dtype = DTYPE, *, identity: bool = False
) -> BatchMargins:
    """Check a measure's output for a batch of ``size`` and take its margins."""
    if not isinstance(measurement, Measurement):
        raise MeasureError(
            f"the measure returned a {type(measurement).__name__}; expected a "
            "trajcheck.core.Measurement(lhs, rhs, scale=None, parts=(), notes={})"
        )
    lhs = _tensor(measurement.lhs, "lhs", size, dtype)
    rhs = _tensor(measurement.rhs, "rhs", size, dtype)
    if lhs.shape != rhs.shape:
        raise MeasureError(
            f"the measure's sides differ in shape: lhs {tuple(lhs.shape)}, rhs "
            f"{tuple(rhs.shape)}; both must be ({size},) or the same ({size}, m)"
        )
    lhs, rhs = lhs.reshape(size, -1), rhs.reshape(size, -1)
    if measurement.scale is None:
        scale = torch.zeros_like(rhs)
    else:
        scale = _tensor(measurement.scale, "scale", size, dtype)
        if scale.dim() == 2 and scale.shape != measurement.lhs.shape:
            raise MeasureError(
                f"the measure's scale has shape {tuple(scale.shape)}; expected ({size},) "
                f"or the sides' shape {tuple(measurement.lhs.shape)}"
            )
        scale = scale.reshape(size, -1).expand_as(rhs)
    parts = tuple(measurement.parts)
    if parts and len(parts) != rhs.shape[-1]:
        raise MeasureError(
            f"the measure names {len(parts)} parts for sides of {rhs.shape[-1]} columns"
        )
    notes = {}
    for name, value in measurement.notes.items():
        if not isinstance(value, torch.Tensor) or value.numel() == 0 or value.shape[0] != size:
            raise MeasureError(f"the measure's note {name!r} is not a tensor of {size} rows")
        notes[name] = value.reshape(size, -1)[:, 0].detach().to(torch.float64)
    tolerated, plain = margins(lhs, rhs, scale), margins(lhs, rhs, None)
    if identity:
        tolerated, plain = -tolerated.abs(), -plain.abs()
    return BatchMargins(lhs, rhs, scale, tolerated, plain, parts, notes)


def measure_batch(
    prop: Property,
    batch: Mapping[str, Any],
    constants: Mapping[str, float],
    size: int,
    dtype: torch.dtype = DTYPE,
) -> BatchMargins:
    """Run a property's measure on a batch (under the run's default dtype) and check it."""
    with default_dtype(dtype):
        measured = prop.measure(dict(batch), constants)
    return check(measured, size, dtype, identity=prop.claim.kind == "identity")


@dataclass
class Evaluation:
    """One instance measured: both sides of its worst part, as floats.

    ``margin`` is the reported slack, relative to |rhs|; ``tolerated`` is the slack
    relative to max(|rhs|, scale), the one the claim's rtol applies to.
    """

    lhs: float
    rhs: float
    margin: float
    tolerated: float
    part: str | None
    notes: dict[str, float]
    finite: bool
    problem: str | None = None  # what is not finite, when ``finite`` is false

    def violates(self, rtol: float) -> bool:
        return self.tolerated < -rtol

    @property
    def trivial(self) -> bool:
        """Both sides so small (0, or through subnormal numbers) that the margin is noise."""
        return max(abs(self.lhs), abs(self.rhs)) < SUBNORMAL_SIDE


def evaluate(
    prop: Property,
    params: Params,
    constants: Mapping[str, float],
    device: torch.device,
    dtype: torch.dtype = DTYPE,
) -> Evaluation:
    """Measure one instance and reduce several inequalities to the worst one."""
    return measure_batch(prop, to_batch(params, device, dtype), constants, 1, dtype).evaluation(0)


class RandomRounding(TorchDispatchMode):
    """Monte Carlo arithmetic for torch: the operands and results of every operation are
    multiplied by 1 + u eps, |u| uniform in [1, ROUNDING_ULPS] with a random sign (after
    Parker, Monte Carlo Arithmetic, 1997, and the random rounding of CESTAC and
    Verificarlo).

    It works below autograd and torch.func, on each aten operation, so that the sums
    inside a matrix product, the subtraction that cancels, the eigenvalue routine all see
    their operands moved by about the rounding they would make: a result that rounding
    decides moves by as much as it is. What is exact stays exact, as in Monte Carlo
    arithmetic's random-rounding mode: operations that round nothing (comparisons,
    conversions, selections: EXACT_OPERATIONS) and those that write into or alias their
    inputs are left alone, and so are whole numbers held as floats (block labels, counts,
    masks, the entries of an identity) unless an operation on a fraction produced them
    (1 + 1e-20 is 1 by rounding). No maintained library does this for torch
    (Verificarlo instruments compiled code), hence this class; it uses torch's
    documented dispatch-mode extension point.
    """

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.generator = generator

    def _jitter(self, value: Any, *, whole_too: bool = False) -> Any:
        """``value`` moved by 1 to ROUNDING_ULPS ulps; its whole numbers only if asked."""
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            return value
        # a ZeroTensor (torch's immutable zeros, which forward-mode differentiation makes
        # for tangents of nothing) holds nothing to round; touching it crashed the process
        if value.numel() == 0 or value._is_zerotensor():
            return value
        # 1 to ROUNDING_ULPS units of eps, either sign: never less than one ulp, so that
        # two equal operands do not stay equal (half of them would under +-1/2 ulp)
        size = torch.rand(value.shape, generator=self.generator, dtype=value.dtype)
        sign = torch.randint(0, 2, value.shape, generator=self.generator).to(value.dtype)
        units = (1 + (ROUNDING_ULPS - 1) * size) * (2 * sign - 1)
        moved = value * (1 + units.to(value.device) * torch.finfo(value.dtype).eps)
        return moved if whole_too else torch.where(value == torch.trunc(value), value, moved)

    @staticmethod
    def _fractional(value: Any) -> bool:
        return (
            isinstance(value, torch.Tensor)
            and value.is_floating_point()
            and bool((value != torch.trunc(value)).any())
        )

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        schema = func._schema
        if (
            schema.is_mutable
            or func.is_view
            or any(r.alias_info is not None for r in schema.returns)
            or torch.Tag.nondeterministic_seeded in func.tags
            or func.overloadpacket.__name__ in EXACT_OPERATIONS
        ):
            return func(*args, **kwargs)
        inexact = any(self._fractional(a) for a in tree_leaves(args))
        result = func(*tree_map(self._jitter, args), **kwargs)
        return tree_map(lambda r: self._jitter(r, whole_too=inexact), result)


#: Operations that round nothing (comparisons, selections, conversions, copies, sign and
#: order): random rounding leaves their inputs alone, as Monte Carlo arithmetic leaves
#: exact operations exact. Jittered, block labels held as floats would turn into other
#: labels under .long(), and masks built by comparison would flip.
EXACT_OPERATIONS = frozenset(
    " ".join(
        (
            "eq ne lt le gt ge maximum minimum max min amax amin aminmax abs neg sign sgn signbit",
            "where clamp clamp_min clamp_max floor ceil round trunc argmax argmin sort topk",
            "kthvalue cat stack index index_select gather scatter scatter_add masked_fill",
            "masked_select _to_copy to clone copy isfinite isnan isinf isneginf isposinf",
            "logical_and logical_or logical_not logical_xor bitwise_and bitwise_or bitwise_not",
            "flip roll tril triu diag_embed diag nonzero count_nonzero any all bincount bucketize",
            "searchsorted repeat constant_pad_nd zeros_like ones_like full_like empty_like fill",
            "lift_fresh detach one_hot heaviside _efficientzerotensor",
        )
    ).split()
)


def rounding_spread(
    prop: Property,
    params: Params,
    constants: Mapping[str, float],
    device: torch.device,
    reference: float,
    dtype: torch.dtype = DTYPE,
    *,
    enough: float = math.inf,
) -> float:
    """How far random rounding moves an instance's tolerated margin from ``reference``:
    the largest move over ROUNDING_TRIALS re-measurements under :class:`RandomRounding`
    (stopping early once one moves by ``enough``).

    The trials are seeded by the instance, so the answer is the same every time
    (Hypothesis's shrinker needs a deterministic predicate)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
    batch = to_batch(params, device, dtype)
    spread = 0.0
    for _ in range(ROUNDING_TRIALS):
        try:
            # only the measure is rounded at random: the margin's own arithmetic (and its
            # finiteness test, x - x == 0) must stay exact
            with default_dtype(dtype), RandomRounding(generator):
                measured = prop.measure(dict(batch), constants)
            again = check(measured, 1, dtype, identity=prop.claim.kind == "identity")
        except Exception:  # a computation that random rounding breaks says nothing either way
            continue
        if bool(again.finite[0]):
            spread = max(spread, abs(again.evaluation(0).tolerated - reference))
            if spread >= enough:
                break
    return spread


def decided_by_rounding(
    prop: Property,
    params: Params,
    constants: Mapping[str, float],
    device: torch.device,
    found: Evaluation,
    dtype: torch.dtype = DTYPE,
) -> bool:
    """Whether a violation is within the rounding of its own computation.

    A measure's ``scale`` states how large its rounding can be; where it understates it
    (a scale that cancels exactly along with the sides, or no scale where the measure
    subtracts large terms), a violation can be rounding alone. torch has no type wider
    than float64 to recompute in, so the instance is measured again ROUNDING_TRIALS times
    under random rounding (:func:`rounding_spread`), and the violation is rounding when
    one of those measurements moves the tolerated margin by as much as the margin lies
    past the threshold -rtol. A real violation lies far past it compared with what
    rounding moves; one made of rounding moves by about as much as it is.

    ``found`` must be the instance measured alone (a batch of one, as here): a value
    seen only inside a batch is checked first by :func:`measured_alone`. A census (each
    instance an experiment, a violation a matter of statistics) and a property that opts
    out (``Property.rounding_check``: a training run per instance) are not checked.
    """
    if prop.census or not prop.rounding_check:
        return False
    past = abs(found.tolerated + prop.claim.rtol)
    spread = rounding_spread(prop, params, constants, device, found.tolerated, dtype, enough=past)
    return spread >= past


#: Two measurements of one instance that differ by no more than this (relative, in the
#: tolerated margin) are the same value: a batched kernel may sum in another order than
#: the kernel for one instance, a few ulps of the sides.
SAME_VALUE = 64 * float(np.finfo(np.float64).eps)


class BatchDependent(MeasureError):
    """A measure gave an instance a value inside a batch that it does not give the same
    instance alone, by more than random rounding moves it: the measure mixes instances
    (a broadcast or a reduction across the batch), and nothing it says can be trusted."""


def measured_alone(
    prop: Property,
    params: Params,
    constants: Mapping[str, float],
    device: torch.device,
    in_batch: Evaluation,
    batch_size: int,
    dtype: torch.dtype = DTYPE,
) -> Evaluation:
    """The instance measured alone, when that reproduces ``in_batch`` (its measurement
    inside a batch of ``batch_size``); :class:`BatchDependent` when it does not.

    Reproduced means: the two tolerated margins differ by at most SAME_VALUE, or by no
    more than twice what random rounding moves the instance's margin (:func:`rounding_spread`).
    Rounding is only what random rounding reproduces; anything beyond it is a measure
    whose value depends on the batch it sits in, an ``error``, never a pass.
    """
    alone = evaluate(prop, params, constants, device, dtype)
    if alone.finite and in_batch.finite:
        gap = abs(alone.tolerated - in_batch.tolerated)
        if gap <= SAME_VALUE:
            return alone
        if prop.rounding_check and not prop.census:
            spread = rounding_spread(
                prop, params, constants, device, alone.tolerated, dtype, enough=gap / 2
            )
            if gap <= 2 * spread:
                return alone
    elif alone.finite == in_batch.finite:
        return alone  # non-finite both ways: the caller reports it as it is
    raise BatchDependent(
        f"the measure does not reproduce alone what it gave in a batch of {batch_size}: "
        f"in the batch lhs={in_batch.lhs!r}, rhs={in_batch.rhs!r} (margin "
        f"{in_batch.tolerated:+.3e}), alone lhs={alone.lhs!r}, rhs={alone.rhs!r} (margin "
        f"{alone.tolerated:+.3e}), beyond what random rounding moves it; a measure must "
        f"not mix the instances of a batch (instance {params!r})"
    )
