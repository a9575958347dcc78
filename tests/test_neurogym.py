"""NeuroGym tasks (issue 34): the environment's trials at the 5-ms step as inputs and targets, its
choices as trial types, a bad environment or timing refused naming the key, and a network trained on
PerceptualDecisionMaking that its LIF conversion solves (``experiment=neurogym_pdm``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import neurogym
import numpy as np
import pytest
import torch

from spikernn.tasks.neurogym_env import NeuroGymConfig, NeuroGymTask
from spikernn.validation import ConfigError

PDM = {"fixation": 100, "stimulus": 300, "delay": 0, "decision": 200}


def test_trials_are_the_environments_at_the_rate_models_step() -> None:
    """Inputs are the environment's observations (same trial: same seed, same ground truth); the
    target is 0 until the decision period and the chosen side's level (−1 / +1) in it."""
    task = NeuroGymTask(NeuroGymConfig(env="PerceptualDecisionMaking-v0", timing=PDM))
    assert (task.n_steps, task.n_inputs, task.response_onset_ms) == (120, 3, 400.0)
    assert task.condition_names == ("choice 0", "choice 1") and task.levels == {1: -1.0, 2: 1.0}
    assert task.config.label == "PerceptualDecisionMaking" and str(task.config) == "neurogym"  # run names, tags
    conditions = torch.tensor([0, 1, 1, 0])
    trials = task.make_trials(4, torch.Generator().manual_seed(3), conditions=conditions)
    assert trials.inputs.shape == (4, 121, 3) and trials.targets.shape == (4, 120)
    assert trials.labels.tolist() == [-1.0, 1.0, 1.0, -1.0]
    onset = task.steps(task.response_onset_ms)
    assert not trials.targets[:, :onset].any()
    assert torch.equal(trials.targets[:, onset:], trials.labels[:, None].expand(4, 120 - onset))
    seed = torch.randint(0, 2**31 - 1, (4,), generator=torch.Generator().manual_seed(3))[1].item()
    env = neurogym.make("PerceptualDecisionMaking-v0", dt=5, timing=PDM).unwrapped
    env.rng = np.random.RandomState(seed)
    env.new_trial(ground_truth=1)
    assert np.allclose(trials.inputs[1, :120].numpy(), env.ob) and not trials.inputs[:, 120].any()
    again = task.make_trials(4, torch.Generator().manual_seed(3), conditions=conditions)
    assert torch.equal(again.inputs, trials.inputs)  # reproducible from the run's generator


