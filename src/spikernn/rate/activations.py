"""Rate-unit transfer functions φ (SPEC §1)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

RATE_CLIP = 20.0  # upper clip of softplus and clipped ReLU (reference code)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid, the activation that converts best (paper Fig. 7)."""
    return torch.sigmoid(x)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x) clipped to [0, 20]."""
    return F.softplus(x).clamp(0.0, RATE_CLIP)


def clipped_relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0) clipped to [0, 20]."""
    return F.relu(x).clamp(0.0, RATE_CLIP)


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": sigmoid,
    "softplus": softplus,
    "clipped_relu": clipped_relu,
}
