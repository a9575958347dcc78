"""Population training: the fused kernel computes torch's gradients, and each member of a
population ends exactly as the same network trained alone."""

from __future__ import annotations

import pytest
import torch

from rate_gradients import loss_and_grads
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.fused_op import stacked_readout
from spikernn.rate.training import TrainerConfig, train_population, train_rate_model
from spikernn.tasks import get_task


@pytest.mark.parametrize("activation", ["sigmoid", "softplus", "clipped_relu"])
def test_fused_kernel_matches_autograd_in_float64(activation: str) -> None:
    """Readout and every parameter's gradient (W through Dale's rectification and mask, w_out,
    b_out, τ through its sigmoid) agree with torch's graph to float64 precision."""
    task = get_task("go_nogo")
    model = RateRNN(RateRNNConfig(n_units=24, activation=activation, taus_ms=[20.0, 50.0], gain=3.0), seed=1).double()
    trials = task.make_trials(3, torch.Generator().manual_seed(2))
    inputs, targets = trials.inputs.double(), trials.targets.double()
    ref_out, ref = loss_and_grads(model, inputs, targets, fused=False)
    out, got = loss_and_grads(model, inputs, targets, fused=True)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    assert set(got) == {"w", "w_out", "b_out", "tau_raw"}
    for name in got:
        torch.testing.assert_close(got[name], ref[name], rtol=1e-8, atol=1e-12, msg=name)
        assert ref[name].abs().max() > 0, name


def test_fused_forward_without_gradient_equals_the_trajectory_kernel() -> None:
    model = RateRNN(RateRNNConfig(n_units=16), seed=0)
    task = get_task("go_nogo")
    trials = task.make_trials(4, torch.Generator().manual_seed(0))
    drive = model.drive(trials.inputs)
    xi, x0 = model.draw_noise(4, drive.shape[1], True, torch.Generator().manual_seed(1))
    with_grad = stacked_readout([model], drive[None], xi[None], x0[None], grad=True)
    without = stacked_readout([model], drive[None], xi[None], x0[None], grad=False)
    assert torch.equal(with_grad.detach(), without)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_members_of_a_population_equal_networks_trained_alone(batch_size: int) -> None:
    """Three members with different seeds and activations, trained together, end bit for bit like
    each trained alone (weights, τ, readout, criterion history, trials to criterion); a member
    that meets the criterion stops changing while the others go on."""
    task = get_task("go_nogo")
    training = TrainerConfig(max_trials=1800, batch_size=batch_size, learning_rate=0.03, progress_bar=False)
    members = [
        (RateRNNConfig(n_units=30, taus_ms=[20.0, 50.0]), 11),
        (RateRNNConfig(n_units=30, taus_ms=[20.0, 50.0], activation="softplus"), 12),
        # gain 1 and state noise 20× SPEC's: this member cannot meet the criterion in the budget, so
        # the others stop while it goes on on any CPU (float sums, and so the trials at which the
        # other two stop, differ between CPUs: on one AMD EPYC all of the earlier three stopped at 1600)
        (RateRNNConfig(n_units=30, taus_ms=[20.0, 50.0], gain=1.0, noise_std=2.0), 13),
    ]
    together = train_population(task, members, training)
    for (config, seed), member in zip(members, together, strict=True):
        alone, record = train_rate_model(task, config, training, seed=seed)
        assert member.record == record
        for name, value in alone.state_dict().items():
            assert torch.equal(value, member.model.state_dict()[name]), (seed, name)
    stopped = [m.record.trials_to_criterion for m in together]
    assert any(s is not None for s in stopped), stopped  # at least one member met the criterion…
    assert len(set(stopped)) > 1, stopped  # … at a different point than another
    assert stopped[2] is None and together[2].record.trials_seen[-1] == training.max_trials


def test_a_member_that_fails_does_not_stop_the_others(monkeypatch) -> None:
    task = get_task("go_nogo")
    training = TrainerConfig(max_trials=200, batch_size=2, progress_bar=False)
    broken = RateRNNConfig(n_units=20, noise_std=0.25)  # fault injected below: its state noise turns NaN
    draw_noise = RateRNN.draw_noise

    def faulty(self, batch, n_steps, noise=True, generator=None, out=None):
        xi, x0 = draw_noise(self, batch, n_steps, noise, generator, out)
        if self.config.noise_std == 0.25:
            xi.fill_(float("nan"))  # in place: the population hands each member its slice of one buffer
        return xi, x0

    monkeypatch.setattr(RateRNN, "draw_noise", faulty)
    results = train_population(task, [(RateRNNConfig(n_units=20), 0), (broken, 1)], training)
    healthy, failed = results
    assert healthy.record.failure is None and healthy.record.trials_seen == [100, 200]
    assert failed.record.failure == "non-finite training loss at trial 2"
    assert failed.record.trials_seen == [] and torch.equal(failed.model.w, failed.model.w0)
    alone, _ = train_rate_model(task, RateRNNConfig(n_units=20), training, seed=0)
    assert torch.equal(alone.w, healthy.model.w)


def test_population_needs_one_network_size() -> None:
    from spikernn.validation import ConfigError

    with pytest.raises(ConfigError, match="model.n_units"):
        train_population(
            get_task("go_nogo"),
            [(RateRNNConfig(n_units=20), 0), (RateRNNConfig(n_units=30), 1)],
            TrainerConfig(max_trials=10, progress_bar=False),
        )


def test_extra_trials_go_on_past_the_criterion_then_stop() -> None:
    """With ``extra_trials`` a member that met the criterion keeps its trials to criterion, trains on
    for exactly that many trials (its weights change), then stops while the budget is not spent."""
    from spikernn.rate.criterion import StoppingRule

    task = get_task("go_nogo")
    config = RateRNNConfig(n_units=30, taus_ms=[20.0, 50.0])
    plain = TrainerConfig(max_trials=2600, learning_rate=0.03, progress_bar=False)
    extra = TrainerConfig(
        max_trials=2600, learning_rate=0.03, progress_bar=False, stopping=StoppingRule(extra_trials=300)
    )
    base, base_record = train_rate_model(task, config, plain, seed=11)
    longer, record = train_rate_model(task, config, extra, seed=11)
    assert base_record.trained and record.trained
    assert record.trials_to_criterion == base_record.trials_to_criterion
    assert record.trials_seen[-1] == base_record.trials_to_criterion + 300
    assert not torch.equal(base.w, longer.w)
