"""Networks of several outputs (a readout per choice, issue 34): the rate model, population training's
kernel, both spiking backends, the surrogate network, the model files, the scoring rule and a whole
run on NeuroGym's three-choice PerceptualDecisionMaking. Each output of a network is the network of
that one output, bit for bit."""

from __future__ import annotations

from pathlib import Path

import torch

from rate_gradients import loss_and_grads
from spikernn.finetune import readout_loss, window_loss
from spikernn.io import export_mat, import_mat, load_rate_model, save_rate_model
from spikernn.rate import RateRNN, RateRNNConfig, trial_loss
from spikernn.spiking import SpikingParameters
from spikernn.spiking.differentiable import simulate_surrogate
from spikernn.spiking.network import RECORDABLE
from spikernn.tasks.base import ScoringWindow, chosen_output_correct
from spikernn.tasks.neurogym_env import NeuroGymConfig, NeuroGymTask
from spikernn.transfer import to_spiking

N_OUT = 3


def model_of(n_outputs: int, seed: int = 1, **kwargs) -> RateRNN:
    model = RateRNN(RateRNNConfig(n_units=33, n_inputs=2, n_outputs=n_outputs, **kwargs), seed=seed)
    with torch.no_grad():
        model.w.mul_(4)  # recurrent drive strong enough for spikes to matter
        model.w_out.mul_(50)
        model.b_out.add_(0.3)
    return model


def one_output(model: RateRNN, o: int) -> RateRNN:
    """The network with only output ``o`` of ``model``."""
    single = RateRNN(RateRNNConfig(**{**model.config.to_dict(), "n_outputs": 1}), seed=1)
    state = dict(model.state_dict())
    state["w_out"], state["b_out"] = state["w_out"][o], state["b_out"][o]
    single.load_state_dict(state)
    return single


def test_rate_readouts_have_an_axis_per_output_and_each_is_its_own_networks() -> None:
    model = model_of(N_OUT)
    assert model.w_out.shape == (N_OUT, 33) and model.b_out.shape == (N_OUT,)
    inputs = torch.randn(4, 41, 2, generator=torch.Generator().manual_seed(0))
    out = model(inputs, generator=torch.Generator().manual_seed(1)).readout
    assert out.shape == (4, N_OUT, 39)
    for o in range(N_OUT):
        alone = one_output(model, o)(inputs, generator=torch.Generator().manual_seed(1)).readout
        torch.testing.assert_close(out[:, o], alone, rtol=1e-6, atol=1e-5)
    targets = torch.zeros(4, N_OUT, 40)
    expected = out.detach().square().sum((1, 2)).sqrt()
    torch.testing.assert_close(trial_loss(out.detach(), targets), expected)  # summed over outputs and time


def test_population_kernel_matches_autograd_for_several_outputs_in_float64() -> None:
    model = model_of(N_OUT, taus_ms=[20.0, 50.0]).double()
    g = torch.Generator().manual_seed(2)
    inputs = torch.randn(3, 41, 2, generator=g, dtype=torch.float64)
    targets = torch.randn(3, N_OUT, 40, generator=g, dtype=torch.float64)
    ref_out, ref = loss_and_grads(model, inputs, targets, fused=False)
    out, got = loss_and_grads(model, inputs, targets, fused=True)
    assert out.shape == (3, N_OUT, 39)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=1e-8, atol=1e-12, msg=name)
        assert ref[name].abs().max() > 0, name


def test_both_spiking_backends_read_every_output_as_the_network_of_that_output_bit_for_bit() -> None:
    model = model_of(N_OUT)
    params = SpikingParameters(noise_std_mv=0.0)
    net = to_spiking(model, params)
    assert net.w_out.shape == (N_OUT, 33) and net.n_outputs == N_OUT
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(4, 21, 2, generator=g)
    v0 = -65 + 95 * torch.rand(2, 4, 33, generator=g)
    runs = {
        b: net.simulate(
            inputs, torch.tensor([0.5, 1.0]), noise=False, initial_voltage_mv=v0, record=RECORDABLE, backend=b
        )
        for b in ("fused", "torch")
    }
    assert runs["torch"].readout.shape == (2, 4, N_OUT, 2000) and runs["torch"].spike_counts.sum() > 1000
    for name in ("readout", "spike_counts", *RECORDABLE):
        assert torch.equal(getattr(runs["fused"], name), getattr(runs["torch"], name)), name
    for o in range(N_OUT):
        alone = to_spiking(one_output(model, o), params)
        single = alone.simulate(inputs, torch.tensor([0.5, 1.0]), noise=False, initial_voltage_mv=v0)
        assert single.readout.shape == (2, 4, 2000)
        assert torch.equal(runs["fused"].readout[:, :, o], single.readout), o


