"""Beyond one machine, for real (issue 35): an Optuna study on PostgreSQL shared by two workers
with output folders of their own (two "hosts"), one of them SIGKILLed mid-trial; and an MLflow
tracking server on PostgreSQL with served artifacts, which a run and a population launch log to,
whose models a third process loads by ``runs:/`` and ``models:/`` URIs, and which is restarted while
a launch runs.

The test starts a throwaway PostgreSQL cluster of its own (Debian's ``postgresql`` package:
``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin``; as root it runs them as the
``postgres`` user) on a loopback port; ``.ci/run`` installs the package where it is missing. The
driver is the ``postgres`` extra (``psycopg``, which SQLAlchemy 2 takes for ``postgresql://``).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from servers import MlflowServer
from tiny import TINY_RUN, command_environment

pytestmark = pytest.mark.long  # trains models, runs two sweeps and a population launch (~2-3 min)

STUDY = "shared"


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    assert found, "PostgreSQL is not installed: apt-get install postgresql (.ci/run does)"
    return Path(found[-1]).parent


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """``postgresql://`` URL of a cluster started for these tests (stopped after), with the databases
    ``optuna`` and ``mlflow``: ``<url>/optuna``."""
    binaries = _postgres_bin()
    owner = "postgres" if os.geteuid() == 0 else None  # the server refuses to run as root
    folder = Path(tempfile.mkdtemp(prefix="spikernn-postgres-"))  # pytest's own folders are closed to its user
    if owner:
        shutil.chown(folder, owner)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = folder / "data"
    init = [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "spikernn"]
    subprocess.run(_as_owner(init, owner), check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    start = [str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
    subprocess.run(_as_owner(start, owner), check=True, capture_output=True, timeout=120)
    try:
        for database in ("optuna", "mlflow"):
            create = [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "spikernn", database]
            subprocess.run(create, check=True, capture_output=True, timeout=60)
        yield f"postgresql://spikernn@127.0.0.1:{port}"
    finally:
        stop = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_owner(stop, owner), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _sweep(model: Path, n_trials: int, storage: str, tracking: str) -> list[str]:
    return [sys.executable, "-m", "spikernn.apps.convert", "-m", "hparams_search=scaling_factor", f"source={model}",
            f"hydra.sweeper.study_name={STUDY}", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweeper.storage={storage}", f"logger.tracking_uri={tracking}", "transfer.trials_per_factor=40",
            "transfer.report_every_trials=10", "eval_trials=4"]  # fmt: skip


def _study(storage: str) -> optuna.Study | None:
    names = [s.study_name for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith(f"{STUDY} [")]
    return optuna.load_study(study_name=names[0], storage=storage) if names else None


def test_two_hosts_share_a_postgresql_study_and_a_killed_ones_trial_is_run_again(
    tmp_path: Path, postgres: str, tiny_model: Path
) -> None:
    """Host A is SIGKILLed while its trial runs; host B finishes the budget, the killed trial is
    failed and run again (same parameters), nothing is duplicated, and Optuna's finished trials are
    MLflow's finished child runs, one each."""
    tracking = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    (tmp_path / "shared").mkdir()
    postgres = f"{postgres}/optuna"
    setup = subprocess.run(_sweep(tiny_model, 1, postgres, tracking), capture_output=True, text=True,
                           env=command_environment(tmp_path / "setup"), timeout=600)  # fmt: skip
    assert setup.returncode == 0, setup.stderr[-3000:]
    budget = 6
    host_a = subprocess.Popen(_sweep(tiny_model, budget, postgres, tracking), env=command_environment(tmp_path / "a"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not [t for t in _study(postgres).trials if t.state == TrialState.RUNNING
               and t.user_attrs.get("worker", "").endswith(f":{host_a.pid}")]:  # fmt: skip
        assert host_a.poll() is None and time.monotonic() < deadline, "host A ran no trial"
        time.sleep(0.2)
    os.killpg(host_a.pid, signal.SIGKILL)
    host_a.wait()
    killed = [t for t in _study(postgres).trials if t.state == TrialState.RUNNING]
    assert len(killed) == 1  # left RUNNING: nobody told the study
    host_b = subprocess.run(_sweep(tiny_model, budget, postgres, tracking), capture_output=True, text=True,
                            env=command_environment(tmp_path / "b"), timeout=900)  # fmt: skip
    assert host_b.returncode == 0, host_b.stderr[-3000:]

    study = _study(postgres)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == budget and not [t for t in study.trials if t.state == TrialState.RUNNING]
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [t.number for t in killed]  # host A's trial, failed once
    retry_of = optuna.storages.RetryFailedTrialCallback.retried_trial_number
    retried = [t for t in finished if retry_of(t) in {f.number for f in failed}]
    assert len(retried) == 1 and retried[0].params == failed[0].params  # run again, by host B
    assert len({t.number for t in finished}) == budget
    client = MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id], max_results=1000)
    children = [r for r in runs if r.data.tags.get("command") == "spikernn-convert"]
    done = sorted(int(r.data.tags["optuna_trial"]) for r in children if r.info.status == "FINISHED")
    assert done == sorted(t.number for t in finished)
    assert not [r for r in runs if r.info.status == "RUNNING"]  # the killed trial's run closed too


