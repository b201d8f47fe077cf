"""Device choice: ``auto`` takes CUDA when torch sees it, else the CPU."""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


class DeviceUnavailable(ValueError):
    pass


def resolve_device(name: str) -> torch.device:
    """The torch device for ``auto``, ``cpu`` or ``cuda``; a missing GPU is an error."""
    if name not in DEVICES:
        raise DeviceUnavailable(f"unknown device {name!r} (choose one of: {', '.join(DEVICES)})")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"--device cuda: no CUDA device is available to torch {torch.__version__} "
            "(use --device cpu or auto)"
        )
    return torch.device(name)
