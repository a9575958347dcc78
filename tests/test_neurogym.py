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
        ({"env_kwargs": {"dim_ring": 3}}, "has 3 choices (decision actions [1, 2, 3]); one readout decodes two"),
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