def test_a_respond_or_withhold_task_is_scored_as_go_nogo() -> None:
    task = NeuroGymTask(NeuroGymConfig(env="GoNogo-v0"))
    assert task.condition_names == ("NoGo", "Go") and task.levels == {0: 0.0, 1: 1.0}
    trials = task.make_trials(2, torch.Generator().manual_seed(0), conditions=torch.tensor([0, 1]))
    assert trials.targets[0].abs().sum() == 0 and trials.targets[1].max() == 1.0
    window = task.scoring_window("rate")
    peaks = torch.tensor([0.9, 0.9])
    assert task.correct(peaks, peaks, peaks, trials.labels, window).tolist() == [False, True]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"env": "NoSuchTask-v0"}, "task.env: cannot make 'NoSuchTask-v0'"),
        ({"env": "ContextDecisionMaking-v0"}, "task.timing.delay: ContextDecisionMaking-v0 draws this period's"),
        ({"env_kwargs": {"dt": 10}}, "task.env_kwargs.dt: set by spikernn"),
        ({"timing": {"stimulus": 333}}, "task.timing.stimulus must be a duration in ms, a multiple of 5"),
        ({"decision_period": "stimulus"}, "task.decision_period: 'stimulus' of PerceptualDecisionMaking-v0 must"),
        ({"timing": {**PDM, "decision": 100}, "spiking_score_delay_ms": 100.0}, "must fit the trial in this order"),
    ],
)
def test_a_bad_environment_or_timing_is_refused_naming_the_key(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        NeuroGymConfig(**settings)
    assert message in str(err.value)


def test_three_choices_get_a_readout_each_trained_towards_one_on_the_answer() -> None:
    task = NeuroGymTask(NeuroGymConfig(env="PerceptualDecisionMaking-v0", env_kwargs={"dim_ring": 3}, timing=PDM))
    assert (task.n_inputs, task.n_outputs, task.chance_accuracy) == (4, 3, pytest.approx(1 / 3))
    assert task.condition_names == ("choice 0", "choice 1", "choice 2")
    trials = task.make_trials(6, torch.Generator().manual_seed(0), conditions=torch.tensor([0, 1, 2, 2, 1, 0]))
    assert trials.targets.shape == (6, 3, 120) and trials.labels.tolist() == [0, 1, 2, 2, 1, 0]
    onset = task.steps(task.response_onset_ms)
    assert not trials.targets[..., :onset].any()
    expected = torch.nn.functional.one_hot(trials.labels, 3).float()[..., None].expand(6, 3, 120 - onset)
    assert torch.equal(trials.targets[..., onset:], expected)
    perfect = trials.targets[..., :-1]  # a rate readout on the 5-ms grid
    assert task.score(perfect, trials.labels, task.step_ms, "rate").all()
    assert not task.score(perfect.roll(1, dims=1), trials.labels, task.step_ms, "rate").any()


def test_a_three_choice_network_runs_end_to_end_and_its_logged_models_read_three_outputs(tmp_path: Path) -> None:
    """A tiny untrained network (allowed): the run converts it, flags an accuracy below chance 1/3,
    draws an axis per output and logs MLflow models whose input example and output are the task's
    (four inputs with dim_ring = 3, three outputs), loadable in this process; ``spikernn-evaluate``
    given only the model file scores it on the same trials (the file's task settings)."""
    import mlflow

    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    argv = [
        sys.executable, "-m", "spikernn.apps.run", "experiment=neurogym_pdm3", "model.n_units=30",
        "trainer.max_trials=32", "allow_untrained=true", "eval_trials=12", "transfer.trials_per_factor=6",
        "transfer.scaling_factors=[20,40]",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = Path(json.loads(proc.stdout)["run_folder"])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["chance_accuracy"] == pytest.approx(1 / 3)
    assert (
        "chance_lif_accuracy" in summary["warnings"] and "(0.333" in summary["warning_messages"]["chance_lif_accuracy"]
    )
    assert set(summary["lif_accuracy_by_condition"]) == {"choice 0", "choice 1", "choice 2"}
    assert (folder / "readout_rate_vs_lif.png").is_file()
    model_file = folder / "converted_model.pt"
    evaluate = [sys.executable, "-m", "spikernn.apps.evaluate", f"source={model_file}", "eval_trials=12"]
    again = subprocess.run(evaluate, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]  # no task given: the file's stored settings
    assert json.loads(again.stdout)["lif_accuracy"] == summary["lif_accuracy"]  # the run's trials again
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    inputs = np.zeros((2, 181, 4), dtype=np.float32)  # the preset's 900-ms trial on the 5-ms grid, 4 inputs
    for name, steps in (("rate_model", 179), ("spiking_model", 18000)):
        model = mlflow.pyfunc.load_model(f"runs:/{summary['mlflow_run_id']}/{name}")
        assert model.metadata.get_input_schema().inputs[0].shape == (-1, 181, 4)
        assert model.predict(inputs, params={"noise": False}).shape == (2, 3, steps), name


def test_a_bad_environment_on_the_command_line_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(tmp_path / "out")}
    env.pop("MLFLOW_TRACKING_URI", None)
    argv = [sys.executable, "-m", "spikernn.apps.run", "task=neurogym", "task.env=ContextDecisionMaking-v0"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "task.timing.delay" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "out").exists()


@pytest.mark.long  # ~30-60 s: trains and converts an N = 200 network
def test_a_perceptual_decision_network_trains_and_its_lif_conversion_solves_it(tmp_path: Path) -> None:
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    argv = [sys.executable, "-m", "spikernn.apps.run", "experiment=neurogym_pdm", "logger.log_models=false"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["task"] == "neurogym" and summary["trained"] is True
    assert summary["lif_accuracy"] >= 0.9, summary  # 200 fresh trials; chance is 0.5
    folder = Path(summary["run_folder"])
    assert (folder / "raster_choice_0.png").is_file() and (folder / "readout_rate_vs_lif.png").is_file()
