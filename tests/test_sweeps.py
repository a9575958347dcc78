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

from tiny import TINY_TRAINING, command_environment

STUDY = "test-study"


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
        "transfer.trials_per_factor=8",
        "transfer.report_every_trials=2",
        "eval_trials=4",
        *extra,
    ]


def study_of(out: Path, prefix: str = STUDY) -> optuna.Study:
    """The study of the sweep named ``prefix`` (its name ends with a hash of the sweep's settings)."""
    storage = f"sqlite:///{out / 'optuna.db'}"
    (name,) = [s.study_name for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith(f"{prefix} [")]
    return optuna.load_study(study_name=name, storage=storage)


@pytest.mark.parametrize(
    ("search", "source", "name"),
    [
        (
            "refractory",
            "/data/outputs/runs/train/2026-11-30_10-00-00_1/rate_model.pt",
            "refractory 2026-11-30_10-00-00_1/rate_model.pt",
        ),
        ("scaling_factor", "models:/gonogo/3", "scaling_factor gonogo/3"),
        ("spiking", "0123456789abcdef0123456789abcdef", "spiking run 01234567"),
    ],
)
def test_study_names_are_readable(search: str, source: str, name: str) -> None:
    """A study (and its MLflow parent run) is named after the search and a short label of the model,
    not its absolute path; the sweeper appends the settings' hash (source included)."""
    from hydra import compose, initialize_config_dir

    import spikernn.sweeps  # noqa: F401 - registers the label resolver, as the commands do
    from spikernn.apps.config import config_dir

    with initialize_config_dir(config_dir(), version_base=None):
        cfg = compose("convert", [f"hparams_search={search}", f"source={source}"], return_hydra_config=True)
    assert cfg.hydra.sweeper.study_name == name


def test_every_command_registers_the_study_name_resolver_before_hydra_runs() -> None:
    """The sweeper resolves ``hydra.sweeper.study_name`` (``${spikernn.source_label:…}``) before a
    command's own code runs: importing the command's module must register it (a lazy import once
    left ``spikernn-convert -m hparams_search=scaling_factor`` failing with "Unsupported
    interpolation type spikernn.source_label"). A fresh process, as a user starts a command."""
    check = (
        "import importlib; from omegaconf import OmegaConf\n"
        "for app in ('run', 'train', 'convert', 'evaluate', 'finetune'):\n"
        "    importlib.import_module(f'spikernn.apps.{app}')\n"
        "print(OmegaConf.has_resolver('spikernn.source_label'))"
    )
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr[-2000:]


def test_multi_objective_studies_name_each_metric() -> None:
    from spikernn.sweeps.names import name_metrics

    study = optuna.create_study(directions=["maximize", "minimize"])
    name_metrics(study, ["lif_accuracy", "N"])
    assert study.metric_names == ["lif_accuracy", "N"]


def mlflow_runs(out: Path, filter_string: str) -> list:
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("spikernn")
    return client.search_runs([experiment.experiment_id], filter_string=filter_string, max_results=1000)


