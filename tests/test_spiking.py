"""Spiking network against SPEC §3: hand-computed steps, synaptic kernels, refractoriness,
batch equivalence, options and validation."""

from __future__ import annotations

import math

import pytest
import torch

from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.spiking import MembraneState, SpikingParameters, SpikingRNN, Stimulation, membrane_step
from spikernn.spiking.network import input_columns
from spikernn.tasks import get_task
from spikernn.transfer import to_spiking
from spikernn.validation import ConfigError

LIF = dict(dt_over_tau_m=0.05 / 10.0, v_th=-40.0, v_reset=-65.0, refractory_steps=40)


def test_one_lif_step_by_hand() -> None:
    state = MembraneState(v=torch.tensor([[-50.0, -40.01, -50.0]]), refractory=torch.tensor([[0, 0, 3]]))
    current = torch.tensor([[-20.0, 100.0, 500.0]])
    noise = torch.tensor([[0.1, 0.0, -0.1]])
    new, spikes = membrane_step(state, current, noise, **LIF)
    # unit 0: −50 + 0.05·(−20 + 50)/10 + 0.1 = −49.75
    # unit 1: −40.01 + 0.05·(100 + 40.01)/10 = −39.30995 ≥ −40 → spike, reset to −65, refractory 40 steps
    # unit 2: refractory: only noise, −50.1; counter 3 → 2
    assert torch.allclose(new.v, torch.tensor([[-49.75, -65.0, -50.1]]), atol=1e-5)
    assert spikes.tolist() == [[False, True, False]]
    assert new.refractory.tolist() == [[0, 40, 2]]


def test_one_qif_step_by_hand() -> None:
    state = MembraneState(v=torch.tensor([[-10.0]]), refractory=torch.tensor([[0]]))
    new, spikes = membrane_step(
        state,
        torch.tensor([[-50.0]]),
        None,
        dt_over_tau_m=0.005,
        v_th=30.0,
        v_reset=-65.0,
        refractory_steps=40,
        quadratic=True,
    )
    assert new.v.item() == pytest.approx(-10.0 + 0.005 * (100.0 - 50.0))
    assert not spikes.item()


def two_unit_network(tau_rise_ms: float, w: float = 3.0) -> SpikingRNN:
    """Unit 1 projects to unit 0 with weight ``w``; τ_d = 20 ms (unit 0) and 40 ms (unit 1)."""
    params = SpikingParameters(tau_rise_ms=tau_rise_ms, noise_std_mv=0.0)
    return SpikingRNN(
        w_eff=torch.tensor([[0.0, w], [0.0, 0.0]]),
        w_in=torch.zeros(2, 1),
        w_out=torch.tensor([0.0, 1.0]),
        tau_d_ms=torch.tensor([20.0, 40.0]),
        inhibitory=torch.zeros(2, dtype=torch.bool),
        params=params,
    )


def isolated_spike(tau_rise_ms: float):
    """Unit 1 starts above threshold and fires once at step 1; unit 0 never reaches threshold."""
    net = two_unit_network(tau_rise_ms)
    v0 = torch.tensor([[-100.0, 0.0]])
    result = net.simulate(
        torch.zeros(1, 41, 1), 1.0, noise=False, initial_voltage_mv=v0, record=("spikes", "rates", "ipsc")
    )
    return net, result


@pytest.mark.parametrize("tau_rise_ms", [2.0, 0.0])
def test_filtered_rate_of_one_spike_integrates_to_one(tau_rise_ms: float) -> None:
    net, result = isolated_spike(tau_rise_ms)
    assert result.spikes[0, :, 1].sum() == 1 and result.spikes[0, 0, 1]
    dt_s = net.params.dt_ms / 1000
    r = result.rates[0, :, 1].double()  # τ_d = 40 ms; 200 ms ≈ 5 τ_d: the tail beyond is e^-5 of it
    integral = r.sum().item() * dt_s
    tail = math.exp(-200 / 40) * 40 / (40 - tau_rise_ms)  # ∫ beyond 200 ms of the (double) exponential
    # Euler discretisation adds ≈ dt/(2τ) per exponential stage: 1.3 % for τ_r = 2 ms, 0.06 % for τ_d = 40 ms
    assert integral == pytest.approx(1 - tail, abs=net.params.dt_ms / (tau_rise_ms or 40.0))


