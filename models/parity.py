"""The k-sparse parity task with trajectories (family ``cot``, docs/CATALOGUE.md).

A task fixes n and a secret index set S = (s_1, ..., s_k). An input is n random bits x;
the answer is x_{s_1} xor ... xor x_{s_k}; the trajectory is the running xor over S in the
order drawn, t_j = x_{s_1} xor ... xor x_{s_j} (j = 1..k, so t_k is the answer).

Token sequences (vocabulary: 0, 1 and the answer marker ``=``):

    direct      x_1 ... x_n  =  a
    trajectory  x_1 ... x_n  t_1 ... t_k  =  a

A model is supervised on the tokens after the input (the answer, or the trajectory and the
answer); the probe asks for the answer after the input, the first j trajectory tokens and
the marker.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MARKER = 2  # tokens 0 and 1 are the bits
VOCABULARY = 3
SUPERVISIONS = ("direct", "trajectory")


@dataclass(frozen=True)
class ParityTask:
    n: int
    secret: tuple[int, ...]  # the indices S, in the trajectory's order

    @property
    def k(self) -> int:
        return len(self.secret)

    @staticmethod
    def draw(n: int, k: int, generator: torch.Generator) -> ParityTask:
        """The secret set: k distinct indices of n in a random order."""
        if not 1 <= k <= n:
            raise ValueError(f"k-sparse parity needs 1 <= k <= n, got n={n}, k={k}")
        order = torch.randperm(n, generator=generator)[:k]
        return ParityTask(n, tuple(int(i) for i in order))

    def inputs(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` uniform inputs, (count, n) in {0, 1}, drawn on the CPU so that a seed
        gives the same data on every device."""
        return torch.randint(0, 2, (count, self.n), generator=generator)

    def trajectory(self, inputs: torch.Tensor) -> torch.Tensor:
        """The running xor over S, (count, k); its last column is the answer."""
        return torch.cumsum(inputs[:, list(self.secret)], dim=1) % 2

    def sequences(self, inputs: torch.Tensor, supervision: str) -> torch.Tensor:
        """Whole training sequences: input, (trajectory,) marker, answer."""
        trajectory = self.trajectory(inputs)
        marker = torch.full_like(inputs[:, :1], MARKER)
        answer = trajectory[:, -1:]
        if supervision == "direct":
            return torch.cat([inputs, marker, answer], dim=1)
        if supervision == "trajectory":
            return torch.cat([inputs, trajectory, marker, answer], dim=1)
        raise ValueError(f"unknown supervision {supervision!r} (one of {SUPERVISIONS})")

    def corrupted_trajectory(self, inputs: torch.Tensor, generator: torch.Generator) -> tuple[
        torch.Tensor, torch.Tensor
    ]:  # fmt: skip
        """Trajectories with one wrong bit at a random step j* (1..k) whose error propagates:
        from j* on every token is flipped, as a running xor continued from the flipped
        value would be, so the last token is the wrong answer. Returns the trajectories
        and j* (0-based)."""
        trajectory = self.trajectory(inputs)
        flipped_at = torch.randint(0, self.k, (len(inputs),), generator=generator)
        steps = torch.arange(self.k).unsqueeze(0)
        return (trajectory + (steps >= flipped_at.unsqueeze(1)).long()) % 2, flipped_at

    def sequence_length(self, supervision: str) -> int:
        return self.n + 2 + (self.k if supervision == "trajectory" else 0)
