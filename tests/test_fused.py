"""The fused numba kernel against the plain torch module: bit for bit without noise, the same
statistics with noise, and its own Gaussian generator."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
import torch
from scipy import stats

from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.spiking import SpikingParameters, SpikingRNN, Stimulation
from spikernn.spiking.network import RECORDABLE
from spikernn.spiking.noise_generator import TABLES, ZIG_R, ZIG_V, standard_normal
from spikernn.tasks import get_task
from spikernn.transfer import to_spiking
from spikernn.validation import ConfigError

Z_TOL = 4.5  # two-sided tolerance in standard errors: a false alarm once in ~150 000 checks


def spiking_network(n_units: int, params: SpikingParameters, n_inputs: int = 1, seed: int = 3) -> SpikingRNN:
    """A small untrained network with enough recurrent drive for spikes to matter."""
    model = RateRNN(RateRNNConfig(n_units=n_units, n_inputs=n_inputs), seed=seed)
    with torch.no_grad():
        model.w.mul_(4)
    return to_spiking(model, params)


def both(net: SpikingRNN, *args, **kwargs):
    return net.simulate(*args, backend="fused", **kwargs), net.simulate(*args, backend="torch", **kwargs)


@pytest.mark.parametrize(
    ("params", "n_units", "task"),
    [
        (SpikingParameters(noise_std_mv=0.0), 40, "go_nogo"),
        (SpikingParameters(noise_std_mv=0.0, tau_rise_ms=0.0), 37, "go_nogo"),  # single exponential; N % 8 ≠ 0
        (SpikingParameters(neuron="qif", v_th_mv=30.0, i_bias_mv=0.0, noise_std_mv=0.0), 40, "go_nogo"),
        (SpikingParameters(noise_std_mv=0.0), 33, "mante"),  # four input channels
        (SpikingParameters(noise_std_mv=0.0), 6, "go_nogo"),  # fewer units than readout lanes
    ],
    ids=["lif-double-exp", "lif-single-exp", "qif", "lif-4-inputs", "lif-6-units"],
)
def test_without_noise_fused_equals_torch_bit_for_bit(params: SpikingParameters, n_units: int, task: str) -> None:
    task = get_task(task)
    net = spiking_network(n_units, params, n_inputs=task.n_inputs)
    g = torch.Generator().manual_seed(0)
    trials = task.make_trials(4, g)
    inputs = trials.inputs[:, 40:101]  # 300 ms around the stimulus onset
    factors = torch.tensor([0.5, 1.0, 2.0])
    v0 = -65 + 95 * torch.rand(3, 4, n_units, generator=g)
    a, b = both(net, inputs, factors, noise=False, initial_voltage_mv=v0, record=RECORDABLE)
    assert b.spike_counts.sum() > 1000 and b.readout.abs().max() > 0
    for name in ("readout", "spike_counts", *RECORDABLE):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert torch.equal(x, y), name


def test_result_shapes_and_types_match_for_a_scalar_factor_and_per_factor_inputs() -> None:
    net = spiking_network(10, SpikingParameters(noise_std_mv=0.0))
    inputs = torch.rand(2, 3, 11, 1)  # [n_factors, n_trials, C, n_in]
    a, b = both(net, inputs, torch.tensor([1.0, 3.0]), noise=False, record=("spikes",), generator=None)
    assert a.readout.shape == b.readout.shape == (2, 3, 1000) and a.spikes.dtype == torch.bool
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    one = net.simulate(inputs[0], 2.0, noise=False, generator=g1, backend="fused")
    two = net.simulate(inputs[0], 2.0, noise=False, generator=g2, backend="torch")
    assert one.readout.shape == (3, 1000) and one.spike_counts.dtype == two.spike_counts.dtype == torch.int32
    assert torch.equal(one.readout, two.readout)  # same initial voltages from the same generator


def test_backend_choice_and_stimulation_fall_back_to_torch() -> None:
    net = spiking_network(10, SpikingParameters())
    inputs = torch.zeros(2, 11, 1)
    stim = Stimulation(mode="exc", units=[0], start_ms=0.0, stop_ms=20.0)
    auto = net.simulate(inputs, 1.0, stimulation=stim, generator=torch.Generator().manual_seed(1))
    plain = net.simulate(inputs, 1.0, stimulation=stim, generator=torch.Generator().manual_seed(1), backend="torch")
    assert torch.equal(auto.readout, plain.readout)  # "auto" took the torch path
    with pytest.raises(ConfigError, match="backend 'fused'"):
        net.simulate(inputs, 1.0, stimulation=stim, backend="fused")
    with pytest.raises(ConfigError, match="backend must be one of"):
        net.simulate(inputs, 1.0, backend="gpu")


def test_torch_keeps_its_thread_count() -> None:
    """numba's OpenMP layer shares OpenMP's thread count with torch; the fused path restores it."""
    before = torch.get_num_threads()
    spiking_network(10, SpikingParameters()).simulate(torch.zeros(8, 3, 1), 1.0, backend="fused")
    assert torch.get_num_threads() == before


def test_progress_is_reported_up_to_the_last_step() -> None:
    net = spiking_network(10, SpikingParameters())
    seen: list[tuple[int, int]] = []
    net.simulate(torch.zeros(1, 51, 1), 1.0, backend="fused", on_progress=lambda k, n: seen.append((k, n)))
    assert seen[-1] == (5000, 5000) and [k for k, _ in seen] == sorted({k for k, _ in seen})


# --- noise ---------------------------------------------------------------------------------------


def uncoupled_network(n: int, params: SpikingParameters) -> SpikingRNN:
    """``n`` units without recurrent or external input, read out by their mean rate."""
    return SpikingRNN(
        w_eff=torch.zeros(n, n),
        w_in=torch.zeros(n, 1),
        w_out=torch.ones(n) / n,
        tau_d_ms=torch.full((n,), 20.0),
        inhibitory=torch.zeros(n, dtype=torch.bool),
        params=params,
    )


def z_score(x: np.ndarray, y: np.ndarray) -> float:
    """Welch z of the difference of two sample means."""
    return (x.mean() - y.mean()) / math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))


def test_noise_driven_firing_has_the_same_statistics() -> None:
    """Uncoupled units held 0.5 mV below threshold fire only through the noise (stationary SD
    ≈ 1 mV), so their rate is a sensitive check of the noise distribution."""
    n = 50
    net = uncoupled_network(n, SpikingParameters(i_bias_mv=-40.5))
    inputs = torch.zeros(150, 41, 1)
    v0 = torch.full((150, n), -40.5)
    a = net.simulate(inputs, 1.0, initial_voltage_mv=v0, generator=torch.Generator().manual_seed(1), backend="fused")
    b = net.simulate(inputs, 1.0, initial_voltage_mv=v0, generator=torch.Generator().manual_seed(2), backend="torch")
    rate_a, rate_b = a.firing_rates_hz().mean(1).numpy(), b.firing_rates_hz().mean(1).numpy()
    assert rate_b.mean() > 5  # the noise matters
    assert abs(z_score(rate_a, rate_b)) < Z_TOL
    late_a, late_b = a.readout[:, 2000:].mean(1).numpy(), b.readout[:, 2000:].mean(1).numpy()
    assert abs(z_score(late_a, late_b)) < Z_TOL
    assert stats.levene(rate_a, rate_b).pvalue > 1e-5  # same spread across trials


def test_task_network_with_noise_has_the_same_rates_and_readout_statistics() -> None:
    task = get_task("go_nogo")
    net = spiking_network(40, SpikingParameters())
    g = torch.Generator().manual_seed(0)
    trials = task.make_trials(100, g)
    inputs = trials.inputs[:, 40:81]
    factors = torch.tensor([2.0, 8.0])  # at s = 8 rates are moderate and the noise shows in them
    a = net.simulate(inputs, factors, generator=torch.Generator().manual_seed(3), backend="fused")
    b = net.simulate(inputs, factors, generator=torch.Generator().manual_seed(4), backend="torch")
    for f in range(2):
        rate_a, rate_b = a.firing_rates_hz()[f].mean(1).numpy(), b.firing_rates_hz()[f].mean(1).numpy()
        assert abs(z_score(rate_a, rate_b)) < Z_TOL
        for stat in (lambda r: r.amax(-1), lambda r: r[:, 2000:].mean(-1)):
            assert abs(z_score(stat(a.readout[f]).numpy(), stat(b.readout[f]).numpy())) < Z_TOL


def test_noise_steps_are_gaussian_with_the_configured_sd() -> None:
    """During the initial refractory period (40 steps) only the noise moves the voltage."""
    n, rows = 64, 200
    net = spiking_network(n, SpikingParameters())
    v0 = torch.full((rows, n), -60.0)
    res = net.simulate(
        torch.zeros(rows, 11, 1),
        1.0,
        initial_voltage_mv=v0,
        record=("voltage",),
        generator=torch.Generator().manual_seed(7),
        backend="fused",
    )
    v = torch.cat([v0[:, None], res.voltage[:, :40]], 1).double()
    steps = torch.diff(v, dim=1).flatten().numpy()
    m = len(steps)
    assert abs(steps.mean()) < Z_TOL * 0.1 / math.sqrt(m)
    assert abs(steps.std() - 0.1) < Z_TOL * 0.1 / math.sqrt(2 * m) + 1e-6  # + float32 rounding of v


def test_generator_is_reproducible_and_independent_of_the_thread_count() -> None:
    assert np.array_equal(standard_normal(11, 3, 20, 50), standard_normal(11, 3, 20, 50))
    assert not np.array_equal(standard_normal(11, 3, 20, 50), standard_normal(12, 3, 20, 50))
    net = spiking_network(20, SpikingParameters())
    inputs = torch.rand(6, 21, 1)

    def run(threads: int) -> torch.Tensor:
        before = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            return net.simulate(inputs, torch.tensor([1.0, 2.0]), generator=torch.Generator().manual_seed(9)).readout
        finally:
            numba.set_num_threads(before)

    assert torch.equal(run(1), run(numba.config.NUMBA_NUM_THREADS))
    assert not torch.equal(run(1), net.simulate(inputs, torch.tensor([1.0, 2.0])).readout)


def test_generator_draws_standard_normals() -> None:
    z = standard_normal(2024, 8, 125, 2000).astype(np.float64).ravel()  # 2 million draws
    m = len(z)
    assert abs(z.mean()) < Z_TOL / math.sqrt(m)
    assert abs(z.std() - 1) < Z_TOL / math.sqrt(2 * m)
    assert abs(stats.skew(z)) < Z_TOL * math.sqrt(6 / m)
    assert abs(stats.kurtosis(z)) < Z_TOL * math.sqrt(24 / m)
    for cut in (1.0, 3.0, 4.0, ZIG_R):  # beyond R: the tail algorithm
        p = 2 * stats.norm.sf(cut)
        assert abs((np.abs(z) > cut).mean() - p) < Z_TOL * math.sqrt(p * (1 - p) / m), cut
    assert stats.kstest(z, "norm").pvalue > 1e-5
    layers = np.histogram(np.abs(z), bins=TABLES.rows[2, 1:48:4])[0]  # the top layers (wedge slow path)
    expected = m * np.diff(2 * stats.norm.cdf(TABLES.rows[2, 1:48:4]))
    assert stats.chisquare(layers, expected * layers.sum() / expected.sum()).pvalue > 1e-5


def test_ziggurat_layers_close_at_zero() -> None:
    x, f = TABLES.rows[2], TABLES.rows[1]
    assert x[1] * (1 - f[1]) == pytest.approx(ZIG_V, rel=1e-9)  # the top layer has area V too
    tail = ZIG_R * math.exp(-0.5 * ZIG_R**2) + math.sqrt(math.pi / 2) * math.erfc(ZIG_R / 2**0.5)
    assert tail == pytest.approx(ZIG_V, rel=1e-12)


# --- noise in the input current (spiking.noise_mode = "current") ---------------------------------


@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_current_noise_reaches_the_voltage_scaled_by_dt_over_tau_m(backend: str) -> None:
    """Units at rest at I_bias = −60 mV: each step v ← v + (dt/τ_m)(I_bias + σ z − v), so the
    residual after the deterministic part is (dt/τ_m) σ z, a fresh draw every step (no correlation
    between steps), and nothing moves v while refractory."""
    n, rows, steps, ref = 64, 100, 200, 40
    params = SpikingParameters(i_bias_mv=-60.0, noise_mode="current")  # σ = 0.1 (variance 0.01)
    a = params.dt_ms / params.tau_m_ms
    v0 = torch.full((rows, n), -60.0)
    res = uncoupled_network(n, params).simulate(
        torch.zeros(rows, 3, 1),
        1.0,
        initial_voltage_mv=v0,
        record=("voltage",),
        generator=torch.Generator().manual_seed(11),
        backend=backend,
    )
    v = torch.cat([v0[:, None], res.voltage[:, : ref + steps]], 1).double()
    assert torch.equal(v[:, : ref + 1], v0[:, None].double().expand(rows, ref + 1, n))  # refractory: untouched
    v = v[:, ref:]
    residual = (v[:, 1:] - v[:, :-1] - a * (params.i_bias_mv - v[:, :-1])).numpy()
    m = residual.size
    sd = a * params.current_noise_std_mv
    assert abs(residual.mean()) < Z_TOL * sd / math.sqrt(m)
    assert abs(residual.std() - sd) < Z_TOL * sd / math.sqrt(2 * m) + 1e-6  # + float32 rounding of v
    lag1 = np.corrcoef(residual[:, 1:].ravel(), residual[:, :-1].ravel())[0, 1]
    assert abs(lag1) < Z_TOL / math.sqrt(m)


def test_current_noise_driven_firing_and_voltage_spread_agree_between_backends() -> None:
    """σ = 20 gives a stationary voltage SD of σ·sqrt(a/(2 − a)) ≈ 1 mV (a = dt/τ_m), so units 0.5 mV
    below threshold fire through the noise alone; both backends match that SD and each other."""
    n, rows = 50, 150
    params = SpikingParameters(i_bias_mv=-40.5, noise_mode="current", current_noise_std_mv=20.0)
    a = params.dt_ms / params.tau_m_ms
    net = uncoupled_network(n, params)
    v0 = torch.full((rows, n), -40.5)
    kwargs = {"initial_voltage_mv": v0, "record": ("voltage",)}
    x = net.simulate(
        torch.zeros(rows, 41, 1), 1.0, generator=torch.Generator().manual_seed(1), backend="fused", **kwargs
    )
    y = net.simulate(
        torch.zeros(rows, 41, 1), 1.0, generator=torch.Generator().manual_seed(2), backend="torch", **kwargs
    )
    rate_x, rate_y = x.firing_rates_hz().mean(1).numpy(), y.firing_rates_hz().mean(1).numpy()
    assert rate_y.mean() > 5  # the noise matters
    assert abs(z_score(rate_x, rate_y)) < Z_TOL
    assert stats.levene(rate_x, rate_y).pvalue > 1e-5
    # below-threshold spread at rest without spikes: a short window, before any unit has fired
    quiet = SpikingParameters(i_bias_mv=-60.0, noise_mode="current", current_noise_std_mv=20.0)
    v_start = torch.full((rows, n), -60.0)
    expected_sd = 20.0 * math.sqrt(a / (2 - a))
    for backend, seed in (("fused", 3), ("torch", 4)):
        res = uncoupled_network(n, quiet).simulate(
            torch.zeros(rows, 11, 1),
            1.0,
            initial_voltage_mv=v_start,
            record=("voltage",),
            generator=torch.Generator().manual_seed(seed),
            backend=backend,
        )
        late = res.voltage[:, -1].double().numpy().ravel()  # 1000 steps = 5 τ_m after the refractory start
        assert abs(late.std() - expected_sd) < Z_TOL * expected_sd / math.sqrt(2 * late.size) + 0.01 * expected_sd


@pytest.mark.parametrize("mode", ["voltage", "current"])
def test_zero_noise_amplitude_equals_noise_off_bit_for_bit(mode: str) -> None:
    task = get_task("go_nogo")
    params = SpikingParameters(noise_mode=mode, noise_std_mv=0.0, current_noise_std_mv=0.0)
    net = spiking_network(24, params)
    inputs = task.make_trials(3, torch.Generator().manual_seed(0)).inputs[:, 40:71]
    v0 = -65 + 95 * torch.rand(2, 3, 24, generator=torch.Generator().manual_seed(1))
    off = net.simulate(inputs, torch.tensor([1.0, 3.0]), noise=False, initial_voltage_mv=v0, backend="torch")
    assert off.spike_counts.sum() > 100
    for backend in ("fused", "torch"):
        on = net.simulate(inputs, torch.tensor([1.0, 3.0]), initial_voltage_mv=v0, backend=backend)
        assert torch.equal(on.readout, off.readout) and torch.equal(on.spike_counts, off.spike_counts), backend


@pytest.mark.parametrize("tau_rise_ms", [2.0, 0.0], ids=["double-exp", "single-exp"])
def test_silent_synapses_flush_to_zero_without_subnormal_values(tau_rise_ms: float) -> None:
    """After one volley the units fall silent and their synaptic variables decay: both backends set a
    value below the smallest normal float32 to 0 (subnormals are several times slower on x86) and
    still agree bit for bit."""
    n = 16
    g = torch.Generator().manual_seed(2)
    net = SpikingRNN(
        w_eff=0.05 * torch.randn(n, n, generator=g),
        w_in=torch.zeros(n, 1),
        w_out=torch.ones(n) / n,
        tau_d_ms=torch.full((n,), 1.0),  # e^{−dt/τ_d} per step: a spike's trace leaves the normal range in ~90 ms
        inhibitory=torch.arange(n) >= 12,
        params=SpikingParameters(noise_std_mv=0.0, tau_rise_ms=tau_rise_ms),
    )
    v0 = torch.full((2, n), -30.0)  # above threshold: one volley at the first step, then silence
    a, b = both(net, torch.zeros(2, 41, 1), 1.0, noise=False, initial_voltage_mv=v0, record=("ipsc", "rates"))
    tiny = float(np.finfo(np.float32).tiny)
    for result in (a, b):
        assert result.spike_counts.sum() >= n
        for name in ("ipsc", "rates"):
            x = getattr(result, name).abs()
            assert x.max() > 0 and x[:, -1].max() == 0
            assert not ((x > 0) & (x < tiny)).any(), f"subnormal {name}"
    for name in ("readout", "spike_counts", "ipsc", "rates"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