@pytest.mark.long
def test_factor_sweep_nests_trial_runs_under_one_parent(tmp_path: Path, tiny_model: Path) -> None:
    proc = subprocess.run(
        sweep_command(tiny_model, 6), capture_output=True, text=True, env=command_environment(tmp_path), timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = study_of(tmp_path)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(study.trials) == len(finished) == 6
    assert study.metric_names == ["lif_accuracy"]  # optuna-dashboard's axis, not "Objective 0"
    (parent,) = mlflow_runs(tmp_path, "tags.command = 'sweep'")
    assert parent.info.status == "FINISHED" and parent.data.tags["optuna_study"] == study.study_name
    assert parent.data.tags["mlflow.runName"] == f"sweep {study.study_name}"
    children = mlflow_runs(tmp_path, f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(int(c.data.tags["optuna_trial"]) for c in children) == list(range(6))
    by_trial = {int(c.data.tags["optuna_trial"]): c for c in children}
    for trial in study.trials:
        child = by_trial[trial.number]
        assert child.data.tags["optuna_state"] == trial.state.name
        assert float(child.data.params["transfer.scaling_factor"]) == trial.params["transfer.scaling_factor"]
        if trial.state == TrialState.COMPLETE:
            assert child.data.metrics["lif_accuracy"] == trial.value
    best = study.best_trial
    assert parent.data.metrics["best_value"] == best.value
    assert float(parent.data.tags["best.transfer.scaling_factor"]) == best.params["transfer.scaling_factor"]
    # one row per trial on the parent, each with its value and its run; no key per swept value on a child
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    saved = json.loads(Path(client.download_artifacts(parent.info.run_id, "trials.json", str(tmp_path))).read_text())
    table = {name: [row[i] for row in saved["data"]] for i, name in enumerate(saved["columns"])}
    assert table["trial"] == list(range(6)) and table["state"] == [t.state.name for t in study.trials]
    # (MLflow writes a table's floats with 10 decimals)
    factors = [t.params["transfer.scaling_factor"] for t in study.trials]
    assert table["transfer.scaling_factor"] == pytest.approx(factors)
    assert table["mlflow_run_ids"] == [by_trial[t.number].info.run_id for t in study.trials]
    assert [v is None for v in table["lif_accuracy"]] == [t.value is None for t in study.trials]
    assert [v for v in table["lif_accuracy"] if v is not None] == pytest.approx(
        [t.value for t in study.trials if t.value is not None]
    )
    assert not [k for c in children for k in c.data.metrics if k.startswith("lif_accuracy_s")]
    assert not [k for c in children for k in c.data.params if k == "transfer.scaling_factors"]


def test_pruned_trials_stop_early_and_are_counted_as_pruned(tmp_path: Path, tiny_model: Path) -> None:
    """A pruner that stops every trial at its first report: each trial scores 2 of its 8 trials."""
    always = ["optuna.pruner._target_=optuna.pruners.ThresholdPruner", "~optuna.pruner.percentile",
              "~optuna.pruner.n_startup_trials", "+optuna.pruner.lower=1.5"]  # fmt: skip
    proc = subprocess.run(
        sweep_command(tiny_model, 3, *always),
        capture_output=True,
        text=True,
        env=command_environment(tmp_path),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = study_of(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 3
    assert all(list(t.intermediate_values) == [2] for t in study.trials)
    for child in mlflow_runs(tmp_path, "tags.optuna_state = 'PRUNED'"):
        summary = json.loads(Path(child.data.tags["run_folder"], "summary.json").read_text())
        assert (
            summary["pruned"] is True and summary["search_trials_per_factor"] == 2 and summary["lif_accuracy"] is None
        )


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
    except (KeyError, ValueError, SQLAlchemyError):  # no study yet, or the sweep is creating it right now
        return []


def _finished(out: Path) -> dict[int, tuple]:
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    return {t.number: (t.params, t.value, t.state) for t in _trials(out) if t.state in done}


@pytest.mark.long
def test_killed_sweep_resumes_without_losing_or_duplicating_trials(tmp_path: Path, tiny_model: Path) -> None:
    command = sweep_command(tiny_model, 6, "transfer.trials_per_factor=40", "transfer.report_every_trials=10")
    first = subprocess.Popen(
        command,
        env=command_environment(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait_for(lambda: len(_finished(tmp_path)) >= 2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = _finished(tmp_path)
    assert 2 <= len(before) < 6

    proc = subprocess.run(command, capture_output=True, text=True, env=command_environment(tmp_path), timeout=600)
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
    assert not mlflow_runs(tmp_path, "attributes.status = 'RUNNING'")  # the killed trial's run is closed
    states = {t.number: t.state.name for t in study.trials}
    for child in mlflow_runs(tmp_path, "attributes.status = 'KILLED'"):  # FAIL, or kept if its job had ended
        assert child.data.tags["optuna_state"] == states[int(child.data.tags["optuna_trial"])]
    counts = {state: sum(t.state == state for t in study.trials) for state in TrialState}
    assert parent.data.metrics["trials_complete"] == counts[TrialState.COMPLETE]
    assert parent.data.metrics["trials_fail"] == counts[TrialState.FAIL]
    # what the MLflow UI shows of the parent: the budget asked for last, the task, who and what made it
    assert parent.data.tags["n_trials"] == "6" and parent.data.tags["task"] == "go_nogo"
    assert parent.data.tags["mlflow.user"] and parent.data.tags["mlflow.source.type"] == "LOCAL"


@pytest.mark.slow  # two sweep commands at once: ~70 s on 2 cores (make test-slow)
def test_two_workers_share_one_study(tmp_path: Path, tiny_model: Path) -> None:
    """A first one-trial run creates the study and its parent run; then two workers started
    together share the remaining budget of the same command."""
    settings = ("transfer.trials_per_factor=20", "transfer.report_every_trials=10")
    setup = subprocess.run(
        sweep_command(tiny_model, 1, *settings),
        capture_output=True,
        text=True,
        env=command_environment(tmp_path),
        timeout=600,
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    command = sweep_command(tiny_model, 11, *settings)
    workers = [
        subprocess.Popen(command, env=command_environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


X = optuna.distributions.FloatDistribution(0, 1)


def test_trials_of_a_dead_sweep_are_failed_and_queued_again(tmp_path: Path) -> None:
    from hydra_plugins.spikernn_sweeper.sweeper import counted_trials, make_storage, recover_stale_trials

    study = optuna.create_study(
        storage=make_storage(f"sqlite:///{tmp_path / 'o.db'}", 60, None, 3), direction="maximize"
    )
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = study.ask({"x": X})
    orphan.set_user_attr("worker", f"{os.uname().nodename}:{int(dead.stdout)}")
    alive = study.ask({"x": X})
    alive.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
    finished = study.ask({"x": X})  # its job ended and recorded its value, the sweep died before telling
    finished.set_user_attr("worker", f"{os.uname().nodename}:{int(dead.stdout)}")
    finished.set_user_attr("result", [0.75])
    assert recover_stale_trials(study) == [orphan.number, finished.number]
    states = {t.number: t.state for t in study.trials}
    assert states == {0: TrialState.FAIL, 1: TrialState.RUNNING, 2: TrialState.COMPLETE, 3: TrialState.WAITING}
    assert study.trials[2].value == 0.75
    assert counted_trials(study) == 2  # the live worker's trial and the finished one; the failed one not
    retry = study.ask({"x": X})
    assert retry.params["x"] == orphan.params["x"]
    assert optuna.storages.RetryFailedTrialCallback.retried_trial_number(study.trials[retry.number]) == 0


def test_a_dead_sweeps_several_network_trial_keeps_its_result_only_if_every_network_finished(
    tmp_path: Path,
) -> None:
    from hydra_plugins.spikernn_sweeper.sweeper import make_storage, recover_stale_trials

    study = optuna.create_study(
        storage=make_storage(f"sqlite:///{tmp_path / 'o.db'}", 60, None, 3), direction="maximize"
    )
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    complete, partial = study.ask({"x": X}), study.ask({"x": X})
    for trial in (complete, partial):
        trial.set_user_attr("worker", f"{os.uname().nodename}:{int(dead.stdout)}")
        trial.set_user_attr("networks_per_trial", 3)
        trial.set_user_attr("converted_at", 0.95)
        trial.set_user_attr("result.0", [0.97])
        trial.set_user_attr("result.1", [None])  # a network without a LIF accuracy: not converted
    complete.set_user_attr("result.2", [0.99])
    assert recover_stale_trials(study) == [complete.number, partial.number]
    assert study.trials[complete.number].state == TrialState.COMPLETE
    assert study.trials[complete.number].value == pytest.approx(2 / 3)
    assert study.trials[partial.number].state == TrialState.FAIL  # network 2 never finished: run again
    assert study.trials[-1].state == TrialState.WAITING


def test_trial_of_a_sweep_on_another_machine_is_recovered_by_its_heartbeat(tmp_path: Path) -> None:
    from hydra_plugins.spikernn_sweeper.sweeper import make_storage, recover_stale_trials

    storage = make_storage(f"sqlite:///{tmp_path / 'o.db'}", 1, 2, 3)
    study = optuna.create_study(storage=storage, direction="maximize")
    lost, beating = study.ask({"x": X}), study.ask({"x": X})
    for trial in (lost, beating):
        trial.set_user_attr("worker", "another-host:1")  # not checkable here: only the heartbeat tells
        storage.record_heartbeat(trial._trial_id)
    time.sleep(3.2)
    storage.record_heartbeat(beating._trial_id)
    assert recover_stale_trials(study) == [lost.number]
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING]
    assert study.trials[2].params == lost.params


def test_seeded_sampler_does_not_replay_its_points_when_resumed(tmp_path: Path) -> None:
    """A resumed (or second) sweep process builds its sampler from the same seed: trial n draws
    from (seed, n), so it continues the sequence instead of repeating its start."""
    from hydra_plugins.spikernn_sweeper.sweeper import seed_per_trial

    def points(storage: str, name: str, n: int) -> list[float]:
        sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=10)
        seed_per_trial(sampler, 0)
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, load_if_exists=True)
        drawn = []
        for _ in range(n):
            trial = study.ask({"x": X})
            study.tell(trial, trial.params["x"])
            drawn.append(trial.params["x"])
        return drawn

    storage = f"sqlite:///{tmp_path / 'o.db'}"
    first, resumed = points(storage, "s", 3), points(storage, "s", 3)
    assert len(set(first + resumed)) == 6
    assert points(storage, "again", 6) == first + resumed  # reproducible from the seed


@pytest.mark.parametrize(
    "value", ["bob's model.pt", "a b", 'say "hi"', "back\\", "x\\'y", 'it\'s "both"', 30.5, 7, True, None]
)
def test_sweeper_writes_values_hydra_reads_back(value) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hydra_plugins.spikernn_sweeper.sweeper import hydra_value

    assert OverridesParser.create().parse_override(f"key={hydra_value(value)}").value() == value


def test_study_identity_is_the_settings_not_their_order() -> None:
    from hydra_plugins.spikernn_sweeper.sweeper import study_identity

    name, settings = study_identity("s", ["source=m.pt", "spiking.t_ref_ms=2"])
    assert name.startswith("s [") and settings == ["source=m.pt", "spiking.t_ref_ms=2"]
    assert study_identity("s", ["spiking.t_ref_ms=2", "source=m.pt", "logger.run_name=x"])[0] == name
    assert study_identity("s", ["source=m.pt", "spiking.t_ref_ms=10"])[0] != name


@pytest.mark.slow  # several sweep commands (minutes on 2 cores); make test-slow
def test_other_settings_start_another_study_and_quoted_paths_work(tmp_path: Path, tiny_model: Path) -> None:
    """The same sweep with another spiking.t_ref_ms must not reuse the first one's study; the
    model's path holds a quote and a space, which the sweeper passes on to its jobs intact."""
    model = tmp_path / "bob's model.pt"
    model.write_bytes(tiny_model.read_bytes())
    for t_ref in (2, 10):
        command = [*sweep_command(Path("x"), 1, f"spiking.t_ref_ms={t_ref}")]
        command[command.index("source=x")] = f'source="{model}"'
        proc = subprocess.run(command, capture_output=True, text=True, env=command_environment(tmp_path), timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    studies = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert len(studies) == 2 and all(s.n_trials == 1 for s in studies)
    runs = mlflow_runs(tmp_path, "tags.command = 'spikernn-convert'")
    assert sorted(float(r.data.params["spiking.t_ref_ms"]) for r in runs) == [2.0, 10.0]
    assert {r.data.tags["source"] for r in runs} == {str(model)}


@pytest.mark.slow  # several sweep commands (minutes on 2 cores); make test-slow
def test_nan_objectives_fail_and_too_many_failures_stop_the_sweep(tmp_path: Path, tiny_model: Path) -> None:
    """Objective rescored_accuracy is null (NaN) in every trial: nothing is re-scored (rescore_best 0)."""
    command = sweep_command(tiny_model, 10, "objective=rescored_accuracy", "hydra.sweeper.max_failures=2")
    proc = subprocess.run(command, capture_output=True, text=True, env=command_environment(tmp_path), timeout=600)
    assert proc.returncode != 0
    assert "sweep stopped: 2 trial(s) failed (hydra.sweeper.max_failures=2" in proc.stderr
    assert "is not 1 finite number(s)" in proc.stderr
    study = study_of(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2
    (parent,) = mlflow_runs(tmp_path, "tags.command = 'sweep'")
    assert parent.info.status == "FAILED" and parent.data.metrics["trials_fail"] == 2
    children = mlflow_runs(tmp_path, "tags.command = 'spikernn-convert'")
    assert [c.data.tags["optuna_state"] for c in children] == ["FAIL"] * 2


def test_sigterm_ends_a_sweep_killed_with_its_runs_closed(tmp_path: Path, tiny_model: Path) -> None:
    command = sweep_command(tiny_model, 6, "transfer.trials_per_factor=40", "transfer.report_every_trials=10")
    sweep = subprocess.Popen(
        command, env=command_environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _wait_for(lambda: len(_finished(tmp_path)) >= 1)
    time.sleep(1.0)
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 143, err.decode()[-3000:]
    (parent,) = mlflow_runs(tmp_path, "tags.command = 'sweep'")
    assert parent.info.status == "KILLED"
    assert not mlflow_runs(tmp_path, "attributes.status = 'RUNNING'")
    study = study_of(tmp_path)
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    for trial in study.trials:  # a trial cut off is FAIL and queued again
        if trial.state == TrialState.FAIL:
            assert any(t.state == TrialState.WAITING and t.params == trial.params for t in study.trials)


@pytest.mark.slow  # a full grid sweep: ~40 s on 2 cores (make test-slow)
def test_grid_sweep_covers_its_grid_and_finishes(tmp_path: Path, tiny_model: Path) -> None:
    """hparams_search=refractory uses Optuna's grid sampler, which asks the study to stop once the
    grid is covered; the sweep must still end cleanly, and a re-run finds nothing left to do."""
    command = [
        sys.executable, "-m", "spikernn.apps.convert", "-m", "hparams_search=refractory", f"source={tiny_model}",
        "spiking.t_ref_ms=choice(0.0,2.0,10.0)", "transfer.scaling_factor=20", "transfer.trials_per_factor=4",
        "eval_trials=4",
    ]  # fmt: skip
    for _ in range(2):
        proc = subprocess.run(command, capture_output=True, text=True, env=command_environment(tmp_path), timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    (summary,) = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'optuna.db'}")
    study = optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert sorted(t.params["spiking.t_ref_ms"] for t in study.trials) == [0.0, 2.0, 10.0]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


@pytest.mark.slow
def test_random_sigkills_of_a_sweep_lose_and_duplicate_nothing(tmp_path: Path, tiny_model: Path) -> None:
    """15 SIGKILLs of a sweep at random moments, then a resume: every finished trial kept as it was,
    no point run twice, no MLflow run left RUNNING, the parent's counts equal Optuna's."""
    import random

    rng = random.Random(15)
    command = sweep_command(tiny_model, 12, "transfer.trials_per_factor=20", "transfer.report_every_trials=10")
    kept: dict[int, tuple] = {}
    for _ in range(15):
        sweep = subprocess.Popen(command, env=command_environment(tmp_path), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        time.sleep(rng.uniform(2.0, 20.0))
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
        now = _finished(tmp_path)
        assert {n: now[n] for n in kept} == kept
        kept = now
    proc = subprocess.run(command, capture_output=True, text=True, env=command_environment(tmp_path), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = _finished(tmp_path)
    assert {n: after[n] for n in kept} == kept and len(after) == 12
    points = [params["transfer.scaling_factor"] for params, _, _ in after.values()]
    assert len(set(points)) == len(points)
    assert not mlflow_runs(tmp_path, "attributes.status = 'RUNNING'")
    study = study_of(tmp_path)
    (parent,) = mlflow_runs(tmp_path, "tags.command = 'sweep'")
    for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
        assert parent.data.metrics[f"trials_{state.name.lower()}"] == sum(t.state == state for t in study.trials)


def test_conversion_reliability_scores_each_trial_on_several_networks(tmp_path: Path) -> None:
    """hparams_search=conversion_reliability: each trial trains its 3 networks (seeds 7, 8, 9) with the
    population launcher — here over two worker processes, as populations of 2 and 1 — and converts
    each; the trial's value is the fraction of them with LIF accuracy ≥ converted_at, read back here
    from the networks' own MLflow runs."""
    command = [
        sys.executable, "-m", "spikernn.apps.run", "-m", "hparams_search=conversion_reliability",
        *TINY_TRAINING, "seed=7", f"hydra.sweeper.study_name={STUDY}", "hydra.sweeper.n_trials=2",
        "hydra.sweeper.networks_per_trial=3", "hydra.sweeper.converted_at=0.5", "transfer.trials_per_factor=4",
        "transfer.scaling_factors=[0.5,1,2]", "hydra.sweeper.sampler.n_startup_trials=2", "hydra.launcher.workers=2",
    ]  # fmt: skip
    env = {**command_environment(tmp_path), "SPIKERNN_ALLOW_UNTRAINED": "true"}  # tiny networks may miss the criterion
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("Training a population of 2 networks") == 2
    assert proc.stderr.count("Training a population of 1 networks") == 2
    study = study_of(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert study.metric_names == ["fraction with lif_accuracy ≥ 0.5"]
    (parent,) = mlflow_runs(tmp_path, "tags.command = 'sweep'")
    for trial in study.trials:
        runs = mlflow_runs(tmp_path, f"tags.optuna_trial = '{trial.number}'")
        assert sorted(int(r.data.params["seed"]) for r in runs) == [7, 8, 9] == trial.user_attrs["seeds"]
        assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in runs)
        assert all(r.data.tags["optuna_state"] == "COMPLETE" for r in runs)
        by_network = {int(r.data.tags["optuna_network"]): r.data.metrics.get("lif_accuracy") for r in runs}
        values = [by_network[i] for i in range(3)]
        assert trial.user_attrs["network_values"] == values
        assert trial.value == sum(v is not None and v >= 0.5 for v in values) / 3
        for name, value in trial.params.items():
            assert all(float(r.data.params[name]) == value for r in runs)
