"""Every experiment config of conf/experiment/ composes and validates, and says what its figure needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from spikernn.apps.config import build_run_config, config_dir, plain

EXPERIMENTS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))


def run_config(*overrides: str, command: str = "run"):
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        cfg = compose(command, overrides=list(overrides))
    return plain(cfg), build_run_config(plain(cfg))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_validates(name: str) -> None:
    """For spikernn-run, for spikernn-train (which has no conversion groups: an experiment that
    overrides /transfer must still compose there) and for spikernn-convert."""
    raw, config = run_config(f"experiment={name}")
    assert config.model.n_units > 0 and raw["logger"]["experiment_name"]
    _, trained = run_config(f"experiment={name}", command="train")
    assert trained.model == config.model and trained.trainer == config.trainer
    # spikernn-convert takes the preset's task, spiking and transfer settings (its training ones go unused)
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        converting = plain(compose("convert", overrides=[f"experiment={name}", "source=model.pt"]), allow_missing=True)
    assert converting["spiking"] == raw["spiking"] and converting["transfer"] == raw["transfer"]
    assert converting.get("task") in (None, raw["task"]) and converting["logger"] == raw["logger"]


def test_adaptive_presets_race_the_reference_or_the_wide_grid() -> None:
    _, reference = run_config("transfer=adaptive")
    _, wide = run_config("experiment=gonogo_n250_robust", "transfer=adaptive_wide")
    assert reference.transfer.search == wide.transfer.search == "adaptive"
    assert reference.transfer.scaling_factors is None  # the activation's reference grid
    assert len(wide.transfer.scaling_factors) == 16 and wide.transfer.round_trials == 16


def test_fig2de_spans_fixed_and_long_decay_constants() -> None:
    _, fixed = run_config("experiment=fig2de", "model.tau_max_ms=null")
    _, longest = run_config("experiment=fig2de", "model.tau_max_ms=1000")
    assert fixed.model.taus_ms == [20.0]  # τ fixed at τ_min, not trained
    assert longest.model.taus_ms == [20.0, 1000.0]
    assert fixed.model.n_units == longest.model.n_units == 250


def test_robust_preset_changes_only_the_training_and_the_grid_of_the_fig7_networks() -> None:
    raw, robust = run_config("experiment=gonogo_n250_robust")
    _, fig7 = run_config("experiment=gonogo_n250")
    assert (robust.model.noise_std, robust.model.gain, robust.trainer.stopping.extra_trials) == (0.565, 1.589, 500)
    assert min(robust.transfer.scaling_factors) == 10 and max(robust.transfer.scaling_factors) == 75
    assert robust.model.taus_ms == fig7.model.taus_ms == [20.0, 50.0] and robust.model.n_units == 250
    assert robust.spiking == fig7.spiking  # the spiking network and its voltage noise stay SPEC's
    assert raw["logger"]["experiment_name"] == "gonogo_n250_robust"


def test_fig3_trains_mante_in_the_papers_mode() -> None:
    raw, config = run_config("experiment=fig3", "model.n_units=10")
    assert config.task.name == "mante" and config.model.taus_ms == [20.0, 50.0]
    assert (config.trainer.batch_size, config.trainer.learning_rate, config.trainer.max_trials) == (1, 0.01, 6000)
    assert raw["logger"]["experiment_name"] == "fig3"


def test_task_timing_is_set_from_the_command_line() -> None:
    """Task timing is a config key like any other (so a sweep can vary it); scoring follows it."""
    from spikernn.tasks import get_task

    raw, config = run_config("task=xor", "task.stim_duration_ms=200", "task.delay_ms=100")
    assert raw["task"]["trial_ms"] == 1500.0 and config.task.stim_duration_ms == 200.0
    assert get_task(config.task).scoring_window("spiking").from_ms == 950.0
    _, default = run_config()
    assert default.task == get_task("go_nogo").config and str(default.task) == "go_nogo"


def test_initial_weights_control_is_a_config_key() -> None:
    _, config = run_config("transfer.use_initial_weights=true")
    assert config.transfer.use_initial_weights is True
    assert run_config()[1].transfer.use_initial_weights is False
