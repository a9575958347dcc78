"""Sweeps beyond one machine, for real (issue 35): an Optuna study on PostgreSQL shared by two
workers with output folders of their own (two "hosts"), one of them SIGKILLed mid-trial.

The test starts a throwaway PostgreSQL cluster of its own (Debian's ``postgresql`` package:
``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin``; as root it runs them as the
``postgres`` user) on a loopback port; ``.ci/run`` installs the package where it is missing. The
driver is the ``postgres`` extra (``psycopg``, which SQLAlchemy 2 takes for ``postgresql://``).
"""

from __future__ import annotations

import glob
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

from tiny import command_environment

pytestmark = pytest.mark.long  # trains a model and runs two sweeps (~1-2 min)

STUDY = "shared"


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    assert found, "PostgreSQL is not installed: apt-get install postgresql (.ci/run does)"
    return Path(found[-1]).parent


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """``postgresql://`` URL of a database on a cluster started for these tests (stopped after)."""
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
        create = [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "spikernn", "optuna"]
        subprocess.run(create, check=True, capture_output=True, timeout=60)
        yield f"postgresql://spikernn@127.0.0.1:{port}/optuna"
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
