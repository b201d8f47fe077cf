"""Decoders trained together: the members of a census as one ensemble.

The parameters of M decoders (``models/decoder.py``, each built from its own seed) are
stacked along a leading member dimension (``torch.func.stack_module_state``) and the
forward pass is written as batched matrix products over the members. Written by hand
because ``vmap`` over torch's encoder layer falls back to a loop over members for the CPU
attention kernel: measured here 1.5-2x slower than these products, and no faster than
the members trained one after another.

Members share n and k (one sequence length); each has its own task, seed and data stream.
AdamW acts elementwise, so one optimizer over the stacked parameters, stepping the sum
of the members' losses, steps each member as it would step alone (the gradient of the
sum in member i's parameters is the gradient of member i's loss);
``tests/test_models_ensemble.py`` checks a member against the same decoder trained alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.func import stack_module_state

from trajcheck_catalogue.models import decoder
from trajcheck_catalogue.models.decoder import Architecture, Decoder, Training
from trajcheck_catalogue.models.parity import MARKER, VOCABULARY, ParityTask

Parameters = dict[str, torch.Tensor]


def stacked_decoders(
    seeds: Sequence[int], length: int, architecture: Architecture, device: torch.device
) -> Parameters:
    """The parameters of one decoder per seed, each initialized as ``train`` initializes
    it alone (``torch.manual_seed(seed)`` then ``Decoder(...)``), stacked: (M, ...)."""
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(Decoder(length, architecture))
    params, _ = stack_module_state(models)  # no buffers: LayerNorm and Linear have none
    return {name: p.detach().to(device).requires_grad_(True) for name, p in params.items()}


def member_decoder(params: Parameters, i: int, architecture: Architecture) -> Decoder:
    """Member i as a stand-alone ``Decoder`` (to compare with one trained alone)."""
    length = params["positions.weight"].shape[1]
    model = Decoder(length, architecture).to(params["head.weight"])
    model.load_state_dict({name: p[i].detach() for name, p in params.items()})
    return model.eval()


def _linear(
    params: Parameters, name: str, x: torch.Tensor, weight: str = "weight", bias: str = "bias"
) -> torch.Tensor:
    """x W' + b for each member: x (M, N, in) -> (M, N, out)."""
    weight_, bias_ = params[f"{name}.{weight}"], params[f"{name}.{bias}"]
    return torch.baddbmm(bias_.unsqueeze(1), x, weight_.transpose(1, 2))


def _norm(params: Parameters, name: str, x: torch.Tensor) -> torch.Tensor:
    y = F.layer_norm(x, x.shape[-1:], eps=1e-5)  # nn.LayerNorm's default eps
    return y * params[f"{name}.weight"].unsqueeze(1) + params[f"{name}.bias"].unsqueeze(1)


