"""A user's own task (issue 34): defined outside spikernn (docs/examples/delayed_go.py), named by the
``task`` group's ``_target_`` (docs/examples/conf/task/delayed_go.yaml), trained, converted and scored
like the paper's tasks; a bad ``_target_`` is refused naming the key, before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spikernn.tasks import TASK_CONFIGS, TASKS, get_task
from spikernn.tasks.registry import load_task_class
from spikernn.validation import ConfigError
from tiny import TINY_RUN

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
SEARCHPATH = f"hydra.searchpath=[file://{EXAMPLES / 'conf'}]"
TINY = [*TINY_RUN, "allow_untrained=true"]


def command(name: str, args: list[str], out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(out), "PYTHONPATH": str(EXAMPLES)}
    env.pop("MLFLOW_TRACKING_URI", None)
    argv = [sys.executable, "-m", f"spikernn.apps.{name}", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)


def test_the_users_task_is_scored_by_spikernns_rules(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    cls = load_task_class("delayed_go.DelayedGo")
    assert TASKS["delayed_go"] is cls and TASK_CONFIGS["delayed_go"] is cls.Config
    task = get_task(cls.Config(delay_ms=200.0))
    trials = task.make_trials(64, torch.Generator().manual_seed(0))
    assert trials.inputs.shape == (64, 201, 2) and task.n_inputs == 2
    go = trials.labels == 1
    assert torch.equal(trials.inputs[:, 20:45, 0].amax(1), go.float())  # the cue on [100, 225) ms, Go only
    assert torch.all(trials.inputs[:, 85:95, 1] == 1)  # the go signal on [425, 475) ms, every trial
    assert torch.equal(trials.targets[:, 95:].amax(1), go.float()) and task.response_onset_ms == 475.0
    assert task.accuracy(trials.targets[:, 1:], trials.labels, task.step_ms, "rate") == 1.0  # the target solves it
    silent = torch.zeros_like(trials.targets[:, 1:])
    assert task.accuracy(silent, trials.labels, task.step_ms, "rate") == pytest.approx(1 - go.double().mean().item())
    with pytest.raises(ConfigError, match="stimulus, response and scoring must fit the trial"):
        cls.Config(delay_ms=900.0)


def test_a_users_task_trains_converts_and_is_needed_to_convert_its_model(tmp_path: Path) -> None:
    run = command("run", [SEARCHPATH, "task=delayed_go", "task.delay_ms=200", *TINY], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["task"] == "delayed_go" and summary["lif_accuracy"] is not None
    model_file = Path(summary["run_folder"]) / "rate_model.pt"
    bare = command("convert", [f"source={model_file}", "allow_untrained=true"], tmp_path)
    assert bare.returncode == 2 and "trained on 'delayed_go', not one of spikernn's tasks" in bare.stderr
    assert "task=delayed_go" in bare.stderr
    tiny_conversion = [*TINY[3:6], "allow_untrained=true"]
    other = command("convert", [f"source={model_file}", SEARCHPATH, "task=delayed_go", *tiny_conversion], tmp_path)
    assert other.returncode == 2 and "task.delay_ms=200.0 (given 300.0)" in other.stderr  # not the trials it learnt
    given = [f"source={model_file}", SEARCHPATH, "task=delayed_go", "task.delay_ms=200", *tiny_conversion]
    converted = command("convert", given, tmp_path)
    assert converted.returncode == 0, converted.stderr[-3000:]
    assert json.loads(converted.stdout)["task"] == "delayed_go"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nowhere.Task", "task._target_: cannot import 'nowhere'"),
        ("delayed_go.Missing", "task._target_ must name a class as package.module.Class"),
        ("delayed_go.DelayedGoConfig", "is not a spikernn.tasks.Task subclass with a Config"),
        ("spikernn.tasks.go_nogo.GoNoGo", "task.name must be 'go_nogo', the name of task._target_"),
    ],
)
def test_a_bad_task_target_is_refused_naming_the_key(tmp_path: Path, target: str, message: str) -> None:
    proc = command("run", [SEARCHPATH, "task=delayed_go", f"task._target_={target}", *TINY], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
    assert not list(tmp_path.iterdir())  # refused before anything is written
