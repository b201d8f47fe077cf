"""The sampler and the Hypothesis strategy of a family describe one distribution: every
sampled instance satisfies the constraints the strategy draws under, and the sampler
reaches what Hypothesis reaches on purpose with the probabilities it states."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from trajcheck.core import Params, Profile, Property
from trajcheck.discovery import discover
from trajcheck.evaluation import measure_batch
from trajcheck.modes.sweep import batch_size, instance
from trajcheck.profiles import get_profile
from trajcheck_catalogue.properties.draws import (
    SMALLEST_NORMAL,
    BatchDraws,
    Bound,
    Sampler,
    haar_rotations,
)

CPU = torch.device("cpu")
CI = get_profile("ci")
CATALOGUE = discover()
SAMPLED = [
    prop
    for entry in CATALOGUE.entries.values()
    for prop in entry.props
    if isinstance(prop.sweep, Sampler)
]
#: A p-value below this fails a rate test; the draws are seeded, so the tests are
#: deterministic, and the threshold only says how far from the stated rate is too far.
SIGNIFICANCE = 1e-6


class CheckingDraws(BatchDraws):
    """Batch draws that check every choice against the constraints it was asked for."""

    def length(self, low: int, high: int, *, favour_low: bool = False) -> int:
        value = super().length(low, high, favour_low=favour_low)
        assert low <= value <= high
        return value

    def floats(
        self, low: float, high: float, shape: Sequence[int] = (), *, exclude_min: bool = False,
        exclude_max: bool = False, allow_subnormal: bool = True, just: float | None = None,
    ) -> torch.Tensor:  # fmt: skip
        value = super().floats(
            low, high, shape, exclude_min=exclude_min, exclude_max=exclude_max,
            allow_subnormal=allow_subnormal, just=just,
        )  # fmt: skip
        assert value.shape == (self.size, *shape) and value.dtype == torch.float64
        inside = value if just is None else value[value != just]
        assert bool(torch.isfinite(value).all())
        assert bool((inside > low).all() if exclude_min else (inside >= low).all())
        assert bool((inside < high).all() if exclude_max else (inside <= high).all())
        if not allow_subnormal:
            assert bool(((inside == 0) | (inside.abs() >= SMALLEST_NORMAL)).all())
        return value

    def integers(self, low: Bound, high: Bound) -> torch.Tensor:
        value = super().integers(low, high)
        assert value.dtype == torch.int64 and value.shape == (self.size,)
        assert bool((value >= torch.as_tensor(low)).all() & (value <= torch.as_tensor(high)).all())
        return value

    def rotations(self, d: int) -> torch.Tensor:
        q = super().rotations(d)
        eye = torch.eye(d, dtype=q.dtype)
        assert float((q @ q.transpose(-1, -2) - eye).abs().max()) < 1e-12
        return q

    def directions(self, count: int, d: int) -> torch.Tensor:
        v = super().directions(count, d)
        assert float((torch.linalg.vector_norm(v, dim=-1) - 1).abs().max()) < 1e-12
        return v

    def subset_masks(self, d: int, *, proper: bool = False) -> torch.Tensor:
        mask = super().subset_masks(d, proper=proper)
        sizes = mask.sum(-1)
        assert bool((sizes >= 1).all()) and bool((sizes <= d - proper).all())
        return mask

    def partitions(self, d: int, *, min_blocks: int = 1) -> torch.Tensor:
        labels = super().partitions(d, min_blocks=min_blocks)
        steps = labels.diff(dim=-1)
        assert bool((labels[:, 0] == 0).all()) and bool(((steps == 0) | (steps == 1)).all())
        assert bool((labels[:, -1] + 1 >= min_blocks).all())
        return labels


def _ids(props: Sequence[Property]) -> list[str]:
    return [f"{p.claim.id}[{p.model}]" for p in props]


def _hypothesis_example(prop: Property, profile: Profile) -> Params:
    found: list[Params] = []

    @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck))
    @given(prop.instances(profile))
    def take(params: Params) -> None:
        found.append(params)

    take()
    return found[0]


@pytest.mark.parametrize("prop", SAMPLED, ids=_ids(SAMPLED))
def test_every_sampled_instance_satisfies_the_strategys_constraints(prop: Property) -> None:
    """Twelve batches under checking draws: every choice within what was asked; the
    instances of the keys and number types a Hypothesis example has, within the
    profile's steps (and its dimensions: the shape choices are checked)."""
    assert isinstance(prop.sweep, Sampler)
    generator = torch.Generator().manual_seed(7)
    example = _hypothesis_example(prop, CI)
    for _ in range(12):
        draws = CheckingDraws(CI, 64, generator, CPU)
        batch = prop.sweep.program(draws)
        if draws.keep is not None:
            batch = {key: value[draws.keep] for key, value in batch.items()}
        assert set(batch) == set(example)
        if not next(iter(batch.values())).shape[0]:
            continue
        params = instance(batch, 0)
        for key, value in params.items():
            assert type(np.ravel(value)[0].item()) is type(np.ravel(example[key])[0].item()), key
        if prop.steps is not None:
            assert prop.steps(params) <= CI.max_steps


