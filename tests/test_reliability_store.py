"""The local MLflow store and run folders under interruption and concurrency (issue 15, parts 1, 2, 4):
several first commands at once, a first command killed at any moment, a run left RUNNING by a
killed process, parallel runs in the same second."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from spikernn.tracking import LoggerConfig, TrackedRun
from spikernn.tracking.store import open_tracking_store

# a first command as far as the store goes: open it (made on first use) and one tracked run
OPEN_RUN = """
import sys
from pathlib import Path
from spikernn.tracking import TrackedRun, LoggerConfig
out = Path(sys.argv[1])
print("ready", flush=True)
with TrackedRun(LoggerConfig(), out, out / sys.argv[2], "test", {"a": 1}, {}) as run:
    print(run.run_id, flush=True)
    if len(sys.argv) > 3:
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
"""


def env() -> dict:
    environment = dict(os.environ)
    environment.pop("MLFLOW_TRACKING_URI", None)
    return environment


def mlflow_runs(out: Path) -> list:
    client = MlflowClient(open_tracking_store(None, out))
    experiment = client.get_experiment_by_name("spikernn")
    return client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []


def one_command_works(out: Path) -> None:
    """What a later command does with the store: open it, track a run, read it back."""
    with TrackedRun(LoggerConfig(), out, out / "later", "test", {"b": 2}, {}) as run:
        run.log_metrics({"x": 1.0})
    finished = MlflowClient(run.tracking_uri).get_run(run.run_id)
    assert finished.info.status == "FINISHED" and finished.data.metrics["x"] == 1.0


def test_four_first_commands_at_once_make_one_good_store(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN_RUN, str(tmp_path), f"f{i}"], env=env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]  # fmt: skip
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    runs = mlflow_runs(tmp_path)
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    one_command_works(tmp_path)
    assert not list(tmp_path.glob(".mlflow.db.*.tmp*"))


def _kill_first_commands(tmp_path: Path, kills: int) -> None:
    """SIGKILL a first command at a random moment of the store's creation (0-2 s after its first
    file appears; it takes about 2 s on an idle machine), each time on a new output folder; then a
    later command must work on that folder."""
    rng = random.Random(15)
    for i in range(kills):
        out = tmp_path / f"o{i}"
        proc = subprocess.Popen([sys.executable, "-c", OPEN_RUN, str(out), "f"], env=env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        assert proc.stdout.readline().strip() == "ready"
        while not list(out.glob("*mlflow.db*")) and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        one_command_works(out)


def test_first_command_killed_at_random_moments_leaves_a_usable_store(tmp_path: Path) -> None:
    _kill_first_commands(tmp_path, 4)


@pytest.mark.slow
def test_first_command_killed_at_random_moments_many_times(tmp_path: Path) -> None:
    _kill_first_commands(tmp_path, 20)


def test_half_made_store_without_runs_is_made_again(tmp_path: Path) -> None:
    """A store left half-made by MLflow's own creation (its first tables, no migrations yet)."""
    import sqlalchemy
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'mlflow.db'}")
    InitialBase.metadata.create_all(engine)
    engine.dispose()
    one_command_works(tmp_path)
    assert len(list(tmp_path.glob("mlflow.db.broken-*"))) == 1  # set aside, not deleted


def test_store_with_runs_is_never_set_aside(tmp_path: Path) -> None:
    """A store of another MLflow version that holds runs is left to MLflow (which says to upgrade)."""
    from spikernn.tracking.store import _mlflow_store_complete

    one_command_works(tmp_path)
    with sqlite3.connect(tmp_path / "mlflow.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'older'")
    assert _mlflow_store_complete(tmp_path / "mlflow.db") is None
    open_tracking_store(None, tmp_path)
    assert not list(tmp_path.glob("mlflow.db.broken-*"))


def test_run_left_running_by_a_killed_process_is_closed_by_the_next_command(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", OPEN_RUN, str(tmp_path), "f", "kill"], env=env(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    orphan = proc.stdout.split()[1]
    (run,) = mlflow_runs(tmp_path)
    assert run.info.run_id == orphan and run.info.status == "RUNNING"
    one_command_works(tmp_path)
    closed = {r.info.run_id: r for r in mlflow_runs(tmp_path)}[orphan]
    assert closed.info.status == "KILLED" and "ended without closing" in closed.data.tags["interrupted"]


TINY = ["model.n_units=20", "trainer.max_trials=100", "trainer.batch_size=20", "trainer.progress_bar=false",
        "eval_trials=4"]  # fmt: skip


@pytest.mark.slow
def test_four_parallel_runs_get_four_folders(tmp_path: Path) -> None:
    """Four tiny trainings started together on a new output folder (so also four first commands)."""
    environment = {**env(), "SPIKERNN_OUTPUT_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "spikernn.apps.train", *TINY, f"seed={seed}"], env=environment,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for seed in range(4)
    ]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    folders = sorted((tmp_path / "runs" / "train").iterdir())
    assert len(folders) == 4
    seeds = {json.loads((f / "summary.json").read_text())["seed"] for f in folders}
    assert seeds == {0, 1, 2, 3}
    runs = mlflow_runs(tmp_path)
    assert len(runs) == 4
    for run in runs:
        folder = Path(run.data.tags["run_folder"])
        assert json.loads((folder / "summary.json").read_text())["seed"] == int(run.data.tags["seed"])


# what Hydra resolves for a command's run folder, in a process of its own
RUN_DIR = """
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from spikernn.apps.config import config_dir
with initialize_config_dir(config_dir(), version_base=None):
    cfg = compose("train", return_hydra_config=True)
HydraConfig.instance().set_config(cfg)
print(cfg.hydra.run.dir, cfg.hydra.sweep.dir)
"""


def test_four_commands_started_together_get_four_folders(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", RUN_DIR], env=env(), stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    folders = [proc.communicate(timeout=300)[0].split() for proc in procs]
    assert all(len(f) == 2 for f in folders)
    assert len({run for run, _ in folders}) == 4 and len({sweep for _, sweep in folders}) == 4


def test_sweep_folders_of_two_processes_differ() -> None:
    """The resolver is fixed within a process — in one config and across configs (a launcher's and
    the job configs it loads: the submitit launcher's ``.submitit`` folder is its jobs' sweep folder)
    — and differs between processes."""
    code = "from spikernn.tracking.folders import unique_suffix; print(unique_suffix())"
    values = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout for _ in range(2)}
    assert len(values) == 2
    from omegaconf import OmegaConf

    import spikernn.tracking  # noqa: F401  (registers the resolver)

    cfg = OmegaConf.create({"a": "${spikernn.unique:}", "b": "${spikernn.unique:}"})
    other = OmegaConf.create({"c": "${spikernn.unique:}"})
    assert cfg.a == cfg.b == other.c