def test_double_exponential_current_by_hand() -> None:
    _, result = isolated_spike(2.0)
    ipsc = result.ipsc[0, :, 0].double()
    # step 1: h = W/(τ_r τ_d) = 3 / (0.002 · 0.02) = 75 000 /s², IPSC still 0 (uses h before update)
    assert ipsc[0].item() == 0.0
    # step 2: IPSC = h · dt = 75 000 · 5e-5 = 3.75
    assert ipsc[1].item() == pytest.approx(3.75, rel=1e-5)
    # peak of the difference of exponentials at t* = τ_r τ_d ln(τ_d/τ_r)/(τ_d − τ_r) ≈ 5.12 ms
    t_peak = 2 * 20 * math.log(20 / 2) / 18
    assert (ipsc.argmax().item() + 1) * 0.05 == pytest.approx(t_peak, abs=0.1)


def test_single_exponential_current_by_hand() -> None:
    _, result = isolated_spike(0.0)
    ipsc = result.ipsc[0, :, 0].double()
    assert ipsc[0].item() == pytest.approx(3 / 0.02, rel=1e-6)  # JD/τ_d right after the spike
    assert ipsc[1].item() == pytest.approx(3 / 0.02 * math.exp(-0.05 / 20), rel=1e-5)


def uncoupled_network(w_in: torch.Tensor) -> SpikingRNN:
    """Excitatory units without recurrent connections (τ_d = 20 ms, no noise), input weights ``w_in``."""
    n = w_in.shape[0]
    return SpikingRNN(
        w_eff=torch.zeros(n, n),
        w_in=w_in,
        w_out=torch.ones(n),
        tau_d_ms=torch.full((n,), 20.0),
        inhibitory=torch.zeros(n, dtype=torch.bool),
        params=SpikingParameters(noise_std_mv=0.0),
    )


def test_refractory_period_and_initial_refractoriness() -> None:
    net = uncoupled_network(torch.ones(1, 1))
    # strong drive: one integration step takes the unit from reset to threshold
    inputs = torch.full((1, 11, 1), 10000.0)
    result = net.simulate(
        inputs, 1.0, noise=False, initial_voltage_mv=torch.tensor([[-65.0]]), record=("spikes", "voltage")
    )
    times = torch.nonzero(result.spikes[0, :, 0]).flatten() + 1  # 1-based steps
    # no integration during the first t_ref (steps 1–40), then one step to threshold: step 41
    assert times[0].item() == 41
    # each spike is followed by 40 refractory steps, then it fires again on the next step
    assert torch.all(torch.diff(times) == 41)
    assert torch.all(result.voltage[0, times[0] : times[0] + 40, 0] == -65.0)


def test_input_columns_follow_reference_rounding() -> None:
    cols = input_columns(20000, 100)
    assert cols[:49].eq(0).all() and cols[49].item() == 1  # i = 50 → round(0.5) = 1
    assert cols[148].item() == 1 and cols[149].item() == 2
    assert cols[-1].item() == 200


def test_one_trial_alone_equals_the_same_trial_in_a_batch(small_rate_model) -> None:
    with torch.no_grad():
        small_rate_model.w.mul_(4)  # enough recurrent drive for spikes to matter
    net = to_spiking(small_rate_model, SpikingParameters(noise_std_mv=0.0))
    task = get_task("go_nogo")
    g = torch.Generator().manual_seed(0)
    trials = task.make_trials(3, g, conditions=torch.tensor([1, 0, 1]))
    trials.inputs = trials.inputs[:, :41]  # 200 ms
    v0 = -65 + 95 * torch.rand(3, 40, generator=g)
    factors = torch.tensor([0.5, 1.0, 2.0])
    batch = net.simulate(trials.inputs, factors, noise=False, initial_voltage_mv=v0, record=("spikes", "voltage"))
    for f in range(3):
        for t in range(3):
            one = net.simulate(
                trials.inputs[t : t + 1],
                factors[f : f + 1],
                noise=False,
                initial_voltage_mv=v0[t : t + 1],
                record=("spikes", "voltage"),
            )
            assert torch.equal(one.spikes[0, 0], batch.spikes[f, t])
            assert torch.equal(one.readout[0, 0], batch.readout[f, t])
            assert torch.equal(one.voltage[0, 0], batch.voltage[f, t])
    assert batch.spike_counts.sum() > 100


