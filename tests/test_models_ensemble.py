"""The cot family's ensembles (models/ensemble.py): a member trained in an ensemble is the
decoder trained alone; the batched forward is torch's encoder; the batched Lanczos finds
each member's top eigenvalue, whole and by block, as the dense Hessian gives it."""

from __future__ import annotations

import pytest
import torch

from trajcheck.curvature import dense_hessian
from trajcheck_catalogue.models import ensemble
from trajcheck_catalogue.models.decoder import (
    Architecture,
    Decoder,
    Training,
    answer_accuracy,
    sequence_loss,
    train,
)
from trajcheck_catalogue.models.parity import ParityTask

CPU = torch.device("cpu")
SMALL = Architecture(width=16, layers=2, heads=2, feedforward=32)
TINY = Architecture(width=4, layers=1, heads=2, feedforward=4)


def _tasks(n: int, k: int, seeds: list[int]) -> list[ParityTask]:
    return [ParityTask.draw(n, k, torch.Generator().manual_seed(s)) for s in seeds]


@pytest.mark.parametrize("supervision", ["direct", "trajectory"])
def test_a_member_trained_in_the_ensemble_equals_the_decoder_trained_alone(
    supervision: str,
) -> None:
    """Same seed, same data, same AdamW: in float64 the ensemble's member and the decoder
    trained alone by ``decoder.train`` (torch's own encoder layers) agree to rounding,
    parameter by parameter and point by point of the accuracy curve."""
    seeds = [3, 11, 42]
    tasks = _tasks(10, 3, seeds)
    training = Training(steps=40, batch=16, every=10, dtype=torch.float64)
    trained = ensemble.train_ensemble(tasks, supervision, seeds, CPU, SMALL, training, 64)
    for i, (task, seed) in enumerate(zip(tasks, seeds, strict=True)):
        alone = train(task, supervision, seed, CPU, SMALL, training, evaluation=64)
        for name, p in alone.model.named_parameters():
            member = trained.params[name][i]
            scale = p.detach().abs().max()
            assert (member - p.detach()).abs().max() <= 1e-9 * scale, name
        assert trained.curves[i] == alone.curve


def test_a_member_does_not_depend_on_the_others() -> None:
    """Member 0 trained beside two others, and trained alone in an ensemble of one."""
    seeds = [5, 6, 7]
    tasks = _tasks(8, 2, seeds)
    training = Training(steps=20, batch=8, every=20, dtype=torch.float64)
    three = ensemble.train_ensemble(tasks, "trajectory", seeds, CPU, SMALL, training, 32)
    one = ensemble.train_ensemble(tasks[:1], "trajectory", seeds[:1], CPU, SMALL, training, 32)
    for name, p in one.params.items():
        assert torch.allclose(three.params[name][:1], p, rtol=0, atol=1e-12), name


def test_the_batched_forward_is_the_decoders_forward() -> None:
    """Logits, losses and accuracies of each member equal its ``Decoder``'s."""
    seeds = [1, 2]
    tasks = _tasks(9, 3, seeds)
    length = tasks[0].sequence_length("trajectory")
    params = ensemble.stacked_decoders(seeds, length, SMALL, CPU)
    params = {k: p.detach().double() for k, p in params.items()}
    inputs = ensemble.held_out_inputs(tasks, 32, seeds, CPU)
    sequences = torch.stack([t.sequences(inputs[i], "trajectory") for i, t in enumerate(tasks)])
    logits = ensemble.ensemble_logits(params, sequences, SMALL)
    losses = ensemble.member_losses(params, sequences, 9, SMALL)
    accuracies = ensemble.answer_accuracies(params, tasks, "trajectory", inputs, SMALL)
    for i, task in enumerate(tasks):
        decoder = ensemble.member_decoder(params, i, SMALL)
        assert isinstance(decoder, Decoder)
        with torch.no_grad():
            assert torch.allclose(logits[i], decoder(sequences[i]), rtol=0, atol=1e-12)
            assert torch.allclose(losses[i], sequence_loss(decoder, sequences[i], 9))
        assert accuracies[i] == answer_accuracy(decoder, task, "trajectory", inputs[i])


def test_members_of_one_ensemble_share_their_shape() -> None:
    with pytest.raises(ValueError, match="share n and k"):
        ensemble.train_ensemble(_tasks(8, 2, [1]) + _tasks(9, 2, [2]), "direct", [1, 2], CPU)


def _dense_top(params: ensemble.Parameters, i: int, sequences: torch.Tensor, first: int,
               block: list[str]) -> float:  # fmt: skip
    """Member i's top eigenvalue of the Hessian block of ``block``, from the dense Hessian
    of its loss (the reference; the decoder alone, no ensemble)."""
    decoder = ensemble.member_decoder(params, i, TINY)
    names = [name for name, _ in decoder.named_parameters()]

    def loss(values):  # type: ignore[no-untyped-def]
        state = dict(zip(names, values, strict=True))
        return sequence_loss(
            lambda x: torch.func.functional_call(decoder, state, (x,)), sequences[i], first
        )

    hessian = dense_hessian(loss, [p.detach() for p in decoder.parameters()])
    sizes = [p.numel() for p in decoder.parameters()]
    starts = [sum(sizes[:j]) for j in range(len(sizes))]
    index = torch.cat([torch.arange(starts[names.index(n)], starts[names.index(n)] + sizes[
        names.index(n)]) for n in block])  # fmt: skip
    return float(torch.linalg.eigvalsh(hessian[index][:, index])[-1])


def test_batched_lanczos_gives_each_members_top_eigenvalue_whole_and_by_block() -> None:
    seeds = [4, 9]
    tasks = _tasks(5, 2, seeds)
    training = Training(steps=30, batch=16, every=30, dtype=torch.float64)
    trained = ensemble.train_ensemble(tasks, "trajectory", seeds, CPU, TINY, training, 16)
    found = ensemble.top_hessian_eigenvalues(trained, 16, 60, dtype=torch.float64)
    params = trained.params
    sequences = ensemble.training_loss_sequences(trained, 16)
    blocks = {"all": list(params), **ensemble.hessian_blocks(params, TINY)}
    assert set(found) == set(blocks)
    for name, block in blocks.items():
        for i in range(len(seeds)):
            expected = _dense_top(params, i, sequences, 5, block)
            assert found[name].values[i] == pytest.approx(expected, rel=1e-8, abs=1e-12), name
    # the engine's default, float32 with few steps, stays within its claim's tolerance
    quick = ensemble.top_hessian_eigenvalues(trained, 16, 10)
    for i in range(len(seeds)):
        whole = _dense_top(params, i, sequences, 5, blocks["all"])
        assert quick["all"].values[i] == pytest.approx(whole, rel=1e-4)
