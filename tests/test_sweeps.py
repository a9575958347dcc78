"""Optuna sweeps through Hydra (hydra/sweeper=spikernn_optuna): pruning, nested MLflow runs,
resuming a killed sweep, and two worker processes sharing one study."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

TINY_TRAINING = [
    "model.n_units=20",
    "trainer.n_trials=100",
    "trainer.batch_size=20",
    "trainer.progress_bar=false",
    "eval_trials=4",
]
STUDY = "test-study"


def environment(out: Path) -> dict:
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(out)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model")
    proc = subprocess.run(
        [sys.executable, "-m", "spikernn.apps.train", *TINY_TRAINING],
        capture_output=True,
        text=True,
        env=environment(out),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (model,) = (out / "runs" / "train").glob("*/rate_model.pt")
    return model


def sweep_command(model: Path, n_trials: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "spikernn.apps.convert",
        "-m",
        "hparams_search=scaling_factor",
        f"source={model}",
        f"hydra.sweeper.study_name={STUDY}",
        f"hydra.sweeper.n_trials={n_trials}",
        "transfer.n_trials=8",
        "transfer.report_every_trials=2",
        "eval_trials=4",
        *extra,
    ]


def study_of(out: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{out / 'optuna.db'}")


def mlflow_runs(out: Path, filter_string: str) -> list:
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("spikernn")
    return client.search_runs([experiment.experiment_id], filter_string=filter_string, max_results=1000)


def test_factor_sweep_nests_trial_runs_under_one_parent(tmp_path: Path, tiny_model: Path) -> None:
    proc = subprocess.run(
        sweep_command(tiny_model, 6), capture_output=True, text=True, env=environment(tmp_path), timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = study_of(tmp_path)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(study.trials) == len(finished) == 6
    (parent,) = mlflow_runs(tmp_path, "tags.command = 'sweep'")
    assert parent.info.status == "FINISHED" and parent.data.tags["optuna_study"] == STUDY
    children = mlflow_runs(tmp_path, f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(int(c.data.tags["optuna_trial"]) for c in children) == list(range(6))
    by_trial = {int(c.data.tags["optuna_trial"]): c for c in children}
    for trial in study.trials:
        child = by_trial[trial.number]
        assert child.data.tags["optuna_state"] == trial.state.name
        assert float(child.data.params["transfer.scaling_factors"]) == trial.params["transfer.scaling_factors"]
        if trial.state == TrialState.COMPLETE:
            assert child.data.metrics["lif_accuracy"] == trial.value
    best = study.best_trial
    assert parent.data.metrics["best_value"] == best.value
    assert float(parent.data.tags["best.transfer.scaling_factors"]) == best.params["transfer.scaling_factors"]


def test_pruned_trials_stop_early_and_are_counted_as_pruned(tmp_path: Path, tiny_model: Path) -> None:
    """A pruner that stops every trial at its first report: each trial scores 2 of its 8 trials."""
    always = ["optuna.pruner._target_=optuna.pruners.ThresholdPruner", "~optuna.pruner.percentile",
              "~optuna.pruner.n_startup_trials", "+optuna.pruner.lower=1.5"]  # fmt: skip
    proc = subprocess.run(
        sweep_command(tiny_model, 3, *always), capture_output=True, text=True, env=environment(tmp_path), timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = study_of(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 3
    assert all(list(t.intermediate_values) == [2] for t in study.trials)
    for child in mlflow_runs(tmp_path, "tags.optuna_state = 'PRUNED'"):
        summary = json.loads(Path(child.data.tags["run_folder"], "summary.json").read_text())
        assert summary["pruned"] is True and summary["search_trials"] == 2 and summary["lif_accuracy"] is None


def _wait_for(predicate, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _trials(out: Path) -> list[optuna.trial.FrozenTrial]:
    """The study's trials so far ([] while the sweep has not created it yet)."""
    if not (out / "optuna.db").exists():
        return []
    try:
        return study_of(out).trials
    except (KeyError, SQLAlchemyError):  # not created yet, or the sweep is creating the schema right now
        return []


