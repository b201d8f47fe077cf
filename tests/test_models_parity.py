"""The parity task, the decoder and its training: formats, the corruption, the probe,
and reproducibility (a seed gives the same accuracy and probe values on one device)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trajcheck.curvature import dense_hessian
from trajcheck_catalogue.models.decoder import (
    Architecture,
    Decoder,
    Training,
    answer_accuracy,
    answer_nll_probe,
    held_out_inputs,
    sequence_loss,
    top_hessian_eigenvalue,
    train,
    training_loss,
)
from trajcheck_catalogue.models.parity import MARKER, ParityTask
from trajcheck_catalogue.properties.cot import probe_statistics

CPU = torch.device("cpu")
TINY = Architecture(width=16, layers=1, heads=2, feedforward=32)
SHORT = Training(steps=30, batch=32, every=10)


@st.composite
def tasks(draw: st.DrawFn) -> ParityTask:
    n = draw(st.integers(1, 24))
    k = draw(st.integers(1, n))
    return ParityTask.draw(n, k, torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1))))


@settings(max_examples=50, deadline=None)
@given(tasks(), st.integers(0, 2**31 - 1))
def test_trajectory_is_the_running_xor_and_ends_at_the_answer(task, seed) -> None:
    x = task.inputs(64, torch.Generator().manual_seed(seed))
    t = task.trajectory(x)
    assert len(set(task.secret)) == task.k and all(0 <= i < task.n for i in task.secret)
    assert torch.equal(t[:, -1], x[:, list(task.secret)].sum(1) % 2)
    assert torch.equal(t[:, 1:], (t[:, :-1] + x[:, list(task.secret[1:])]) % 2)
    for supervision in ("direct", "trajectory"):
        sequences = task.sequences(x, supervision)
        assert sequences.shape == (64, task.sequence_length(supervision))
        assert torch.equal(sequences[:, -2], torch.full((64,), MARKER))
        assert torch.equal(sequences[:, -1], t[:, -1])


@settings(max_examples=50, deadline=None)
@given(tasks(), st.integers(0, 2**31 - 1))
def test_a_corrupted_trajectory_propagates_its_error(task, seed) -> None:
    x = task.inputs(64, torch.Generator().manual_seed(seed))
    corrupted, flipped_at = task.corrupted_trajectory(x, torch.Generator().manual_seed(seed))
    wrong = corrupted != task.trajectory(x)
    steps = torch.arange(task.k).unsqueeze(0)
    # right before the flip, wrong from it on: the running xor continued from a wrong bit
    assert torch.equal(wrong, steps >= flipped_at.unsqueeze(1))
    assert wrong[:, -1].all()


def test_a_task_needs_k_between_1_and_n() -> None:
    with pytest.raises(ValueError, match="1 <= k <= n"):
        ParityTask.draw(3, 4, torch.Generator())


def test_the_loss_supervises_the_answer_not_the_marker() -> None:
    task = ParityTask(4, (0, 1))
    model = Decoder(task.sequence_length("direct"), TINY)
    x = task.inputs(8, torch.Generator().manual_seed(0))
    sequences = task.sequences(x, "direct")
    logits = model(sequences[:, :-1])[:, -1]
    expected = torch.nn.functional.cross_entropy(logits, sequences[:, -1])
    assert torch.allclose(sequence_loss(model, sequences, task.n), expected)


def test_training_is_reproducible_on_one_device() -> None:
    task = ParityTask.draw(8, 3, torch.Generator().manual_seed(5))
    x = held_out_inputs(task, 64, 5, CPU)
    readings = []
    for _ in range(2):
        run = train(task, "trajectory", 5, CPU, TINY, SHORT, evaluation=64)
        probe = answer_nll_probe(run.model, task, x, task.trajectory(x))
        readings.append((run.curve, answer_accuracy(run.model, task, "trajectory", x), probe))
    (curve_a, accuracy_a, probe_a), (curve_b, accuracy_b, probe_b) = readings
    assert curve_a == curve_b and accuracy_a == accuracy_b
    assert torch.equal(probe_a, probe_b)
    other = train(task, "trajectory", 6, CPU, TINY, SHORT, evaluation=64)
    assert not torch.equal(answer_nll_probe(other.model, task, x, task.trajectory(x)), probe_a), (
        "a different seed should train a different model"
    )


def test_top_eigenvalue_of_a_tiny_decoder_matches_its_dense_hessian() -> None:
    architecture = Architecture(width=4, layers=1, heads=1, feedforward=4)
    task = ParityTask.draw(3, 2, torch.Generator().manual_seed(1))
    run = train(task, "trajectory", 1, CPU, architecture, Training(steps=5, batch=16, every=5))
    value, products = top_hessian_eigenvalue(run, count=32)
    dense = dense_hessian(*training_loss(run, count=32))
    assert products < dense.shape[0]
    assert value == pytest.approx(float(torch.linalg.eigvalsh(dense)[-1]), rel=1e-6)


def test_probe_statistics_read_monotone_and_rising_probes() -> None:
    descending = np.array([[3.0, 2.0, 1.0, 0.1], [2.0, 2.0, 1.0, 0.5]])
    rising = np.array([[0.7, 0.6, 2.0, 9.0], [0.7, 0.8, 0.2, 0.1]])
    stats = probe_statistics(descending, rising)
    assert stats["monotone fraction"] == 1.0
    assert stats["spearman"] < -0.8
    assert stats["corrupted rise fraction"] == 0.5
    assert probe_statistics(rising, rising)["monotone fraction"] == 0.0
