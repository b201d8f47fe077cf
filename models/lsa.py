"""Linear self-attention (LSA) on in-context linear regression, after von Oswald et al.,
Transformers Learn In-Context by Gradient Descent (ICML 2023).

A task is N context pairs (x_i, y_i = W* x_i), x_i in R^d, y_i in R^m, and a query x_q.
Tokens are e_i = (x_i, y_i) and e_q = (x_q, -W_0 x_q). One LSA layer updates every token,

    e_j <- e_j + P W_V (sum_i e_i e_i') W_K' W_Q e_j     (sum over the context tokens),

and with W_K = W_Q = [[I, 0], [0, 0]], W_V = [[0, 0], [W_0, -I]], P = (eta/N) I one layer
is one gradient step on L(W) = 1/(2N) sum_i ||W x_i - y_i||^2: the context y-slots become
y_i + (W_0 - W_1) x_i, so that W_0 x_i - y_i carries the residual W_k x_i - y_i into the
next layer, and the query's y-slot becomes -W_1 x_q (their Prop. 1 and App. A.1).

Everything is batched: contexts (B, N, d + m), queries (B, d + m).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trajcheck_catalogue.models.norms import norm
from trajcheck_catalogue.models.quadratic import lmax


@dataclass(frozen=True)
class LSAWeights:
    """One layer's W_K, W_Q, W_V, P, each (B, d + m, d + m) or broadcastable."""

    key: torch.Tensor
    query: torch.Tensor
    value: torch.Tensor
    projection: torch.Tensor