def _rate(hits: torch.Tensor) -> tuple[int, int]:
    return int(hits.sum()), hits.numel()


def _agrees(hits: torch.Tensor, stated: float) -> bool:
    count, total = _rate(hits)
    return binomtest(count, total, stated).pvalue > SIGNIFICANCE


def _draws(size: int = 200_000, seed: int = 11) -> BatchDraws:
    return BatchDraws(CI, size, torch.Generator().manual_seed(seed), CPU)


def test_floats_reach_both_ends_zero_and_tiny_magnitudes_at_the_stated_rates() -> None:
    draws, E, LOG = _draws(), BatchDraws.ENDPOINT, BatchDraws.LOG_UNIFORM
    x = draws.floats(-10.0, 10.0)
    assert _agrees(x == -10.0, E) and _agrees(x == 10.0, E) and _agrees(x == 0.0, E)
    # log-uniform magnitudes from the smallest subnormal (about 10^-323.3) up to 10
    tiny = (x != 0) & (x.abs() < 1e-300)
    smallest = math.log10(float(np.nextafter(0.0, 1.0)))
    assert _agrees(tiny, LOG * (-300 - smallest) / (1 - smallest))
    assert float(x[x != 0].abs().min()) < 1e-320  # subnormal numbers too
    y = draws.floats(0.0, 1.0, exclude_min=True, allow_subnormal=False)
    assert float(y.min()) >= SMALLEST_NORMAL and _agrees(y == 1.0, E)
    assert float(y.min()) < 1e-300


def test_a_fraction_up_to_the_boundary_is_at_it_half_of_the_time_and_more() -> None:
    s = _draws().up_to_the_boundary()
    assert _agrees(s == 1.0, 0.5 + 0.5 * BatchDraws.ENDPOINT) and float(s.min()) > 0


def test_repeated_values_come_at_the_stated_rate() -> None:
    """Within a repeating instance each entry copies its predecessor half of the time:
    two neighbours equal with probability REPEATS / 2 (uniform draws never tie)."""
    x = _draws().floats(0.5, 2.0, (4,))
    assert _agrees(x[:, 1] == x[:, 0], BatchDraws.REPEATS / 2 + 2 * BatchDraws.ENDPOINT**2)


def test_shapes_reach_both_ends() -> None:
    draws = _draws(1)
    dimensions = torch.tensor([draws.dimension() for _ in range(4000)])
    assert _agrees(dimensions == 1, BatchDraws.SHAPE_ENDPOINT + 0.5 / CI.max_dimension)
    assert _agrees(dimensions == CI.max_dimension, BatchDraws.SHAPE_ENDPOINT + 0.5 / 8)
    favoured = torch.tensor([draws.dimension(favour_low=True) for _ in range(4000)])
    assert _agrees(favoured == 1, 0.5 + 0.5 * (BatchDraws.SHAPE_ENDPOINT + 0.5 / 8))


def test_integers_reach_both_ends_and_respect_per_instance_bounds() -> None:
    draws = _draws()
    K = draws.integers(0, 16)
    assert _agrees(K == 0, BatchDraws.ENDPOINT + (1 - 2 * BatchDraws.ENDPOINT) / 17)
    j = draws.integers(0, K)
    assert bool((j <= K).all()) and bool((j >= 0).all())