def _finished(out: Path) -> dict[int, tuple]:
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    return {t.number: (t.params, t.value, t.state) for t in _trials(out) if t.state in done}


def test_killed_sweep_resumes_without_losing_or_duplicating_trials(tmp_path: Path, tiny_model: Path) -> None:
    command = sweep_command(tiny_model, 6, "transfer.n_trials=40", "transfer.report_every_trials=10")
    first = subprocess.Popen(
        command, env=environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    _wait_for(lambda: len(_finished(tmp_path)) >= 2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = _finished(tmp_path)
    assert 2 <= len(before) < 6

    proc = subprocess.run(command, capture_output=True, text=True, env=environment(tmp_path), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = _finished(tmp_path)
    assert len(after) == 6
    assert {n: after[n] for n in before} == before  # finished trials kept as they were
    study = study_of(tmp_path)
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    failed = [t for t in study.trials if t.state == TrialState.FAIL]  # the trial the kill interrupted, if any
    assert len(failed) <= 1
    (parent,) = mlflow_runs(tmp_path, "tags.command = 'sweep'")  # the resumed sweep reuses its parent run
    assert parent.info.status == "FINISHED"


def test_two_workers_share_one_study(tmp_path: Path, tiny_model: Path) -> None:
    """A first one-trial run creates the study and its parent run; then two workers started
    together share the remaining budget of the same command."""
    settings = ("transfer.n_trials=20", "transfer.report_every_trials=10")
    setup = subprocess.run(
        sweep_command(tiny_model, 1, *settings), capture_output=True, text=True, env=environment(tmp_path), timeout=600
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    command = sweep_command(tiny_model, 11, *settings)
    workers = [
        subprocess.Popen(command, env=environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err.decode()[-3000:]
    study = study_of(tmp_path)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert 11 <= len(finished) <= 12  # two workers racing for the last slot may both take it
    assert len({t.user_attrs["worker"] for t in study.trials}) == 3  # the setup run and both workers
    assert len(mlflow_runs(tmp_path, "tags.command = 'sweep'")) == 1
    children = mlflow_runs(tmp_path, "tags.command = 'spikernn-convert'")
    assert sorted(int(c.data.tags["optuna_trial"]) for c in children) == [t.number for t in study.trials]


def test_trials_of_a_dead_sweep_are_failed_and_queued_again(tmp_path: Path) -> None:
    from hydra_plugins.spikernn_sweeper.sweeper import counted_trials, recover_stale_trials

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'o.db'}", direction="maximize")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    orphan.set_user_attr("worker", f"{os.uname().nodename}:{int(dead.stdout)}")
    alive = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    alive.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
    assert recover_stale_trials(study) == [orphan.number]
    states = {t.number: t.state for t in study.trials}
    assert states == {orphan.number: TrialState.FAIL, alive.number: TrialState.RUNNING, 2: TrialState.WAITING}
    assert counted_trials(study) == 1  # the live worker's trial counts against the budget; the failed one not
    retry = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert retry.params["x"] == orphan.params["x"] and retry.user_attrs["retry_of"] == orphan.number


def test_grid_sweep_covers_its_grid_and_finishes(tmp_path: Path, tiny_model: Path) -> None:
    """hparams_search=refractory uses Optuna's grid sampler, which asks the study to stop once the
    grid is covered; the sweep must still end cleanly, and a re-run finds nothing left to do."""
    command = [
        sys.executable, "-m", "spikernn.apps.convert", "-m", "hparams_search=refractory", f"source={tiny_model}",
        "spiking.t_ref_ms=choice(0.0,2.0,10.0)", "transfer.scaling_factors=[20]", "transfer.n_trials=4",
        "eval_trials=4",
    ]  # fmt: skip
    for _ in range(2):
        proc = subprocess.run(command, capture_output=True, text=True, env=environment(tmp_path), timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    (summary,) = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'optuna.db'}")
    study = optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert sorted(t.params["spiking.t_ref_ms"] for t in study.trials) == [0.0, 2.0, 10.0]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