def test_the_surrogate_network_reads_several_outputs_as_the_simulators_do() -> None:
    net = to_spiking(model_of(N_OUT), SpikingParameters(noise_std_mv=0.0))
    inputs = torch.randn(3, 11, 2, generator=torch.Generator().manual_seed(0))
    plain = net.simulate(inputs, 2.0, generator=torch.Generator().manual_seed(1), noise=False, backend="fused")
    w_out = net.w_out.clone().requires_grad_()
    out = simulate_surrogate(
        net.neuron, net.w_eff, net.w_in, w_out, net.tau_d_ms, torch.tensor(0.5), inputs, net.steps_per_column,
        generator=torch.Generator().manual_seed(1), noise=False,
    )  # fmt: skip
    assert out.readout.shape == (3, N_OUT, 1000) and torch.equal(out.readout, plain.readout)
    out.readout[:, 1].sum().backward()  # only output 2's row gets a gradient
    assert w_out.grad[1].abs().sum() > 0 and not w_out.grad[[0, 2]].any()


def test_model_files_keep_every_output(tmp_path: Path) -> None:
    model = model_of(N_OUT)
    save_rate_model(tmp_path / "m.pt", model)
    back, _ = load_rate_model(tmp_path / "m.pt")
    assert back.config.n_outputs == N_OUT and torch.equal(back.w_out, model.w_out.detach())
    export_mat(tmp_path / "m.mat", model)
    again = import_mat(tmp_path / "m.mat")
    assert again.config.n_outputs == N_OUT and torch.equal(again.w_out, model.w_out.detach())
    torch.testing.assert_close(again.b_out, model.b_out.detach())
    inputs = torch.zeros(2, 21, 2)
    same = [m(inputs, noise=False, generator=torch.Generator().manual_seed(1)).readout for m in (model, back, again)]
    assert torch.equal(same[0], same[1]) and torch.allclose(same[0], same[2])


def test_a_choice_among_outputs_needs_the_highest_mean_and_a_response() -> None:
    window = ScoringWindow(from_ms=0.0)
    part = torch.zeros(4, N_OUT, 10)
    part[0, 2] = 1.0  # answers 2
    part[1, 2] = 0.5  # highest, but never crosses 0.7: no answer
    part[2, 0] = 0.9  # answers 0
    part[2, 2, :2] = 0.95  # output 2 peaks higher but briefly: the mean decides
    part[3, 1] = 1.0  # answers 1
    labels = torch.tensor([2, 2, 0, 0])
    assert chosen_output_correct(part, labels, window.threshold).tolist() == [True, False, True, False]
    both_factors = torch.stack([part, part.roll(1, dims=1)])  # [factors, trials, outputs, samples]
    assert chosen_output_correct(both_factors, labels, 0.7).tolist() == [[True, False, True, False]] + [[False] * 4]


def test_fine_tuning_losses_judge_each_output_against_its_own_target() -> None:
    timing = {"fixation": 100, "stimulus": 300, "delay": 0, "decision": 200}
    task = NeuroGymTask(NeuroGymConfig(env="PerceptualDecisionMaking-v0", env_kwargs={"dim_ring": 3}, timing=timing))
    trials = task.make_trials(6, torch.Generator().manual_seed(0))
    perfect = 1.2 * trials.targets[..., 1:]  # sample m at (m + 1)·5 ms; above the threshold's margin
    assert readout_loss(trials.targets[..., 1:], trials.targets) == 0
    assert window_loss(perfect, trials.targets, task) == 0
    swapped = perfect.roll(1, dims=1)  # the answer on the wrong output
    assert window_loss(swapped, trials.targets, task) > 0 and readout_loss(swapped, trials.targets) > 0