def test_haar_rotations_are_orthogonal_and_haar_distributed() -> None:
    """For Q Haar on O(d), d >= 2: E tr Q = 0 and E (tr Q)^2 = 1; det Q is +-1 with
    probability 1/2 each (Diaconis and Shahshahani 1994)."""
    q = haar_rotations(100_000, 5, torch.Generator().manual_seed(3), CPU)
    assert float((q @ q.transpose(-1, -2) - torch.eye(5)).abs().max()) < 1e-13
    trace = torch.diagonal(q, dim1=-2, dim2=-1).sum(-1)
    assert abs(float(trace.mean())) < 5 / math.sqrt(100_000)
    assert abs(float((trace**2).mean()) - 1) < 0.05
    assert _agrees(torch.linalg.det(q) > 0, 0.5)


def test_the_quadratic_sampler_reaches_what_hypothesis_reaches_on_purpose() -> None:
    """smoothing.any_step's instances: the step at its boundary a L = 4, dimension 1,
    repeated eigenvalues, eigenvalue ratios below 1e-300, over a sweep's worth of them."""
    prop = CATALOGUE.entries["smoothing.any_step"].props[0]
    assert prop.sweep is not None
    generator = torch.Generator().manual_seed(5)
    at_boundary = dimension_one = repeated = tiny = total = 0
    for _ in range(40):
        batch = prop.sweep(1024, generator, CI, CPU)
        spectrum, L = batch["spectrum"], batch["spectrum"][:, 0]
        total += len(L)
        at_boundary += int(((batch["a"] * L - 4.0).abs() < 1e-14).sum())  # a = 4/L, rounded
        dimension_one += len(L) if spectrum.shape[1] == 1 else 0
        if spectrum.shape[1] > 2:
            repeated += int((spectrum[:, 2] == spectrum[:, 1]).sum())
            tiny += int(((spectrum[:, 1:] / L[:, None]) < 1e-300).any(-1).sum())
    assert at_boundary > total * BatchDraws.ENDPOINT / 2
    assert dimension_one > 0 and repeated > 0 and tiny > 0


def test_assumptions_drop_the_rejected_rows() -> None:
    """A sampler with an assumption returns only the rows that satisfy it."""
    sampler = Sampler(lambda draw: _kept_positive(draw))
    batch = sampler(1000, torch.Generator().manual_seed(1), CI, CPU)
    assert 0 < len(batch["x"]) < 1000 and bool((batch["x"] > 0).all())


def _kept_positive(draw: BatchDraws) -> dict[str, torch.Tensor]:
    x = draw.floats(-1.0, 1.0)
    draw.assume(x > 0)
    return {"x": x}


def test_a_batch_on_a_gpu_is_as_large_as_its_memory_allows() -> None:
    cuda = torch.device("cuda")
    assert batch_size(CPU, CI) == 1024
    assert batch_size(cuda, CI) == 65536
    assert batch_size(cuda, replace(CI, max_dimension=64)) == 32768


@given(st.data())
@settings(max_examples=20, database=None, deadline=None)
def test_a_hypothesis_example_is_a_batch_of_one_of_the_same_program(data: st.DataObject) -> None:
    """The strategy is the program read by Hypothesis: its examples replay as batches
    of one through the same measure the sampler's batches go through."""
    prop = CATALOGUE.entries["descent.lemma"].props[0]
    params = data.draw(prop.instances(CI))
    assert len(params["rotation"]) == len(params["spectrum"]) == len(params["x"])
    assert 0 < params["a"] * params["spectrum"][0] < 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_cuda_agree_on_the_same_instances() -> None:
    """For every sampled model, one batch drawn on the CPU and measured on both devices:
    the same sides to rounding (the generators differ between devices, so the instances
    are drawn once). The sweep's own draws on cuda come from cuda's generator, another
    stream: its verdicts, not its instances, are what the catalogue tests compare."""
    for prop in SAMPLED:
        assert prop.sweep is not None
        batch = prop.sweep(512, torch.Generator().manual_seed(9), CI, CPU)
        size = min(int(v.shape[0]) for v in batch.values())
        constants = prop.claim.constants
        on_cpu = measure_batch(prop, batch, constants, size)
        on_cuda = measure_batch(prop, {k: v.cuda() for k, v in batch.items()}, constants, size)
        for side in ("lhs", "rhs"):
            here, there = getattr(on_cpu, side), getattr(on_cuda, side).cpu()
            scale = torch.maximum(here.abs(), on_cpu.scale).clamp(min=1e-300)
            difference = float(((here - there).abs() / scale).max()) if size else 0.0
            assert difference < 1e-9, f"{prop.claim.id} [{prop.model}] {side}"