@pytest.fixture
def mlflow_server(postgres: str, tmp_path: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(f"{postgres}/mlflow", tmp_path / "served-artifacts", tmp_path / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _command(name: str, args: list[str], out: Path, server: MlflowServer, **kw) -> subprocess.Popen:
    argv = [sys.executable, "-m", f"spikernn.apps.{name}", *args, f"logger.tracking_uri={server.url}"]
    return subprocess.Popen(argv, env=command_environment(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)  # fmt: skip


def _finish(proc: subprocess.Popen, timeout: float = 900) -> tuple[str, str]:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr[-3000:]
    return stdout, stderr


def test_an_mlflow_server_on_postgresql_serves_a_run_and_its_models_to_another_process(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    """``spikernn-run`` logs to the server (runs in PostgreSQL, files through the server); a third
    process with nothing but the server's URL loads the rate and the spiking model by ``runs:/``, the
    registered one by ``models:/`` and predicts with them; ``spikernn-evaluate`` takes the run id."""
    stdout, _ = _finish(_command("run", [*TINY_RUN, "logger.register_as=tiny_gonogo"], tmp_path / "a", mlflow_server))
    summary = json.loads(stdout[stdout.index("{") :])
    run_id = summary["mlflow_run_id"]
    assert not (tmp_path / "a" / "mlflow.db").exists()  # nothing went to an embedded store
    served = {p.name for p in (tmp_path / "served-artifacts").rglob("*")}
    assert {"converted_model.pt", "rate_model.pt", "summary.json"} <= served  # the files went through the server
    script = f"""
import json, mlflow, numpy as np
from spikernn.tasks import get_task
import torch
task = get_task("go_nogo")
inputs = task.make_trials(2, torch.Generator().manual_seed(0)).inputs.numpy().astype(np.float32)
out = {{}}
for uri in ("runs:/{run_id}/rate_model", "runs:/{run_id}/spiking_model", "models:/tiny_gonogo/1"):
    model = mlflow.pyfunc.load_model(uri)
    readout = model.predict(inputs, params={{"seed": 1}})
    out[uri] = [list(readout.shape), bool(np.isfinite(readout).all()), model.metadata.metadata]
print(json.dumps(out))
"""
    env = {**command_environment(tmp_path / "third"), "MLFLOW_TRACKING_URI": mlflow_server.url}
    third = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert third.returncode == 0, third.stderr[-3000:]
    loaded = json.loads(third.stdout.strip().splitlines()[-1])
    rate, spiking, registered = loaded.values()
    assert rate[0][0] == 2 and rate[1] and rate[2]["output_step_ms"] == 5.0
    assert spiking[0][0] == 2 and spiking[1] and spiking[2]["scaling_factor"] == summary["scaling_factor"]
    assert registered[2] == spiking[2]  # the registered model is the run's spiking network
    evaluated, _ = _finish(_command("evaluate", [f"source={run_id}", "eval_trials=4"], tmp_path / "b", mlflow_server))
    evaluation = json.loads(evaluated[evaluated.index("{") :])
    assert evaluation["scaling_factor"] == summary["scaling_factor"]
    client = MlflowClient(mlflow_server.url)
    assert client.get_run(evaluation["mlflow_run_id"]).data.tags["source"] == run_id


def test_a_population_launch_survives_a_restart_of_its_mlflow_server(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    """The server is stopped once the launch's parent run exists and started again ~20 s later (its
    start-up time); MLflow's client retries its requests with back-off meanwhile, so the launch
    finishes: every job's run and the parent run FINISHED, nothing left RUNNING."""
    # in one process: with worker processes the server's downtime would fall in their start-up (imports)
    seeds = ["seed=0,1,2", "hydra/launcher=population", "hydra.launcher.workers=1", "logger.experiment_name=restart"]
    launch = _command("run", ["-m", *TINY_RUN, *seeds], tmp_path / "launch", mlflow_server)
    client = MlflowClient(mlflow_server.url)
    deadline = time.monotonic() + 300
    while True:
        experiment = client.get_experiment_by_name("restart")
        if experiment is not None and client.search_runs([experiment.experiment_id], "tags.command = 'population'"):
            break
        assert launch.poll() is None and time.monotonic() < deadline, "the launch made no parent run"
        time.sleep(0.2)
    mlflow_server.stop()
    time.sleep(2)
    mlflow_server.start()
    _, stderr = _finish(launch)
    assert "Connection refused" in stderr  # the launch did meet the stopped server, and retried
    runs = client.search_runs([experiment.experiment_id])
    assert sorted((r.data.tags.get("command"), r.info.status) for r in runs) == [
        ("population", "FINISHED"), *[("spikernn-run", "FINISHED")] * 3
    ]  # fmt: skip
    (parent,) = [r for r in runs if r.data.tags.get("command") == "population"]
    assert parent.data.metrics["jobs_completed"] == 3
