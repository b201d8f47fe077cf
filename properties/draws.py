"""One description of an instance distribution, read two ways: as a Hypothesis strategy
and as a batched sampler.

A *program* is a function ``program(draw) -> Batch`` that asks ``draw`` for its random
choices (a dimension, floats in a range, a rotation, ...) and computes the instance from
them with batched torch operations. Handed a :class:`HypothesisDraws` it is a Hypothesis
strategy: each choice is a Hypothesis draw, the batch has one instance, and Hypothesis
targets and shrinks it as usual. Handed a :class:`BatchDraws` it is the sweep's sampler:
each choice is drawn for thousands of instances at once with torch's generator, on the
device. So the two describe one distribution by construction: the same ranges, the same
arithmetic (a = a L / L computed by the same line), the same keys. What differs is the
law of each choice inside its range, and there the sampler copies what Hypothesis does
on purpose, with the probabilities stated below (``BatchDraws``) and checked by
``tests/test_draws.py``.

Shapes (the dimension d, the number of samples n, of terms m) are drawn once per batch:
a batch holds instances of one shape, and successive batches draw their own.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import hypothesis
import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from trajcheck.core import Batch, Params, Profile, Sweep
from trajcheck_catalogue.models.norms import norm

DTYPE = torch.float64
#: The smallest positive float64 (subnormal) and the smallest normal one.
SMALLEST_SUBNORMAL = float(np.nextafter(0.0, 1.0))
SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)

Bound = int | torch.Tensor


class Draws(ABC):
    """The random choices a program may make. Every method returns tensors with the batch
    as first dimension (``size`` instances), float64 or int64, except the shape choices
    (``dimension``, ``length``), which are one Python int for the whole batch."""

    def __init__(self, profile: Profile, size: int, device: torch.device) -> None:
        self.profile, self.size, self.device = profile, size, device

    @abstractmethod
    def length(self, low: int, high: int, *, favour_low: bool = False) -> int:
        """A shape: an integer in [low, high], one for the batch; ``favour_low`` draws
        ``low`` itself half of the time."""

    def dimension(self, low: int = 1, high: int | None = None, *, favour_low: bool = False) -> int:
        """The dimension d in [low, the profile's max_dimension]."""
        top = self.profile.max_dimension if high is None else high
        return self.length(low, max(low, top), favour_low=favour_low)

    @abstractmethod
    def floats(
        self,
        low: float,
        high: float,
        shape: Sequence[int] = (),
        *,
        exclude_min: bool = False,
        exclude_max: bool = False,
        allow_subnormal: bool = True,
        just: float | None = None,
    ) -> torch.Tensor:
        """Floats in [low, high], shape (size, *shape). ``just``: that value half of the
        time (Hypothesis's ``one_of(just(v), floats(...))``)."""

    @abstractmethod
    def integers(self, low: Bound, high: Bound) -> torch.Tensor:
        """Integers in [low, high], (size,) int64; a bound may be a tensor (size,)."""

    def steps(self, min_steps: int = 0) -> torch.Tensor:
        """A number K of inner steps in [min_steps, the profile's max_steps]."""
        return self.integers(min_steps, max(min_steps, self.profile.max_steps))

    @abstractmethod
    def booleans(self) -> torch.Tensor:
        """(size,) bool."""

    @abstractmethod
    def signs(self, shape: Sequence[int] = ()) -> torch.Tensor:
        """+1.0 or -1.0, shape (size, *shape)."""

    @abstractmethod
    def rotations(self, d: int) -> torch.Tensor:
        """Orthogonal d x d matrices from the Haar measure, (size, d, d)."""

    @abstractmethod
    def directions(self, count: int, d: int) -> torch.Tensor:
        """``count`` unit vectors uniform on the sphere of R^d, (size, count, d)."""

    @abstractmethod
    def gaussians(self, shape: Sequence[int], scale: float = 1.0) -> torch.Tensor:
        """Independent N(0, scale^2) entries, (size, *shape): a weight matrix drawn whole
        (entry by entry, Hypothesis would shrink it to a singular one)."""

    @abstractmethod
    def subset_masks(self, d: int, *, proper: bool = False) -> torch.Tensor:
        """The 0/1 mask of a non-empty subset of range(d) (a proper one if asked),
        (size, d) float64."""

    @abstractmethod
    def partitions(self, d: int, *, min_blocks: int = 1) -> torch.Tensor:
        """Contiguous blocks of range(d) (at least ``min_blocks``), as the block label of
        each coordinate, (size, d) int64."""

    @abstractmethod
    def assume(self, condition: torch.Tensor) -> None:
        """Keep only the instances where ``condition`` (size,) holds: Hypothesis rejects
        the example, the sampler drops the rows."""

    def vectors(self, d: int, bound: float = 10.0) -> torch.Tensor:
        """Vectors in [-bound, bound]^d, (size, d)."""
        return self.floats(-bound, bound, (d,))

    def unit_interval(
        self, *, exclude_min: bool = False, exclude_max: bool = False
    ) -> torch.Tensor:
        """A fraction in [0, 1]; when 0 is excluded, no subnormal either: a step size drawn
        as a fraction of its bound and divided by L would underflow to a = 0, outside the
        assumptions of every claim (0 < a)."""
        return self.floats(
            0.0, 1.0, exclude_min=exclude_min, exclude_max=exclude_max,
            allow_subnormal=not exclude_min,
        )  # fmt: skip

    def step_fractions(self, high: float, *, exclude_max: bool = False) -> torch.Tensor:
        """A step size as a fraction of its bound, in (0, high]: positive, never subnormal."""
        return self.floats(
            0.0, high, exclude_min=True, exclude_max=exclude_max, allow_subnormal=False
        )

    def up_to_the_boundary(self) -> torch.Tensor:
        """A fraction in (0, 1], exactly 1 half of the time: a step-size assumption such as
        a <= 1/L is most often broken, if at all, at its boundary."""
        return self.floats(0.0, 1.0, exclude_min=True, allow_subnormal=False, just=1.0)


Program = Callable[[Draws], Batch]


# Hypothesis --------------------------------------------------------------------------


def haar_rotation(d: int, seed: int) -> list[list[float]]:
    """An orthogonal d x d matrix from the Haar measure: QR of a Gaussian matrix with the
    signs of R's diagonal moved into Q (Mezzadri, How to generate random matrices from
    the classical compact groups, Notices AMS 2007).

    Drawn from a seed rather than entry by entry: d^2 Hypothesis floats would shrink to a
    singular matrix, and the rotation only matters up to its distribution.
    """
    gaussian = np.random.default_rng(seed).standard_normal((d, d))
    q, r = np.linalg.qr(gaussian)
    return (q * np.sign(np.diag(r))).tolist()


def unit_vector(d: int, seed: int) -> list[float]:
    """A direction drawn uniformly on the sphere (from a seed, like the rotations)."""
    v = torch.as_tensor(np.random.default_rng(seed).standard_normal(d))
    return (v / norm(v)).tolist()


def _lists(element: st.SearchStrategy, shape: Sequence[int]) -> st.SearchStrategy:
    for n in reversed(shape):
        element = st.lists(element, min_size=n, max_size=n)
    return element


class HypothesisDraws(Draws):
    """Each choice a Hypothesis draw, for a batch of one instance (on the CPU)."""

    def __init__(self, draw: st.DrawFn, profile: Profile) -> None:
        super().__init__(profile, 1, torch.device("cpu"))
        self.draw = draw

    def _tensor(self, value: object, dtype: torch.dtype = DTYPE) -> torch.Tensor:
        return torch.tensor(value, dtype=dtype).unsqueeze(0)

    def length(self, low: int, high: int, *, favour_low: bool = False) -> int:
        choice = st.integers(low, high)
        return self.draw(st.one_of(st.just(low), choice) if favour_low else choice)

    def floats(
        self, low: float, high: float, shape: Sequence[int] = (), *, exclude_min: bool = False,
        exclude_max: bool = False, allow_subnormal: bool = True, just: float | None = None,
    ) -> torch.Tensor:  # fmt: skip
        element: st.SearchStrategy[float] = st.floats(
            low, high, exclude_min=exclude_min, exclude_max=exclude_max,
            # True means "where the range has them", which Hypothesis spells None
            allow_subnormal=None if allow_subnormal else False,
        )  # fmt: skip
        if just is not None:
            element = st.one_of(st.just(just), element)
        return self._tensor(self.draw(_lists(element, shape)))

    def integers(self, low: Bound, high: Bound) -> torch.Tensor:
        return self._tensor(self.draw(st.integers(int(low), int(high))), torch.int64)

    def booleans(self) -> torch.Tensor:
        return self._tensor(self.draw(st.booleans()), torch.bool)

    def signs(self, shape: Sequence[int] = ()) -> torch.Tensor:
        return self._tensor(self.draw(_lists(st.sampled_from([1.0, -1.0]), shape)))

    def rotations(self, d: int) -> torch.Tensor:
        return self._tensor(haar_rotation(d, self.draw(st.integers(0, 2**32 - 1))))

    def directions(self, count: int, d: int) -> torch.Tensor:
        seeds = self.draw(_lists(st.integers(0, 2**32 - 1), (count,)))
        return self._tensor([unit_vector(d, seed) for seed in seeds])

    def gaussians(self, shape: Sequence[int], scale: float = 1.0) -> torch.Tensor:
        seed = self.draw(st.integers(0, 2**32 - 1))
        return self._tensor(scale * np.random.default_rng(seed).standard_normal(tuple(shape)))

    def subset_masks(self, d: int, *, proper: bool = False) -> torch.Tensor:
        """Drawn as a set of indices, which shrinks toward {0}."""
        chosen = self.draw(st.sets(st.integers(0, d - 1), min_size=1, max_size=d - proper))
        return self._tensor([float(i in chosen) for i in range(d)])

    def partitions(self, d: int, *, min_blocks: int = 1) -> torch.Tensor:
        return self._tensor(self.draw(block_partitions(d, min_blocks=min_blocks)), torch.int64)

    def assume(self, condition: torch.Tensor) -> None:
        hypothesis.assume(bool(condition[0]))


def block_partitions(d: int, *, min_blocks: int = 1) -> st.SearchStrategy[list[int]]:
    """Contiguous blocks of range(d), as the block label of each coordinate: the cuts
    between blocks are drawn (so the number of blocks and their sizes are), and a
    partition shrinks toward few cuts near the start."""
    if d == 1:
        return st.just([0])
    cuts = st.sets(st.integers(1, d - 1), min_size=min_blocks - 1, max_size=d - 1)
    return cuts.map(
        lambda chosen: [0, *itertools.accumulate(int(i in chosen) for i in range(1, d))]
    )


def to_params(batch: Batch) -> Params:
    """The only instance of a batch of one as JSON-ready parameters (ints stay ints)."""
    return {key: value[0].tolist() for key, value in batch.items()}


def strategy(program: Program) -> Callable[[Profile], st.SearchStrategy[Params]]:
    """The program as a property's ``instances``: a Hypothesis strategy per profile."""

    def instances(profile: Profile) -> st.SearchStrategy[Params]:
        @st.composite
        def drawn(draw: st.DrawFn) -> Params:
            return to_params(program(HypothesisDraws(draw, profile)))

        return drawn()

    return instances


# batches -----------------------------------------------------------------------------


class BatchDraws(Draws):
    """Each choice drawn for the whole batch with torch's generator, on the device.

    What Hypothesis reaches on purpose, this reaches with stated probabilities:

    - a float in [low, high]: ``low`` with probability ENDPOINT, ``high`` with ENDPOINT
      (unless excluded; the nearest float inside then), 0 with ENDPOINT when 0 lies
      strictly inside, a log-uniform magnitude with LOG_UNIFORM (from the smallest
      subnormal, or the smallest normal, up to the range's end, so that on [0, 1] a value
      below 1e-300 comes about once in 110 draws), uniform otherwise; ``just`` half of
      the time when given;
    - in a vector (eigenvalue ratios, coordinates), an instance repeats values with
      probability REPEATS, and then each entry copies its predecessor with probability 1/2
      (repeated eigenvalues, equal coordinates);
    - an integer: each end with ENDPOINT, uniform otherwise; a shape (dimension, sample
      count): each end with SHAPE_ENDPOINT, uniform otherwise, and ``low`` half of the time
      when favoured;
    - rotations exactly from the Haar measure, directions uniform on the sphere.
    """

    ENDPOINT = 1 / 16
    LOG_UNIFORM = 1 / 8
    REPEATS = 1 / 8
    SHAPE_ENDPOINT = 1 / 4

    def __init__(
        self, profile: Profile, size: int, generator: torch.Generator, device: torch.device
    ) -> None:
        super().__init__(profile, size, device)
        self.generator = generator
        self.keep: torch.Tensor | None = None
        # the shapes come from a CPU generator seeded once per batch from the device's:
        # one read from the device, however many shapes the program draws
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=device))
        self.shapes = torch.Generator().manual_seed(seed)

    def _uniform(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device, dtype=DTYPE)

    def length(self, low: int, high: int, *, favour_low: bool = False) -> int:
        u = float(torch.rand(1, generator=self.shapes))
        if favour_low and u < 0.5:
            return low
        u = (u - 0.5) * 2 if favour_low else u
        if u < self.SHAPE_ENDPOINT:
            return low
        if u < 2 * self.SHAPE_ENDPOINT:
            return high
        return min(high, low + int((u - 2 * self.SHAPE_ENDPOINT) / (1 - 2 * self.SHAPE_ENDPOINT)
                                   * (high - low + 1)))  # fmt: skip

    def floats(
        self, low: float, high: float, shape: Sequence[int] = (), *, exclude_min: bool = False,
        exclude_max: bool = False, allow_subnormal: bool = True, just: float | None = None,
    ) -> torch.Tensor:  # fmt: skip
        full = (self.size, *shape)
        inside_low = math.nextafter(low, math.inf) if exclude_min else low
        inside_high = math.nextafter(high, -math.inf) if exclude_max else high
        value = low + (high - low) * self._uniform(*full)
        kind = self._uniform(*full)
        # log-uniform magnitudes, from the smallest float the range allows to its end
        tiny = SMALLEST_SUBNORMAL if allow_subnormal else SMALLEST_NORMAL
        if low >= 0 or high <= 0:
            near, far = sorted((abs(low), abs(high)))
            sign = 1.0 if low >= 0 else -1.0
            logged = sign * _log_uniform(max(near, tiny), far, self._uniform(*full))
        else:
            positive = self._uniform(*full) * (high - low) < high
            far_side = torch.where(positive, high, -low)
            logged = torch.where(positive, 1.0, -1.0) * _log_uniform(
                tiny, far_side, self._uniform(*full)
            )
        E = self.ENDPOINT
        value = torch.where((kind >= 3 * E) & (kind < 3 * E + self.LOG_UNIFORM), logged, value)
        if low < 0 < high:
            value = torch.where((kind >= 2 * E) & (kind < 3 * E), 0.0, value)
        value = torch.where((kind >= E) & (kind < 2 * E), high, value)
        value = torch.where(kind < E, low, value)
        value = value.clamp(inside_low, inside_high)
        if not allow_subnormal:  # a magnitude below the smallest normal rounds away from 0
            small = value.abs() < SMALLEST_NORMAL
            value = torch.where(small & (value != 0), torch.copysign(torch.tensor(
                SMALLEST_NORMAL, dtype=DTYPE, device=self.device), value), value)  # fmt: skip
            if exclude_min and low == 0:
                value = value.clamp(min=SMALLEST_NORMAL)
        if shape:
            value = self._repeat(value)
        if just is not None:
            value = torch.where(self._uniform(self.size).view(-1, *[1] * len(shape)) < 0.5,
                                just, value)  # fmt: skip
        return value

    def _repeat(self, value: torch.Tensor) -> torch.Tensor:
        """Within the instances chosen to repeat, each entry copies its predecessor along
        the last axis with probability 1/2 (runs of equal values)."""
        n = value.shape[-1]
        if n < 2:
            return value
        repeating = self._uniform(self.size).view(-1, *[1] * (value.dim() - 1)) < self.REPEATS
        copy = repeating & (self._uniform(*value.shape) < 0.5)
        copy[..., 0] = False
        position = torch.arange(n, device=self.device).expand_as(value)
        source = torch.cummax(torch.where(copy, 0, position), dim=-1).values
        return value.gather(-1, source)

    def integers(self, low: Bound, high: Bound) -> torch.Tensor:
        low_ = torch.as_tensor(low, device=self.device).expand(self.size)
        high_ = torch.as_tensor(high, device=self.device).expand(self.size)
        span = (high_ - low_ + 1).to(DTYPE)
        value = low_ + torch.floor(self._uniform(self.size) * span).long()
        kind = self._uniform(self.size)
        value = torch.where(kind < 2 * self.ENDPOINT, high_, value)
        value = torch.where(kind < self.ENDPOINT, low_, value)
        return torch.minimum(value, high_).long()

    def booleans(self) -> torch.Tensor:
        return self._uniform(self.size) < 0.5

    def signs(self, shape: Sequence[int] = ()) -> torch.Tensor:
        return torch.where(self._uniform(self.size, *shape) < 0.5, 1.0, -1.0).to(DTYPE)

    def rotations(self, d: int) -> torch.Tensor:
        return haar_rotations(self.size, d, self.generator, self.device)

    def gaussians(self, shape: Sequence[int], scale: float = 1.0) -> torch.Tensor:
        full = (self.size, *shape)
        return scale * torch.randn(*full, generator=self.generator, device=self.device, dtype=DTYPE)

    def _random_index(self, d: int) -> torch.Tensor:
        return torch.randint(0, d, (self.size, 1), generator=self.generator, device=self.device)

    def subset_masks(self, d: int, *, proper: bool = False) -> torch.Tensor:
        """Each index in with a probability drawn per instance (so that small and large
        subsets both come), then one index put in when none is, and one taken out when a
        proper subset has all."""
        share = self._uniform(self.size, 1)
        mask = self._uniform(self.size, d) < share
        empty = ~mask.any(dim=-1, keepdim=True)
        mask = mask | (empty & F.one_hot(self._random_index(d)[:, 0], d).bool())
        if proper:
            full = mask.all(dim=-1, keepdim=True)
            mask = mask & ~(full & F.one_hot(self._random_index(d)[:, 0], d).bool())
        return mask.to(DTYPE)

    def partitions(self, d: int, *, min_blocks: int = 1) -> torch.Tensor:
        """A cut at each of the d - 1 places with a probability drawn per instance (one
        block, d blocks and all between), then cuts added at random places until there
        are min_blocks - 1."""
        if d == 1:
            return torch.zeros(self.size, 1, dtype=torch.int64, device=self.device)
        cuts = self._uniform(self.size, d - 1) < self._uniform(self.size, 1)
        for _ in range(min_blocks - 1):
            short = cuts.sum(dim=-1, keepdim=True) < min_blocks - 1
            free = torch.where(cuts, -1.0, self._uniform(self.size, d - 1))
            cuts = cuts | (short & F.one_hot(free.argmax(dim=-1), d - 1).bool())
        zero = torch.zeros(self.size, 1, dtype=torch.int64, device=self.device)
        return torch.cat([zero, torch.cumsum(cuts.long(), dim=-1)], dim=-1)

    def assume(self, condition: torch.Tensor) -> None:
        self.keep = condition if self.keep is None else self.keep & condition

    def directions(self, count: int, d: int) -> torch.Tensor:
        v = torch.randn(
            self.size, count, d, generator=self.generator, device=self.device, dtype=DTYPE
        )
        return v / norm(v, keepdim=True)