def test_scaling_factor_divides_weights_and_readout() -> None:
    net = two_unit_network(2.0)
    v0 = torch.tensor([[-100.0, 0.0]])
    inputs = torch.zeros(1, 11, 1)
    one = net.simulate(inputs, 1.0, noise=False, initial_voltage_mv=v0, record=("ipsc",))
    four = net.simulate(inputs, 4.0, noise=False, initial_voltage_mv=v0, record=("ipsc",))
    assert torch.allclose(four.ipsc, one.ipsc / 4) and torch.allclose(four.readout, one.readout / 4)


def test_stimulation_excites_target_units() -> None:
    net = uncoupled_network(torch.zeros(2, 1))
    stim = Stimulation(mode="exc", units=[0], start_ms=0.0, stop_ms=100.0, amplitude_mv=5.0, probability=1.0)
    result = net.simulate(
        torch.zeros(1, 21, 1), 1.0, noise=False, initial_voltage_mv=torch.tensor([[-65.0, -65.0]]), stimulation=stim
    )
    assert result.spike_counts[0].tolist()[1] == 0 and result.spike_counts[0].tolist()[0] > 5


def test_coarser_dt_keeps_trial_length() -> None:
    net = two_unit_network(2.0)
    coarse = SpikingRNN(net.w_eff, net.w_in, net.w_out, net.tau_d_ms, net.inhibitory, SpikingParameters(dt_ms=0.25))
    result = coarse.simulate(torch.zeros(2, 201, 1), torch.tensor([10.0]))
    assert result.readout.shape == (1, 2, 4000) and result.duration_s == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dt_ms": 0.0}, r"spiking.dt_ms must be in \(0, 1\]"),
        ({"t_ref_ms": -1.0}, r"spiking.t_ref_ms must be in \[0, inf\]"),
        ({"v_reset_mv": -30.0}, "spiking.v_reset_mv must be below spiking.v_th_mv"),
        ({"neuron": "hh"}, "spiking.neuron must be one of 'lif', 'qif'"),
        ({"noise_mode": "synaptic"}, "spiking.noise_mode must be one of 'voltage', 'current'"),
        ({"current_noise_std_mv": -0.1}, r"spiking.current_noise_std_mv must be in \[0, inf\]"),
    ],
)
def test_bad_spiking_parameters_name_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SpikingParameters(**kwargs)


@pytest.mark.parametrize("factor", [0.0, -25.0, float("nan")])
def test_non_positive_factor_is_refused_before_simulating(factor: float) -> None:
    net = two_unit_network(2.0)
    with pytest.raises(ConfigError, match="scaling_factor must be > 0"):
        net.simulate(torch.zeros(1, 201, 1), torch.tensor([20.0, factor]))


def test_dt_must_divide_the_stimulus_step() -> None:
    net = two_unit_network(2.0)
    with pytest.raises(ConfigError, match="spiking.dt_ms must divide"):
        SpikingRNN(net.w_eff, net.w_in, net.w_out, net.tau_d_ms, net.inhibitory, SpikingParameters(dt_ms=0.3))


def test_transfer_carries_the_sst_units_whose_inhibition_is_cut() -> None:
    """The SST units of the spiking network are the rate model's: the first sst_n inhibitory units,
    the rows of the mask that receive no inhibition."""
    model = RateRNN(RateRNNConfig(n_units=40, p_inh=0.4, sst_n=3), seed=1)
    network = to_spiking(model)
    inh = network.inhibitory
    assert torch.equal(network.sst_units, torch.nonzero(inh).flatten()[:3])
    cut = (model.mask[:, inh] == 0).all(1)  # rows with every inhibitory input removed
    assert torch.equal(torch.nonzero(cut).flatten(), network.sst_units)
    assert to_spiking(RateRNN(RateRNNConfig(n_units=40), seed=1)).sst_units.numel() == 0