def _attention(
    params: Parameters, prefix: str, x: torch.Tensor, heads: int, batch: int
) -> torch.Tensor:
    """Causal multi-head self-attention, softmax(Q K' / sqrt(h) + mask) V, as torch's
    ``MultiheadAttention`` computes it (one in-projection for Q, K, V, then out_proj).
    Explicit products rather than the fused kernel: twice differentiable, and faster
    here at these lengths (T <= 40, head width 8)."""
    M, N, W = x.shape
    T = N // batch
    qkv = _linear(params, prefix, x, "in_proj_weight", "in_proj_bias").view(
        M * batch, T, 3, heads, W // heads
    )
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (M B, heads, T, W/heads)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(W // heads)
    future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    mixed = torch.matmul(weights, v).permute(0, 2, 1, 3).reshape(M, N, W)
    return _linear(params, f"{prefix}.out_proj", mixed)


def ensemble_logits(
    params: Parameters, tokens: torch.Tensor, architecture: Architecture, first: int = 0
) -> torch.Tensor:
    """Next-token logits of every member on its own sequences at positions ``first`` on:
    tokens (M, B, T) -> (M, B, T - first, vocabulary); the same function as
    ``Decoder.forward`` (pre-norm layers, ReLU feed-forward, no dropout), member by
    member. (Causal: the logits at a position read only the tokens up to it.)"""
    M, B, T = tokens.shape
    table = params["tokens.weight"]  # (M, vocabulary, W)
    W = table.shape[-1]
    members = torch.arange(M, device=tokens.device).view(M, 1, 1)
    hidden = table[members, tokens] + params["positions.weight"][:, :T].unsqueeze(1)
    hidden = hidden.reshape(M, B * T, W)
    for layer in range(architecture.layers):
        p = f"body.layers.{layer}"
        attended = _attention(params, f"{p}.self_attn", _norm(params, f"{p}.norm1", hidden),
                              architecture.heads, B)  # fmt: skip
        hidden = hidden + attended
        inner = F.relu(_linear(params, f"{p}.linear1", _norm(params, f"{p}.norm2", hidden)))
        hidden = hidden + _linear(params, f"{p}.linear2", inner)
    hidden = hidden.view(M, B, T, W)[:, :, first:].reshape(M, -1, W)
    out = _linear(params, "head", _norm(params, "final_norm", hidden))
    return out.view(M, B, T - first, -1)


def member_losses(
    params: Parameters, sequences: torch.Tensor, first: int, architecture: Architecture
) -> torch.Tensor:
    """Each member's mean cross-entropy of its supervised tokens (as ``sequence_loss``):
    sequences (M, B, T) -> (M,)."""
    logits = ensemble_logits(params, sequences[..., :-1], architecture, first - 1)
    targets = sequences[..., first:]
    losses = F.cross_entropy(
        logits.reshape(-1, VOCABULARY), targets.reshape(-1), reduction="none"
    ).view_as(targets)
    keep = targets != MARKER
    return (losses * keep).sum((1, 2)) / keep.sum((1, 2))


def held_out_inputs(
    tasks: Sequence[ParityTask], count: int, seeds: Sequence[int], device: torch.device
) -> torch.Tensor:
    """Each member's held-out inputs, (M, count, n): ``decoder.held_out_inputs`` member
    by member (a generator training never uses)."""
    return torch.stack([decoder.held_out_inputs(t, count, s, device)
                        for t, s in zip(tasks, seeds, strict=True)])  # fmt: skip


def true_trajectories(tasks: Sequence[ParityTask], inputs: torch.Tensor) -> torch.Tensor:
    """(M, B, n) -> (M, B, k): each member's running xor over its own secret set."""
    cpu = inputs.cpu()
    return torch.stack([t.trajectory(cpu[i]) for i, t in enumerate(tasks)]).to(inputs.device)


@torch.no_grad()
def answer_accuracies(
    params: Parameters, tasks: Sequence[ParityTask], supervision: str, inputs: torch.Tensor,
    architecture: Architecture,
) -> torch.Tensor:  # fmt: skip
    """Each member's held-out answer accuracy, (M,) float64; a trajectory model writes
    its own trajectory (greedy) before the marker (as ``decoder.answer_accuracy``)."""
    prefix, k = inputs, tasks[0].k
    if supervision == "trajectory":
        for _ in range(k):
            last = ensemble_logits(params, prefix, architecture, prefix.shape[-1] - 1)
            step = last[:, :, -1, :2].argmax(-1)
            prefix = torch.cat([prefix, step.unsqueeze(-1)], dim=-1)
    prefix = torch.cat([prefix, torch.full_like(inputs[..., :1], MARKER)], dim=-1)
    last = ensemble_logits(params, prefix, architecture, prefix.shape[-1] - 1)
    answers = last[:, :, -1, :2].argmax(-1)
    truth = true_trajectories(tasks, inputs)[..., -1]
    return (answers == truth).double().mean(dim=1)


@torch.no_grad()
def answer_nll_probes(
    params: Parameters, tasks: Sequence[ParityTask], inputs: torch.Tensor,
    trajectories: torch.Tensor, architecture: Architecture,
) -> torch.Tensor:  # fmt: skip
    """L_j = -log p(true answer | input, first j trajectory tokens, marker), j = 0..k,
    for each member: (M, B, k+1) float64 (as ``decoder.answer_nll_probe``)."""
    answer = true_trajectories(tasks, inputs)[..., -1:]
    marker = torch.full_like(inputs[..., :1], MARKER)
    columns = []
    for j in range(tasks[0].k + 1):
        prefix = torch.cat([inputs, trajectories[..., :j], marker], dim=-1)
        last = ensemble_logits(params, prefix, architecture, prefix.shape[-1] - 1)
        last = last[:, :, -1].double()
        columns.append(-torch.log_softmax(last, dim=-1).gather(-1, answer)[..., 0])
    return torch.stack(columns, dim=-1)


@dataclass
class TrainedEnsemble:
    """Members trained together on one kind of supervision: their stacked parameters,
    tasks and seeds, and each member's (step, held-out accuracy) curve."""

    params: Parameters
    tasks: list[ParityTask]
    seeds: list[int]
    supervision: str
    architecture: Architecture
    training: Training
    curves: list[list[tuple[int, float]]] = field(default_factory=list)

    @property
    def device(self) -> torch.device:
        return self.params["head.weight"].device

    def __len__(self) -> int:
        return len(self.seeds)


def check_one_shape(tasks: Sequence[ParityTask]) -> None:
    shapes = {(t.n, t.k) for t in tasks}
    if len(shapes) != 1:
        raise ValueError(f"the members of an ensemble share n and k; got {sorted(shapes)}")


def train_ensemble(
    tasks: Sequence[ParityTask], supervision: str, seeds: Sequence[int], device: torch.device,
    architecture: Architecture | None = None, training: Training | None = None,
    curve_inputs: int = 256, on_step: Callable[[int], None] | None = None,
) -> TrainedEnsemble:  # fmt: skip
    """AdamW on every member's supervised tokens at once, fresh inputs every step from
    each member's own generator (seeded by its seed alone, as in ``decoder.train``); the
    accuracy curve every ``training.every`` steps on ``curve_inputs`` held-out inputs.
    ``on_step`` hears each step (progress and interrupts)."""
    check_one_shape(tasks)
    architecture = architecture or Architecture()
    training = training or Training()
    first = tasks[0].n
    params = stacked_decoders(seeds, tasks[0].sequence_length(supervision), architecture, device)
    if training.dtype != torch.float32:
        params = {k: p.detach().to(training.dtype).requires_grad_(True) for k, p in params.items()}
    optimizer = torch.optim.AdamW(
        list(params.values()), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    streams = [torch.Generator().manual_seed(s) for s in seeds]
    held_out = held_out_inputs(tasks, curve_inputs, seeds, device)
    curves: list[list[tuple[int, float]]] = [[] for _ in seeds]
    for step in range(1, training.steps + 1):
        sequences = torch.stack([
            t.sequences(t.inputs(training.batch, g), supervision)
            for t, g in zip(tasks, streams, strict=True)
        ]).to(device)  # fmt: skip
        loss = member_losses(params, sequences, first, architecture).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % training.every == 0 or step == training.steps:
            detached = {k: p.detach() for k, p in params.items()}
            accuracy = answer_accuracies(detached, tasks, supervision, held_out, architecture)
            for curve, value in zip(curves, accuracy.tolist(), strict=True):
                curve.append((step, value))
        if on_step is not None:
            on_step(step)
    frozen = {k: p.detach() for k, p in params.items()}
    return TrainedEnsemble(frozen, list(tasks), list(seeds), supervision, architecture,
                           training, curves)  # fmt: skip


# Curvature: the top Hessian eigenvalue of each member's training loss, whole and by block


def hessian_blocks(params: Parameters, architecture: Architecture) -> dict[str, list[str]]:
    """The parameter blocks whose Hessian block is read besides the whole Hessian: the
    embeddings, each transformer layer, the output (final norm and head)."""
    names = list(params)
    blocks = {"embeddings": [n for n in names if n.startswith(("tokens.", "positions."))]}
    for layer in range(architecture.layers):
        blocks[f"layer {layer}"] = [n for n in names if n.startswith(f"body.layers.{layer}.")]
    blocks["output"] = [n for n in names if n.startswith(("final_norm.", "head."))]
    return blocks


class EnsembleHessian:
    """v -> Hess L_i(params_i) v_i for every member i at once, restricted to a block of
    parameters (the block's rows and columns of each member's Hessian).

    The ensemble's loss is the sum of its members' losses, whose Hessian is block diagonal
    across members: one double-backward product of the sum gives every member's product.
    The gradient's graph is built once and kept for all products.
    """

    def __init__(self, loss: Callable[[Parameters], torch.Tensor], params: Parameters) -> None:
        self.params = {k: p.detach().clone().requires_grad_(True) for k, p in params.items()}
        value = loss(self.params).sum()
        names = list(self.params)
        grads = torch.autograd.grad(value, [self.params[n] for n in names], create_graph=True)
        self.gradient = dict(zip(names, grads, strict=True))
        self.products = 0

    def size(self, block: Sequence[str]) -> int:
        return sum(self.params[n][0].numel() for n in block)

    def __call__(self, block: Sequence[str], vectors: torch.Tensor) -> torch.Tensor:
        """vectors (M, P_block) -> (M, P_block)."""
        self.products += 1
        M, dot, start = vectors.shape[0], vectors.new_zeros(()), 0
        for name in block:
            width = self.params[name][0].numel()
            piece = vectors[:, start : start + width].reshape(self.params[name].shape)
            dot = dot + (self.gradient[name] * piece).sum()
            start += width
        product = torch.autograd.grad(dot, [self.params[n] for n in block], retain_graph=True)
        return torch.cat([p.reshape(M, -1) for p in product], dim=1).detach()


@dataclass(frozen=True)
class TopEigenvalues:
    """Each member's top eigenvalue, (M,), with the Lanczos residual bound of the Ritz
    value one step earlier (|H y - theta y| for its Ritz vector y), the accuracy reached."""

    values: torch.Tensor
    residuals: torch.Tensor
    products: int


def batched_lanczos(
    product: Callable[[torch.Tensor], torch.Tensor], members: int, size: int,
    iterations: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device,
) -> TopEigenvalues:  # fmt: skip
    """The top eigenvalue of M symmetric operators at once, by ``iterations`` steps of
    Lanczos with full reorthogonalization (linear_operator's batched ``lanczos_tridiag``:
    scipy's ARPACK runs one operator at a time, so it cannot share a batched product).

    theta is the largest eigenvalue of the tridiagonal T_m; the residual of T_{m-1}'s top
    Ritz pair is beta_{m-1} |s_{m-1}| (Parlett, The Symmetric Eigenvalue Problem, 13.1),
    an eigenvalue of the operator lying within it of that Ritz value."""
    from linear_operator.utils.lanczos import lanczos_tridiag

    steps = min(iterations, size)
    start = torch.randn(members, size, 1, generator=generator, dtype=dtype).to(device)
    _, t = lanczos_tridiag(
        lambda v: product(v[..., 0]).unsqueeze(-1), steps, dtype, device,
        (size, size), batch_shape=torch.Size([members]), init_vecs=start,
    )  # fmt: skip
    values = torch.linalg.eigvalsh(t)[:, -1]
    m = t.shape[-1]
    if m < 2:
        return TopEigenvalues(values, torch.zeros_like(values), m)
    _, vectors = torch.linalg.eigh(t[:, : m - 1, : m - 1])
    residuals = t[:, m - 2, m - 1].abs() * vectors[:, -1, -1].abs()
    return TopEigenvalues(values, residuals, m)


def training_loss_sequences(ensemble: TrainedEnsemble, count: int) -> torch.Tensor:
    """Each member's ``count`` fresh sequences from its training distribution, (M, count,
    T): the sample its training loss is read on (``decoder.loss_sample``)."""
    return torch.stack([
        decoder.loss_sample(t, ensemble.supervision, count, s)
        for t, s in zip(ensemble.tasks, ensemble.seeds, strict=True)
    ]).to(ensemble.device)  # fmt: skip


def training_losses(
    ensemble: TrainedEnsemble, count: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Each member's training loss on the sample its Hessian is read on, (M,)."""
    params = {k: p.to(dtype) for k, p in ensemble.params.items()}
    sequences = training_loss_sequences(ensemble, count)
    with torch.no_grad():
        return member_losses(params, sequences, ensemble.tasks[0].n, ensemble.architecture)


def top_hessian_eigenvalues(
    ensemble: TrainedEnsemble, count: int, iterations: int, dtype: torch.dtype = torch.float32
) -> dict[str, TopEigenvalues]:
    """The top eigenvalue of each member's training-loss Hessian (on ``count`` sequences),
    whole (``"all"``) and restricted to each block of ``hessian_blocks``.

    float32 by default, the training's precision: on the models measured (n = 20, k = 3,
    both supervisions) every value agreed with float64 to 6 digits, at 2.5x the speed."""
    params = {k: p.to(dtype) for k, p in ensemble.params.items()}
    sequences = training_loss_sequences(ensemble, count)
    first, architecture = ensemble.tasks[0].n, ensemble.architecture

    def loss(values: Parameters) -> torch.Tensor:
        return member_losses(values, sequences, first, architecture)

    hessian = EnsembleHessian(loss, params)
    blocks = {"all": list(params), **hessian_blocks(params, architecture)}
    generator = torch.Generator().manual_seed(ensemble.seeds[0])
    found = {}
    for name, block in blocks.items():

        def product(vectors: torch.Tensor, block: list[str] = block) -> torch.Tensor:
            return hessian(block, vectors)

        found[name] = batched_lanczos(product, len(ensemble), hessian.size(block), iterations,
                                      generator, dtype, ensemble.device)  # fmt: skip
    return found