def _log_uniform(near: float, far: float | torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """near * (far/near)^u, in logarithms: far/near overflows when near is subnormal."""
    if isinstance(far, float) and far <= 0:  # the range [0, 0]
        return torch.zeros_like(u)
    start = math.log(near)
    return torch.exp(start + u * (torch.log(torch.as_tensor(far, dtype=DTYPE)) - start))


def haar_rotations(
    count: int, d: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """``count`` orthogonal d x d matrices from the Haar measure, built from Householder
    reflections of Gaussian vectors (Stewart, The efficient generation of random
    orthogonal matrices with an application to condition estimators, SIAM J. Numer.
    Anal. 1980; Mezzadri 2007, section 5).

    Q_n = H(x) diag(1, Q_{n-1}), where x is Gaussian in R^n and H(x) is the reflection,
    times -sign(x_1), that maps e_1 to x/||x|| (uniform on the sphere); Q_{n-1} is Haar
    on O(n-1), and so Q_n is Haar on O(n). Each reflection is a rank-one update of the
    whole batch: elementwise work and batched products only, no per-matrix LAPACK call
    (torch.linalg.qr on cuda loops over small matrices: 70 us each). Written by hand
    because no maintained library draws batched Haar matrices in torch.
    """
    q = torch.ones(count, 1, 1, device=device, dtype=DTYPE)
    q = torch.where(torch.rand(count, 1, 1, generator=generator, device=device) < 0.5, q, -q)
    for n in range(2, d + 1):
        x = torch.randn(count, n, generator=generator, device=device, dtype=DTYPE)
        sign = torch.where(x[:, :1] >= 0, 1.0, -1.0).to(DTYPE)
        u = x.clone()
        u[:, :1] += sign * norm(x, keepdim=True)
        embedded = torch.zeros(count, n, n, device=device, dtype=DTYPE)
        embedded[:, 0, 0] = 1.0
        embedded[:, 1:, 1:] = q
        # -sign(x_1) (I - 2 u u'/u'u) applied to diag(1, Q_{n-1})
        projection = u.unsqueeze(-1) * (u.unsqueeze(-2) @ embedded) / (u * u).sum(-1)[:, None, None]
        q = -sign.unsqueeze(-1) * (embedded - 2 * projection)
    return q


class Sampler:
    """The program as a property's ``sweep``: ``count`` instances in one batch. The program
    stays reachable (``program``), so that the tests can run it under checking draws."""

    def __init__(self, program: Program) -> None:
        self.program = program

    def __call__(
        self, count: int, generator: torch.Generator, profile: Profile, device: torch.device
    ) -> Batch:
        draws = BatchDraws(profile, count, generator, device)
        batch = self.program(draws)
        if draws.keep is None:
            return batch
        # the rejected rows go: the batch's size then depends on the data, and reading it
        # costs one synchronisation (only the families with an assumption pay it)
        return {key: value[draws.keep] for key, value in batch.items()}


def sampler(program: Program) -> Sweep:
    """The program as a property's ``sweep``."""
    return Sampler(program)


def drawn_by(program: Program) -> dict[str, Any]:
    """A property's ``instances``, ``sweep`` and ``admits`` (what replay checks a saved
    instance against, ``properties/admission.py``) from one program, as keyword
    arguments: ``Property(claim, measure=..., dimension=..., **drawn_by(program))``."""
    from trajcheck_catalogue.properties.admission import admission

    return {
        "instances": strategy(program),
        "sweep": sampler(program),
        "admits": admission(program),
    }