def lsa_layer(
    weights: LSAWeights, context: torch.Tensor, query: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One linear self-attention layer on the context tokens and the query token."""
    moments = context.transpose(-1, -2) @ context  # sum_i e_i e_i', (B, D, D)
    mix = weights.projection @ weights.value @ moments @ weights.key.transpose(-1, -2)
    mix = mix @ weights.query
    new_context = context + context @ mix.transpose(-1, -2)
    new_query = query + torch.einsum("bij,bj->bi", mix, query)
    return new_context, new_query


def gradient_step_weights(W0: torch.Tensor, eta: torch.Tensor, N: int) -> LSAWeights:
    """The construction: W_K = W_Q = [[I, 0], [0, 0]], W_V = [[0, 0], [W_0, -I]],
    P = (eta/N) I, for W_0 (B, m, d) and step sizes eta (B,)."""
    B, m, d = W0.shape
    D = d + m
    selector = torch.zeros(B, D, D, dtype=W0.dtype, device=W0.device)
    selector[:, :d, :d] = torch.eye(d, dtype=W0.dtype, device=W0.device)
    value = torch.zeros_like(selector)
    value[:, d:, :d] = W0
    value[:, d:, d:] = -torch.eye(m, dtype=W0.dtype, device=W0.device)
    eye = torch.eye(D, dtype=W0.dtype, device=W0.device).expand(B, D, D)
    projection = (eta / N).view(-1, 1, 1) * eye
    return LSAWeights(selector, selector, value, projection)


@dataclass(frozen=True)
class RegressionTasks:
    """A batch of in-context regression tasks: inputs X (B, N, d), targets Y (B, N, m),
    queries x_q (B, d) and, where known, their targets (B, m)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    queries: torch.Tensor
    query_targets: torch.Tensor | None = None  # (B, m), where known

    @property
    def count(self) -> int:
        return self.inputs.shape[-2]

    def tokens(self, W0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Context tokens (x_i, y_i) and the query token (x_q, -W_0 x_q)."""
        context = torch.cat([self.inputs, self.targets], dim=-1)
        guess = -torch.einsum("bmd,bd->bm", W0, self.queries)
        return context, torch.cat([self.queries, guess], dim=-1)

    def loss(self, W: torch.Tensor) -> torch.Tensor:
        """L(W) = 1/(2N) sum_i ||W x_i - y_i||^2, (B,)."""
        residual = torch.einsum("bmd,bnd->bnm", W, self.inputs) - self.targets
        return 0.5 * (residual**2).sum(dim=(-1, -2)) / self.count

    def gradient_step(self, W: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
        """W - eta grad L(W), grad L(W) = 1/N sum_i (W x_i - y_i) x_i'."""
        residual = torch.einsum("bmd,bnd->bnm", W, self.inputs) - self.targets
        gradient = torch.einsum("bnm,bnd->bmd", residual, self.inputs) / self.count
        return W - eta.view(-1, 1, 1) * gradient

    def curvature(self) -> torch.Tensor:
        """lmax(X'X/N), the smoothness of L, (B,)."""
        gram = self.inputs.transpose(-1, -2) @ self.inputs / self.count
        return lmax(gram)


def context_losses(context: torch.Tensor, W0: torch.Tensor, d: int) -> torch.Tensor:
    """The in-context loss read from the LSA's context tokens: with the construction,
    W_0 x_i - y_i^(k) is the residual W_k x_i - y_i of the k-th iterate, so
    L(W_k) = 1/(2N) sum_i ||W_0 x_i - y_i^(k)||^2, (B,)."""
    inputs, slots = context[..., :d], context[..., d:]
    residual = torch.einsum("bmd,bnd->bnm", W0, inputs) - slots
    return 0.5 * (residual**2).sum(dim=(-1, -2)) / context.shape[-2]


def sample_tasks(
    count: int, d: int, N: int, generator: torch.Generator, device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> RegressionTasks:  # fmt: skip
    """``count`` tasks with x ~ N(0, I_d), W* ~ N(0, I) (scalar targets) and one query,
    whose target goes in ``query_targets``."""
    teacher = torch.randn(count, 1, d, generator=generator, dtype=dtype)
    inputs = torch.randn(count, N + 1, d, generator=generator, dtype=dtype)
    targets = torch.einsum("bmd,bnd->bnm", teacher, inputs).to(device)
    inputs = inputs.to(device)
    return RegressionTasks(inputs[:, :N], targets[:, :N], inputs[:, N], targets[:, N])


def lsa_prediction(
    key: torch.Tensor, query: torch.Tensor, value: torch.Tensor, projection: torch.Tensor,
    tasks: RegressionTasks,
) -> torch.Tensor:  # fmt: skip
    """The prediction of one LSA layer (weights (..., D, D), D = d + 1) for each task's
    query, (..., B): minus the query's y-slot after the layer, the query entering as
    (x_q, 0). Leading dimensions ``...`` are members of an ensemble (or none).

    The layer of ``lsa_layer`` applied to the query alone, as matrix-vector products:
    P W_V C'C W_K' W_Q e_q with C the context tokens (a batch of 5 x 5 matrix products is
    slower than these). A context token (0, 0) adds nothing to C'C: a context padded with
    such tokens gives the same prediction."""
    d = tasks.inputs.shape[-1]
    context = torch.cat([tasks.inputs, tasks.targets], dim=-1)
    e_q = torch.cat([tasks.queries, torch.zeros_like(tasks.queries[..., :1])], dim=-1)
    u = e_q @ (key.transpose(-1, -2) @ query).transpose(-1, -2)  # W_K' W_Q e_q
    scores = torch.einsum("...nD,...D->...n", context, u)
    attended = torch.einsum("...n,...nD->...D", scores, context)  # C'C W_K' W_Q e_q
    after = e_q + attended @ (projection @ value).transpose(-1, -2)
    return -after[..., d]


class TrainableLSA(torch.nn.Module):
    """One LSA layer with full (d+1) x (d+1) W_K, W_Q, W_V, P; its prediction for the
    query is minus the query's y-slot after the layer (the query enters as (x_q, 0))."""

    def __init__(
        self, d: int, scale: float, generator: torch.Generator, dtype: torch.dtype
    ) -> None:
        super().__init__()
        shape = (d + 1, d + 1)

        def weight() -> torch.nn.Parameter:
            return torch.nn.Parameter(scale * torch.randn(shape, generator=generator, dtype=dtype))

        self.key, self.query, self.value, self.projection = weight(), weight(), weight(), weight()
        self.d = d

    def forward(self, tasks: RegressionTasks) -> torch.Tensor:
        """The prediction for each task's query, (B,)."""
        return lsa_prediction(self.key, self.query, self.value, self.projection, tasks)


@dataclass(frozen=True)
class LSATraining:
    steps: int = 4000
    batch: int = 512
    learning_rate: float = 1e-3
    scale: float = 0.01  # of the initial weights
    dtype: torch.dtype = torch.float32
    #: training tasks are drawn this many steps at a time (one call to the generator):
    #: drawing them step by step cost a quarter of a run
    chunk: int = 50


class TaskStream:
    """A run's training tasks: fresh tasks every step from the run's generator, drawn
    ``chunk`` steps at a time."""

    def __init__(self, d: int, N: int, generator: torch.Generator, device: torch.device,
                 training: LSATraining) -> None:  # fmt: skip
        self.d, self.N, self.generator, self.device = d, N, generator, device
        self.training = training
        self.drawn: list[RegressionTasks] = []

    def next(self) -> RegressionTasks:
        if not self.drawn:
            t = self.training
            many = sample_tasks(t.chunk * t.batch, self.d, self.N, self.generator,
                                self.device, t.dtype)  # fmt: skip
            assert many.query_targets is not None
            self.drawn = [
                RegressionTasks(many.inputs[i : i + t.batch], many.targets[i : i + t.batch],
                                many.queries[i : i + t.batch], many.query_targets[i : i + t.batch])
                for i in reversed(range(0, t.chunk * t.batch, t.batch))
            ]  # fmt: skip
        return self.drawn.pop()


def train_lsa(
    d: int, N: int, seed: int, device: torch.device, training: LSATraining = LSATraining()
) -> TrainableLSA:
    """Adam on the squared error of the query's prediction, fresh tasks every step;
    seeded (initialization, then data, from one generator), so a seed gives the same
    layer on one device.

    Trained in float32 (four times faster here, and training noise dwarfs its rounding);
    the comparison with gradient descent runs in float64 on a float64 copy.
    """
    generator = torch.Generator().manual_seed(seed)
    model = TrainableLSA(d, training.scale, generator, training.dtype).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate)
    stream = TaskStream(d, N, generator, device, training)
    for _ in range(training.steps):
        tasks = stream.next()
        assert tasks.query_targets is not None
        loss = ((model(tasks) - tasks.query_targets[:, 0]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def _padded(tasks: RegressionTasks, N: int) -> RegressionTasks:
    """The tasks with their context padded to N tokens by (0, 0) tokens."""
    extra = N - tasks.count
    pad = (0, 0, 0, extra)
    return RegressionTasks(F.pad(tasks.inputs, pad), F.pad(tasks.targets, pad),
                           tasks.queries, tasks.query_targets)  # fmt: skip


def train_lsa_ensemble(
    d: int, Ns: Sequence[int], seeds: Sequence[int], device: torch.device,
    training: LSATraining = LSATraining(), on_step: Callable[[int], None] | None = None,
) -> list[TrainableLSA]:  # fmt: skip
    """The runs of ``train_lsa`` for each (N, seed), trained together: their weights
    stacked (M, D, D), every step one Adam step on the sum of the members' losses, each
    member's tasks from its own generator, contexts padded to the largest N by (0, 0)
    tokens (which change no prediction). Members share d: the weights' shape."""
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    models = [TrainableLSA(d, training.scale, g, training.dtype) for g in generators]
    names = ("key", "query", "value", "projection")
    stacked = [
        torch.stack([getattr(m, name).detach() for m in models]).to(device).requires_grad_(True)
        for name in names
    ]
    optimizer = torch.optim.Adam(stacked, lr=training.learning_rate)
    streams = [TaskStream(d, N, g, device, training) for N, g in zip(Ns, generators, strict=True)]
    widest = max(Ns)
    for step in range(training.steps):
        drawn = [_padded(stream.next(), widest) for stream in streams]
        tasks = RegressionTasks(*(torch.stack([getattr(t, name) for t in drawn]) for name in (
            "inputs", "targets", "queries", "query_targets")))  # fmt: skip
        assert tasks.query_targets is not None
        predictions = lsa_prediction(stacked[0], stacked[1], stacked[2], stacked[3], tasks)
        loss = ((predictions - tasks.query_targets[..., 0]) ** 2).mean(dim=-1).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if on_step is not None:
            on_step(step)
    for i, model in enumerate(models):
        with torch.no_grad():
            for name, weights in zip(names, stacked, strict=True):
                getattr(model, name).copy_(weights[i].detach())
    return [m.to(device) for m in models]


def one_step_prediction(tasks: RegressionTasks) -> torch.Tensor:
    """g = 1/N sum_i y_i x_i' x_q: one gradient step from W = 0 predicts eta g, (B,)."""
    moment = torch.einsum("bnm,bnd->bmd", tasks.targets, tasks.inputs) / tasks.count
    return torch.einsum("bmd,bd->bm", moment, tasks.queries)[:, 0]


def compare_with_gradient_descent(
    model: TrainableLSA, d: int, N: int, seed: int, device: torch.device,
    *, tasks: int = 2048, chunks: int = 4,
) -> dict[str, float]:  # fmt: skip
    """The trained layer against one gradient step with the best step size on fresh tasks:
    eta fitted by least squares on one set of tasks, then on another the mean cosine
    similarity of the two predictions (over ``chunks`` chunks of tasks) and their relative
    gap ||p_LSA - p_GD|| / ||p_GD||."""
    generator = torch.Generator().manual_seed(seed + 1_000_003)  # tasks never seen in training
    model = model.to(torch.float64)
    with torch.no_grad():
        fit = sample_tasks(tasks, d, N, generator, device)
        g, p = one_step_prediction(fit), model(fit)
        eta = float((g * p).sum() / (g * g).sum())
        fresh = sample_tasks(tasks, d, N, generator, device)
        p_lsa, p_gd = model(fresh), eta * one_step_prediction(fresh)
    cosines = [
        float(torch.nn.functional.cosine_similarity(a, b, dim=0))
        for a, b in zip(p_lsa.chunk(chunks), p_gd.chunk(chunks), strict=True)
    ]
    return {
        "eta": eta,
        "cosine": sum(cosines) / len(cosines),
        "gap": float(norm(p_lsa - p_gd, dim=0) / norm(p_gd, dim=0)),
    }
