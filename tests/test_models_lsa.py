"""Linear self-attention: the construction is gradient descent, the context tokens carry
the in-context loss, the trainable layer is the same layer, and training is seeded."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trajcheck_catalogue.models.lsa import (
    LSATraining,
    LSAWeights,
    RegressionTasks,
    TrainableLSA,
    context_losses,
    gradient_step_weights,
    lsa_layer,
    sample_tasks,
    train_lsa,
    train_lsa_ensemble,
)

CPU = torch.device("cpu")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_eight_layers_are_eight_gradient_steps(d, m, N, seed) -> None:
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    tasks = RegressionTasks(draw(2, N, d), draw(2, N, m), draw(2, d))
    W0 = draw(2, m, d)
    eta = 1.0 / tasks.curvature()
    weights = gradient_step_weights(W0, eta, N)
    context, query = tasks.tokens(W0)
    W = W0
    for _ in range(8):
        context, query = lsa_layer(weights, context, query)
        W = tasks.gradient_step(W, eta)
        expected = -torch.einsum("bmd,bd->bm", W, tasks.queries)
        torch.testing.assert_close(query[:, d:], expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(
            context_losses(context, W0, d), tasks.loss(W), rtol=1e-12, atol=1e-13
        )


def test_trainable_layer_is_the_layer_applied_to_the_query() -> None:
    generator = torch.Generator().manual_seed(0)
    model = TrainableLSA(3, 0.5, generator, torch.float64)
    tasks = sample_tasks(6, 3, 10, generator, CPU)
    context, query = tasks.tokens(tasks.inputs.new_zeros(6, 1, 3))
    weights = LSAWeights(model.key, model.query, model.value, model.projection)
    _, after = lsa_layer(weights, context, query)
    torch.testing.assert_close(model(tasks), -after[:, 3], rtol=1e-12, atol=1e-12)


def test_training_is_reproducible_from_its_seed() -> None:
    first = train_lsa(3, 8, seed=5, device=CPU, training=LSATraining(steps=50))
    second = train_lsa(3, 8, seed=5, device=CPU, training=LSATraining(steps=50))
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_member_trained_in_the_ensemble_equals_the_layer_trained_alone() -> None:
    """Same seed, same tasks, same Adam: in float64 every member of an ensemble (contexts
    of different N padded to the largest) is the layer ``train_lsa`` trains alone."""
    training = LSATraining(steps=60, batch=64, chunk=7, dtype=torch.float64)
    Ns, seeds = [8, 12, 16], [1, 2, 3]
    members = train_lsa_ensemble(3, Ns, seeds, CPU, training)
    for member, N, seed in zip(members, Ns, seeds, strict=True):
        alone = train_lsa(3, N, seed, CPU, training)
        for a, b in zip(member.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)


def test_padding_a_context_with_zero_tokens_changes_no_prediction() -> None:
    generator = torch.Generator().manual_seed(4)
    model = TrainableLSA(2, 0.5, generator, torch.float64)
    tasks = sample_tasks(5, 2, 6, generator, CPU)
    padded = RegressionTasks(
        torch.nn.functional.pad(tasks.inputs, (0, 0, 0, 3)),
        torch.nn.functional.pad(tasks.targets, (0, 0, 0, 3)),
        tasks.queries,
    )
    torch.testing.assert_close(model(padded), model(tasks), rtol=1e-14, atol=1e-14)
