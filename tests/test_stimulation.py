"""Optogenetic-style stimulation from the command line (``spikernn-evaluate stimulation=exc|inh``):
the config reaches the evaluation, and stimulating changes what the network does."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from spikernn.apps.command import validate
from spikernn.apps.config import config_dir
from spikernn.io import ModelInfo, save_rate_model
from spikernn.pipeline import evaluate_stage
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.spiking import Stimulation
from spikernn.tasks import get_task


def _converted(tmp_path: Path) -> Path:
    model = RateRNN(RateRNNConfig(n_units=20), seed=0)
    return save_rate_model(tmp_path / "converted_model.pt", model, ModelInfo(task="go_nogo", scaling_factor=30.0))


def test_stimulation_from_the_command_line_reaches_the_evaluation(tmp_path: Path) -> None:
    source = _converted(tmp_path)
    overrides = [
        f"source={source}",
        f"paths.output_dir={tmp_path / 'out'}",
        "stimulation=inh",
        "stimulation.units=[0,1,2]",
        "stimulation.start_ms=500",
        "stimulation.stop_ms=800",
    ]
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        cfg = validate(compose("evaluate", overrides=overrides), "evaluate")
        plain = validate(compose("evaluate", overrides=[f"source={source}"]), "evaluate")
    assert cfg.stimulation == Stimulation(mode="inh", units=[0, 1, 2], start_ms=500.0, stop_ms=800.0)
    assert plain.stimulation is None


def test_inhibiting_every_unit_silences_the_network(tmp_path: Path) -> None:
    """Strong inhibition of all units for the whole trial in every trial: (almost) no spikes, while
    the same trials without it have the network's usual rates."""
    source = _converted(tmp_path)
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        cfg = validate(compose("evaluate", overrides=[f"source={source}", "eval_trials=4"]), "evaluate")
    task = get_task("go_nogo")
    silence = Stimulation(
        mode="inh", units=list(range(20)), start_ms=0.0, stop_ms=1000.0, amplitude_mv=20.0, probability=1.0
    )
    args = (cfg.source.model, task, cfg, 30.0)
    (tmp_path / "free").mkdir()
    (tmp_path / "inhibited").mkdir()
    free = evaluate_stage(*args, tmp_path / "free").score
    inhibited = evaluate_stage(*args, tmp_path / "inhibited", stimulation=silence).score
    assert free.lif_exc_hz > 1.0
    assert inhibited.lif_exc_hz < 0.1 * free.lif_exc_hz and inhibited.lif_inh_hz < 0.1 * free.lif_inh_hz
