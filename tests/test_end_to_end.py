"""End to end on CPU: a small Go-NoGo network trains to the paper's criterion, converts, and the
spiking network solves the task."""

from __future__ import annotations

import torch

from spikernn.rate import RateRNNConfig
from spikernn.rate.training import TrainerConfig, train_rate_model
from spikernn.scoring import evaluate_spiking
from spikernn.tasks import get_task
from spikernn.transfer import search_scaling_factor, to_spiking
from spikernn.transfer_config import SIGMOID_GRID


def test_small_go_nogo_network_trains_converts_and_solves_the_task() -> None:
    task = get_task("go_nogo")
    model, record = train_rate_model(
        task,
        RateRNNConfig(n_units=200),
        TrainerConfig(max_trials=3000, progress_bar=False),
        seed=0,
    )
    assert record.trained and record.trials_to_criterion > task.min_training_trials
    assert record.eval_accuracy[-1] > 0.95 and record.eval_loss[-1] < 7

    # Dale's principle and the mask survive training; W_in and τ bounds are untouched
    w = model.effective_weights().detach()
    assert torch.all(w[:, ~model.inhibitory] >= 0) and torch.all(w[:, model.inhibitory] <= 0)
    assert torch.all(model.taus_ms() >= 20) and torch.all(model.taus_ms() <= 100)
    assert not torch.equal(model.tau_raw, model.tau_raw0)  # τ is trained

    network = to_spiking(model)
    g = torch.Generator().manual_seed(0)
    search = search_scaling_factor(network, task, SIGMOID_GRID, trials_per_factor=50, generator=g)
    assert search.best_accuracy >= 0.9
    evaluation = evaluate_spiking(network, task, search.best_factor, 100, g)
    assert evaluation.lif_accuracy >= 0.9
    assert 0 < evaluation.lif_exc_hz < 100 and 0 < evaluation.lif_inh_hz < 200

    # the adaptive search (transfer=adaptive) on the same network: fewer trials, a factor that works
    race = search_scaling_factor(network, task, SIGMOID_GRID, 100, torch.Generator().manual_seed(1), search="adaptive")
    assert race.trials_simulated <= 12 * 16 + 6 * 16 + 3 * 16 + 2 * 16 < 12 * 100
    raced = evaluate_spiking(network, task, race.best_factor, 100, torch.Generator().manual_seed(2))
    assert raced.lif_accuracy >= 0.9
