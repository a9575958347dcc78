"""snnTorch neurons with surrogate gradients, the differentiable network, and fine-tuning (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
import snntorch
import snntorch.utils
import torch
from torch import nn

from spikernn.finetune import FinetuneConfig, finetune_stage, training_parameters
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.spiking import IntegrateAndFire, SpikingParameters
from spikernn.spiking.differentiable import RecurrentInput, simulate_surrogate
from spikernn.tasks import get_task
from spikernn.transfer import to_spiking
from spikernn.validation import ConfigError


def driven_network(n_units: int, params: SpikingParameters, seed: int = 3):
    model = RateRNN(RateRNNConfig(n_units=n_units), seed=seed)
    with torch.no_grad():
        model.w.mul_(4)
    return to_spiking(model, params)


def surrogate_run(net, inputs, inv_s, **kwargs):
    return simulate_surrogate(
        net.neuron, net.w_eff, net.w_in, net.w_out, net.tau_d_ms, inv_s, inputs, net.steps_per_column, **kwargs
    )


def test_neuron_is_an_snntorch_leaky_that_fires_through_its_surrogate() -> None:
    neuron = IntegrateAndFire(SpikingParameters(spike_grad="fast_sigmoid", spike_grad_slope=25.0))
    assert isinstance(neuron, snntorch.Leaky) and neuron in snntorch.SpikingNeuron.instances
    v = torch.tensor([-45.0, -40.0, -39.0], requires_grad=True)
    spk = neuron.fire(v)
    assert spk.tolist() == [0.0, 1.0, 1.0]  # v ≥ v_th spikes, the reference's rule
    spk.sum().backward()
    # fast sigmoid on (v − v_th)/25 mV with slope 25: d/dv = (1/25)/(1 + |v − v_th|)²
    assert torch.allclose(v.grad, torch.tensor([1 / 25 / 36, 1 / 25, 1 / 25 / 4]))


def test_hidden_state_follows_snntorch_conventions() -> None:
    params = SpikingParameters(noise_std_mv=0.0)
    hidden = IntegrateAndFire(params, init_hidden=True)
    explicit = IntegrateAndFire(params)
    net = nn.Sequential(hidden)
    hidden.generator = torch.Generator().manual_seed(4)
    state = explicit.init_state((3, 5), torch.Generator().manual_seed(4))
    current = torch.full((3, 5), 30.0)
    for _ in range(200):
        spk = hidden(current)
        spk_explicit, state = explicit(current, state)
        assert torch.equal(spk, spk_explicit)
    assert torch.equal(hidden.mem, state.v) and torch.equal(hidden.refractory, state.refractory)
    snntorch.utils.reset(net)  # snnTorch's reset: zeros mem; the next step draws the initial state
    hidden.generator = torch.Generator().manual_seed(4)
    spk_explicit, first = explicit(current, explicit.init_state((3, 5), torch.Generator().manual_seed(4)))
    assert torch.equal(hidden(current), spk_explicit)
    assert torch.equal(hidden.mem, first.v) and torch.equal(hidden.refractory, first.refractory)
    hidden.reset_mem()
    assert hidden.mem.numel() == 0


def test_surrogate_network_equals_the_plain_module_without_noise() -> None:
    net = driven_network(40, SpikingParameters(noise_std_mv=0.0))
    task = get_task("go_nogo")
    inputs = task.make_trials(4, torch.Generator().manual_seed(0)).inputs[:, 46:57]  # 50 ms around the onset
    plain = net.simulate(inputs, 2.0, generator=torch.Generator().manual_seed(1), noise=False, backend="fused")
    torch_path = net.simulate(inputs, 2.0, generator=torch.Generator().manual_seed(1), noise=False, backend="torch")
    assert torch.equal(plain.readout, torch_path.readout)
    w = net.w_eff.clone().requires_grad_()
    for chunk in (None, 300):
        out = simulate_surrogate(
            net.neuron, w, net.w_in, net.w_out, net.tau_d_ms, torch.tensor(0.5), inputs, net.steps_per_column,
            generator=torch.Generator().manual_seed(1), noise=False, checkpoint_steps=chunk,
        )  # fmt: skip
        assert plain.spike_counts.sum() > 200
        assert torch.equal(out.readout, plain.readout) and torch.equal(out.spike_counts, plain.spike_counts.float())
        out.readout.sum().backward()
        assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0
        w.grad = None


def test_recurrent_input_gradients_match_the_dense_product() -> None:
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(3, 6, generator=g) > 0.5).double() * (1 + torch.rand(3, 6, generator=g, dtype=torch.float64))
    w = torch.randn(6, 6, generator=g, dtype=torch.float64)
    spikes.requires_grad_()
    w.requires_grad_()
    assert torch.autograd.gradcheck(RecurrentInput.apply, (spikes, w))
    assert torch.allclose(RecurrentInput.apply(spikes, w), spikes @ w.T)


def test_gradient_of_a_tiny_network_is_exact_on_a_smooth_surrogate_path() -> None:
    """float64, a smooth spike function (sigmoid) as spike_grad: autograd through the network (synapses,
    recurrence, τ_d, 1/s, readout) must match finite differences."""
    params = SpikingParameters(dt_ms=1.0, noise_std_mv=0.0, t_ref_ms=0.0, v_init_min_mv=-50.0, v_init_max_mv=-45.0)
    neuron = IntegrateAndFire(params, spike_grad=lambda x: torch.sigmoid(x / 5.0))
    g = torch.Generator().manual_seed(2)
    n = 5
    w = (torch.randn(n, n, generator=g, dtype=torch.float64) * 2).requires_grad_()
    w_out = torch.randn(n, generator=g, dtype=torch.float64).requires_grad_()
    tau = (20 + 10 * torch.rand(n, generator=g, dtype=torch.float64)).requires_grad_()
    inv_s = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    inputs = torch.ones(2, 3, 1, dtype=torch.float64)
    w_in = torch.randn(n, 1, generator=g, dtype=torch.float64) * 5

    def readout(w, w_out, tau, inv_s):
        out = simulate_surrogate(
            neuron, w, w_in, w_out, tau, inv_s, inputs, 5, generator=torch.Generator().manual_seed(0),
            noise=False, exact=False,
        )  # fmt: skip
        return out.readout, out.spike_counts

    assert readout(w, w_out, tau, inv_s)[1].sum() > 5  # the units are near threshold: the spike path matters
    assert torch.autograd.gradcheck(readout, (w, w_out, tau, inv_s), atol=1e-6, rtol=1e-4)


def test_training_parameters_keep_the_noise_per_ms() -> None:
    p = training_parameters(SpikingParameters(noise_std_mv=0.1), 1.0, 5.0)
    assert p.dt_ms == 1.0 and abs(p.noise_std_mv - 0.1 * 20**0.5) < 1e-12


@pytest.mark.slow  # trains, converts and fine-tunes (minutes on 2 cores); make test-slow
def test_finetuning_raises_the_fused_kernel_accuracy_of_a_badly_scaled_go_nogo_network(tmp_path: Path) -> None:
    """A small Go-NoGo rate network, trained quickly, converted with its readout weights scaled by
    0.4 at s = 35 (it misses 95 %), is fine-tuned for 10 batches; the fused kernel at dt 0.05 ms
    on the same 100 fresh trials with the task's scoring judges, before and after."""
    from spikernn.rate.criterion import StoppingRule
    from spikernn.rate.training import TrainerConfig, train_rate_model

    task = get_task("go_nogo")
    torch.set_num_threads(1)
    model, _ = train_rate_model(
        task,
        RateRNNConfig(n_units=50),
        TrainerConfig(max_trials=2400, batch_size=8, learning_rate=0.03, progress_bar=False,
                       stopping=StoppingRule(eval_every_trials=400)),
        seed=0,
    )  # fmt: skip
    with torch.no_grad():
        model.w_out.mul_(0.4)
    cfg = FinetuneConfig(n_batches=10, validate_every=10, validation_trials=60, train_scaling_factor=False)
    summary = finetune_stage(model, task, SpikingParameters(), 35.0, cfg, 0, 100, tmp_path).summary()
    assert summary["lif_accuracy_before"] < 0.95
    assert summary["lif_accuracy"] >= summary["lif_accuracy_before"] + 0.02
    assert (
        summary["finetune_record"]["validation"]["accuracy"][-1]
        > summary["finetune_record"]["validation"]["accuracy"][0]
    )
    assert 0 < summary["lif_exc_hz"] < 50 and 0 < summary["lif_inh_hz"] < 50
    assert (tmp_path / "finetuned_model.pt").is_file()
    assert summary["figures"] == ["finetuning.png", "readout_rate_vs_lif_finetuned.png"]
    assert all((tmp_path / name).is_file() for name in summary["figures"])


