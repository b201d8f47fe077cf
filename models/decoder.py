"""A small decoder-only transformer trained on the parity task, and what is read from it:
held-out answer accuracy, the answer-NLL probe, the top Hessian eigenvalue of its loss.

The model is torch's own encoder layer under a causal mask (pre-norm, no dropout) over
learned token and position embeddings. Training is seeded end to end: initialization and
data come from CPU generators, so a seed gives the same model on one device.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from trajcheck.curvature import lanczos_top_eigenvalue
from trajcheck_catalogue.models.parity import MARKER, VOCABULARY, ParityTask


@dataclass(frozen=True)
class Architecture:
    width: int = 64
    layers: int = 2
    heads: int = 4
    feedforward: int = 128


@dataclass(frozen=True)
class Training:
    """One budget for both kinds of supervision: same steps, batch and optimizer."""

    steps: int = 600
    batch: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    #: accuracy is recorded every this many steps (for the training curves)
    every: int = 50
    #: float32 for the census; float64 where a test compares two ways of training
    dtype: torch.dtype = torch.float32


class Decoder(nn.Module):
    def __init__(self, length: int, architecture: Architecture) -> None:
        super().__init__()
        a = architecture
        self.tokens = nn.Embedding(VOCABULARY, a.width)
        self.positions = nn.Embedding(length, a.width)
        layer = nn.TransformerEncoderLayer(
            a.width, a.heads, a.feedforward, dropout=0.0, batch_first=True, norm_first=True
        )
        self.body = nn.TransformerEncoder(layer, a.layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(a.width)
        self.head = nn.Linear(a.width, VOCABULARY)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """Next-token logits, (B, T, vocabulary): position p predicts token p + 1."""
        T = sequences.shape[1]
        positions = torch.arange(T, device=sequences.device)
        hidden = self.tokens(sequences) + self.positions(positions)
        mask = nn.Transformer.generate_square_subsequent_mask(
            T, device=sequences.device, dtype=hidden.dtype
        )
        return self.head(self.final_norm(self.body(hidden, mask=mask, is_causal=True)))


def sequence_loss(
    model: Callable[[torch.Tensor], torch.Tensor], sequences: torch.Tensor, first: int
) -> torch.Tensor:
    """Mean cross-entropy of the supervised tokens: those from position ``first`` on,
    except the answer marker (a fixed part of the format, not a prediction)."""
    logits = model(sequences[:, :-1])[:, first - 1 :]
    targets = sequences[:, first:]
    losses = nn.functional.cross_entropy(
        logits.reshape(-1, VOCABULARY), targets.reshape(-1), reduction="none"
    ).view_as(targets)
    keep = targets != MARKER
    return (losses * keep).sum() / keep.sum()


@torch.no_grad()
def answer_accuracy(
    model: Decoder, task: ParityTask, supervision: str, inputs: torch.Tensor
) -> float:
    """Held-out answer accuracy; a trajectory model writes its own trajectory (greedy)
    before the marker, as it would at test time."""
    prefix = inputs
    if supervision == "trajectory":
        for _ in range(task.k):
            step = model(prefix)[:, -1, :2].argmax(-1, keepdim=True)
            prefix = torch.cat([prefix, step], dim=1)
    prefix = torch.cat([prefix, torch.full_like(inputs[:, :1], MARKER)], dim=1)
    answers = model(prefix)[:, -1, :2].argmax(-1)
    truth = task.trajectory(inputs.cpu())[:, -1].to(answers.device)
    return float((answers == truth).double().mean())


@torch.no_grad()
def answer_nll_probe(
    model: Decoder, task: ParityTask, inputs: torch.Tensor, trajectories: torch.Tensor
) -> torch.Tensor:
    """L_j = -log p(answer | input, first j trajectory tokens, marker), j = 0..k: (B, k+1).

    The answer is the true one, whatever the trajectory says; the marker after j < k
    tokens sits where training never put it."""
    answer = task.trajectory(inputs.cpu())[:, -1].to(inputs.device)
    marker = torch.full_like(inputs[:, :1], MARKER)
    columns = []
    for j in range(task.k + 1):
        prefix = torch.cat([inputs, trajectories[:, :j], marker], dim=1)
        log_p = torch.log_softmax(model(prefix)[:, -1].double(), dim=-1)
        columns.append(-log_p.gather(1, answer.unsqueeze(1))[:, 0])
    return torch.stack(columns, dim=1)


@dataclass
class TrainedModel:
    model: Decoder
    task: ParityTask
    supervision: str
    seed: int
    #: (step, held-out accuracy) along training
    curve: list[tuple[int, float]] = field(default_factory=list)


def held_out_inputs(task: ParityTask, count: int, seed: int, device: torch.device) -> torch.Tensor:
    """Fresh inputs from a generator training never uses. With 2^n inputs they may repeat
    a training input, with probability at most steps * batch / 2^n each."""
    return task.inputs(count, torch.Generator().manual_seed(seed + 7_919)).to(device)


def train(
    task: ParityTask, supervision: str, seed: int, device: torch.device,
    architecture: Architecture = Architecture(), training: Training = Training(),
    evaluation: int = 512,
) -> TrainedModel:  # fmt: skip
    """AdamW on the supervised tokens, fresh inputs every step (the same stream for both
    kinds of supervision: the data generator is seeded by ``seed`` alone)."""
    torch.manual_seed(seed)  # the initialization
    model = Decoder(task.sequence_length(supervision), architecture).to(device, training.dtype)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    data = torch.Generator().manual_seed(seed)
    held_out = held_out_inputs(task, evaluation, seed, device)
    trained = TrainedModel(model, task, supervision, seed)
    for step in range(1, training.steps + 1):
        sequences = task.sequences(task.inputs(training.batch, data), supervision).to(device)
        loss = sequence_loss(model, sequences, task.n)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % training.every == 0 or step == training.steps:
            model.eval()
            trained.curve.append((step, answer_accuracy(model, task, supervision, held_out)))
            model.train()
    model.eval()
    return trained


def loss_sample(task: ParityTask, supervision: str, count: int, seed: int) -> torch.Tensor:
    """The ``count`` fresh sequences from the training distribution that a model's
    training loss (and its Hessian) is read on: a generator training never uses."""
    return task.sequences(task.inputs(count, torch.Generator().manual_seed(seed + 104_729)),
                          supervision)  # fmt: skip


def training_loss(
    trained: TrainedModel, count: int = 256
) -> tuple[Callable[[Sequence[torch.Tensor]], torch.Tensor], list[torch.Tensor]]:
    """The model's training loss as a function of its parameters (functional_call on a
    float64 copy), on ``count`` fresh sequences from the training distribution; and the
    parameters."""
    task = trained.task
    model = copy.deepcopy(trained.model).to(torch.float64)
    device = next(model.parameters()).device
    sequences = loss_sample(task, trained.supervision, count, trained.seed).to(device)
    names = [name for name, _ in model.named_parameters()]

    def loss(values: Sequence[torch.Tensor]) -> torch.Tensor:
        state = dict(zip(names, values, strict=True))

        def call(inputs: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(model, state, (inputs,))

        return sequence_loss(call, sequences, task.n)

    return loss, [p.detach() for p in model.parameters()]


def top_hessian_eigenvalue(trained: TrainedModel, count: int = 256) -> tuple[float, int]:
    """The top eigenvalue of the training loss's Hessian in the parameters, by the
    engine's Lanczos; and the Hessian-vector products it took."""
    loss, params = training_loss(trained, count)
    top = lanczos_top_eigenvalue(loss, params, tol=1e-6, basis=12, seed=trained.seed)
    return top.value, top.products


def chance_interval(count: int) -> float:
    """Half-width of the central 95 % range of the accuracy of a coin over ``count``
    answers (binomial, exact: scipy.stats.binom.interval)."""
    from scipy.stats import binom

    low, high = binom.interval(0.95, count, 0.5)
    return float(high - low) / (2 * count)
