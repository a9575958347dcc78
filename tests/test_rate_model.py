"""Rate RNN against SPEC §1: one step by hand, Dale's principle, masks, τ, loss, validation."""

from __future__ import annotations

import math

import pytest
import torch

from spikernn.rate import RateRNN, RateRNNConfig, rate_step, trial_loss
from spikernn.rate.activations import ACTIVATIONS
from spikernn.rate.config import ACTIVATION_NAMES
from spikernn.validation import ConfigError


def test_one_rate_step_by_hand() -> None:
    # two units, τ = 20 ms and 100 ms, Δt = 5 ms: α = 0.25, 0.05
    w_eff = torch.tensor([[0.0, -2.0], [1.0, 0.5]])
    r = torch.tensor([[0.5, 0.25]])
    x = torch.tensor([[1.0, -1.0]])
    drive = torch.tensor([[0.3, -0.2]])  # W_in u
    alpha = torch.tensor([0.25, 0.05])
    noise = torch.tensor([[0.01, -0.02]])
    got = rate_step(x, r, drive, w_eff, alpha, noise)
    # unit 0: 0.75·1 + 0.25·(0·0.5 − 2·0.25 + 0.3) + 0.01 = 0.75 − 0.05 + 0.01 = 0.71
    # unit 1: 0.95·(−1) + 0.05·(0.5 + 0.125 − 0.2) − 0.02 = −0.95 + 0.02125 − 0.02 = −0.94875
    assert torch.allclose(got, torch.tensor([[0.71, -0.94875]]), atol=1e-6)


def test_activations_follow_spec() -> None:
    x = torch.tensor([-30.0, 0.0, 3.0, 50.0])
    assert torch.allclose(ACTIVATIONS["sigmoid"](x), 1 / (1 + torch.exp(-x)))
    assert torch.allclose(
        ACTIVATIONS["softplus"](x),
        torch.tensor([math.log1p(math.exp(-30)), math.log(2), math.log1p(math.exp(3)), 20.0]),
    )
    assert torch.equal(ACTIVATIONS["clipped_relu"](x), torch.tensor([0.0, 0.0, 3.0, 20.0]))
    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES  # what model.activation accepts, checked without torch


def test_dale_sign_pattern_of_effective_weights(small_rate_model: RateRNN) -> None:
    model = small_rate_model
    with torch.no_grad():
        model.w.normal_()  # even with negative raw entries (relu removes them)
    w = model.effective_weights()
    inh = model.inhibitory
    assert torch.all(w[:, ~inh] >= 0) and torch.all(w[:, inh] <= 0)


def test_initial_weights_sparse_and_scaled() -> None:
    n = 400
    model = RateRNN(RateRNNConfig(n_units=n, apply_dale=False), seed=1)
    w0 = model.w0
    density = (w0 != 0).float().mean().item()
    assert abs(density - 0.2) < 0.01
    expected_sd = 1.5 / math.sqrt(n * 0.2)
    assert abs(w0[w0 != 0].std().item() / expected_sd - 1) < 0.03
    assert model.inhibitory.sum() == 0


def test_inhibitory_fraction_and_som_mask() -> None:
    model = RateRNN(RateRNNConfig(n_units=200, sst_n=10), seed=2)
    inh = model.inhibitory
    assert 20 <= inh.sum() <= 60  # Bernoulli(0.2) of 200
    som = torch.nonzero(inh).flatten()[:10]
    others = torch.ones(200, dtype=torch.bool)
    others[som] = False
    assert torch.all(model.mask[som][:, inh] == 0)  # SST rows receive no inhibition
    assert torch.all(model.mask[som][:, ~inh] == 1)
    assert torch.all(model.mask[others] == 1)


def test_tau_range_and_fixed_tau() -> None:
    model = RateRNN(RateRNNConfig(n_units=100, taus_ms=[20.0, 50.0]), seed=0)
    taus = model.taus_ms()
    assert taus.min() >= 20 and taus.max() <= 50
    assert isinstance(model.tau_raw, torch.nn.Parameter)
    fixed = RateRNN(RateRNNConfig(n_units=10, taus_ms=[35.0]))
    assert torch.all(fixed.taus_ms() == 35.0)
    assert "tau_raw" not in dict(fixed.named_parameters())


def test_loss_is_root_of_sum() -> None:
    readout = torch.tensor([[1.0, 2.0, 0.0]])
    targets = torch.tensor([[0.0, 0.0, 0.0, 9.0]])  # last target is never compared (T − 1 outputs)
    assert trial_loss(readout, targets).item() == pytest.approx(math.sqrt(5))
    assert trial_loss(readout, targets, "l1").item() == pytest.approx(3.0)


def test_forward_shapes_and_noise_free_determinism(small_rate_model: RateRNN) -> None:
    inputs = torch.zeros(3, 201, 1)
    a = small_rate_model(inputs, noise=False, generator=torch.Generator().manual_seed(0), return_rates=True)
    b = small_rate_model(inputs, noise=False, generator=torch.Generator().manual_seed(0))
    assert a.readout.shape == (3, 199) and a.rates.shape == (3, 200, 40)
    assert torch.equal(a.readout, b.readout)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_units": 0}, r"model.n_units must be in \[1, inf\]"),
        ({"n_units": -5}, "model.n_units"),
        ({"p_inh": 1.0}, r"model.p_inh must be in \[0, 1\)"),
        ({"p_inh": -0.1}, r"model.p_inh must be in \[0, 1\)"),
        ({"taus_ms": [100.0, 20.0]}, "model.tau_min_ms must be ≤ model.tau_max_ms"),
        ({"taus_ms": [1.0, 2.0, 3.0]}, "model.taus_ms must hold one value"),
        ({"activation": "tanh"}, "model.activation must be one of 'sigmoid', 'softplus', 'clipped_relu'"),
        ({"gain": 0.0}, r"model.gain must be in \(0, inf\]"),
    ],
)
def test_bad_rate_config_names_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RateRNNConfig(**kwargs)