def test_run_fine_tunes_only_networks_below_the_threshold_when_one_is_set() -> None:
    """``finetune.below_accuracy``: spikernn-run fine-tunes a converted network only when its LIF
    accuracy on fresh trials is below it (null: every network, as before); disabled: none."""
    always = FinetuneConfig(enabled=True)
    misses = FinetuneConfig(enabled=True, below_accuracy=0.95)
    assert always.wanted(0.99) and always.wanted(0.5)
    assert misses.wanted(0.94) and not misses.wanted(0.95) and not misses.wanted(1.0)
    assert not FinetuneConfig(enabled=False, below_accuracy=0.95).wanted(0.5)
    with pytest.raises(ConfigError, match="finetune.below_accuracy"):
        FinetuneConfig(below_accuracy=1.5)


def test_cosine_schedule_anneals_the_learning_rate_to_one_percent_over_the_batches() -> None:
    """``finetune.lr_schedule=cosine``: Lightning steps a cosine annealing after every batch, from
    ``learning_rate`` to 1 % of it at ``n_batches``; ``constant`` keeps Adam's rate; others refused."""
    from spikernn.finetune import SpikingFinetuneModule, TrainableSpikingRNN

    model = RateRNN(RateRNNConfig(n_units=20), seed=0)
    net = TrainableSpikingRNN(model, 30.0, SpikingParameters(dt_ms=0.5), 5.0)
    for schedule in ("constant", "cosine"):
        cfg = FinetuneConfig(n_batches=8, learning_rate=0.01, lr_schedule=schedule)
        configured = SpikingFinetuneModule(net, get_task("go_nogo"), cfg, SpikingParameters(), 0).configure_optimizers()
        if schedule == "constant":
            assert isinstance(configured, torch.optim.Adam) and configured.param_groups[0]["lr"] == 0.01
            continue
        optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
        assert configured["lr_scheduler"]["interval"] == "step"
        rates = []
        for _ in range(8):
            optimizer.step()
            scheduler.step()
            rates.append(optimizer.param_groups[0]["lr"])
        assert all(a > b for a, b in zip(rates[:-1], rates[1:], strict=True)) and rates[-1] == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match="finetune.lr_schedule"):
        FinetuneConfig(lr_schedule="step")
