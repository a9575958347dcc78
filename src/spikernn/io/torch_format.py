"""Our model file: the rate model's config and tensors, loadable with ``weights_only=True``."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from spikernn.io.atomic import write_atomically
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.validation import ConfigError

FORMAT = "spikernn.rate_rnn/1"


def save_rate_model(path: str | os.PathLike, model: RateRNN, extra: dict | None = None) -> Path:
    """Save ``model`` (config + state) and ``extra`` (plain values: task, scaling factor …)."""
    payload = {"format": FORMAT, "config": model.config.to_dict(), "state": model.state_dict(), "extra": extra or {}}
    return write_atomically(path, lambda tmp: torch.save(payload, tmp))


def load_rate_model(path: str | os.PathLike) -> tuple[RateRNN, dict]:
    """Load a model saved by ``save_rate_model``; returns the model and its ``extra`` dict."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a spikernn rate model file (expected format {FORMAT!r})")
    model = RateRNN(RateRNNConfig(**payload["config"]))
    model.load_state_dict(payload["state"])
    model.eval()
    return model, payload["extra"]
