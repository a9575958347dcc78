"""Shared fixtures: small networks built deterministically."""

from __future__ import annotations

import os

import pytest
import torch

from spikernn.rate import RateRNN, RateRNNConfig

torch.set_num_threads(1)  # tiny tensors: threads only add overhead


@pytest.fixture
def small_rate_model() -> RateRNN:
    """A 40-unit Go-NoGo rate network (untrained, Dale on)."""
    return RateRNN(RateRNNConfig(n_units=40), seed=3)


# the suite's tiny networks never reach the training criterion; converting them is what the tests
# check (tests/test_science_failure.py checks the refusal with this unset)
os.environ.setdefault("SPIKERNN_ALLOW_UNTRAINED", "true")
