"""Shared fixtures: small networks built deterministically."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spikernn.rate import RateRNN, RateRNNConfig
from tiny import TINY_TRAINING, command_environment

torch.set_num_threads(1)  # tiny tensors: threads only add overhead


@pytest.fixture
def small_rate_model() -> RateRNN:
    """A 40-unit Go-NoGo rate network (untrained, Dale on)."""
    return RateRNN(RateRNNConfig(n_units=40), seed=3)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A ``rate_model.pt`` trained by ``spikernn-train`` at a tiny size (N = 20, 100 trials)."""
    out = tmp_path_factory.mktemp("model")
    argv = [sys.executable, "-m", "spikernn.apps.train", *TINY_TRAINING]
    proc = subprocess.run(argv, capture_output=True, text=True, env=command_environment(out), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (model,) = (out / "runs" / "train").glob("*/rate_model.pt")
    return model


# the suite's tiny networks never reach the training criterion; converting them is what the tests
# check (tests/test_science_failure.py checks the refusal with this unset)
os.environ.setdefault("SPIKERNN_ALLOW_UNTRAINED", "true")
