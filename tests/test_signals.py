"""SIGTERM (SLURM's preemption) and Ctrl-C during training: the MLflow run ends KILLED, the process
exits 128 + signal, the checkpoint is kept and training resumes from it (issue 15, part 4)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from tiny import command_environment

# never meets the criterion (accuracy > 1), so it trains until interrupted; a checkpoint every 5 steps
ENDLESS = ["model.n_units=20", "trainer.max_trials=2000000", "trainer.batch_size=20", "trainer.progress_bar=false",
           "trainer.stopping.eval_every_trials=100", "trainer.stopping.eval_trials=4",
           "trainer.stopping.accuracy_threshold=1.0", "eval_trials=4"]  # fmt: skip


def runs(out: Path) -> list:
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("spikernn")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time"])


def _interrupt_training(out: Path, signum: int) -> tuple[subprocess.CompletedProcess, Path]:
    proc = subprocess.Popen([sys.executable, "-m", "spikernn.apps.train", *ENDLESS], env=command_environment(out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(out.glob("runs/train/*/checkpoints/last.ckpt")):
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=300)
    (checkpoint,) = out.glob("runs/train/*/checkpoints/last.ckpt")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), checkpoint


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_training_ends_killed_and_keeps_its_checkpoint(tmp_path: Path, signum: int, code: int) -> None:
    proc, checkpoint = _interrupt_training(tmp_path, signum)
    assert proc.returncode == code, proc.stderr[-3000:]
    assert "MLflow run ended KILLED" in proc.stderr and "Traceback" not in proc.stderr
    (run,) = runs(tmp_path)
    assert run.info.status == "KILLED"
    assert run.data.tags["interrupted"] == signal.Signals(signum).name
    assert "error" not in run.data.tags
    assert torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"] > 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")}
    assert "checkpoints/last.ckpt" in logged


def test_training_resumes_after_sigterm(tmp_path: Path) -> None:
    _, checkpoint = _interrupt_training(tmp_path, signal.SIGTERM)
    steps = torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"]
    budget = (steps + 10) * 20  # ten more batches of 20 trials
    args = [*ENDLESS, f"trainer.max_trials={budget}", f"trainer.resume_from={checkpoint}"]
    proc = subprocess.run([sys.executable, "-m", "spikernn.apps.train", *args], env=command_environment(tmp_path),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    killed, resumed = runs(tmp_path)
    assert (killed.info.status, resumed.info.status) == ("KILLED", "FINISHED")
    assert (Path(resumed.data.tags["run_folder"]) / "rate_model.pt").is_file()


LOST_IN_DEL = """
import time
from spikernn.interrupts import Interrupted, acknowledge, interruptible
class Slow:
    def __del__(self):
        time.sleep(1.0)  # the signal lands here: Python prints "Exception ignored" and goes on
with interruptible():
    try:
        slow = Slow()
        print("ready", flush=True)
        del slow
        time.sleep(30)
        print("not interrupted")
    except Interrupted as stop:
        acknowledge()
        print("interrupted", stop.name)
"""


def test_an_interruption_lost_in_a_destructor_is_raised_again() -> None:
    proc = subprocess.Popen([sys.executable, "-c", LOST_IN_DEL], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert "Exception ignored" in err and out.strip() == "interrupted SIGTERM" and proc.returncode == 0


INTERRUPTED_WRITE = """
import sys
from mlflow.tracking import MlflowClient
from spikernn.interrupts import Interrupted, acknowledge, interruptible
client = MlflowClient(f"sqlite:///{sys.argv[1]}")
run_id = client.create_run(client.create_experiment("writes")).info.run_id
with interruptible():
    try:
        print("ready", flush=True)
        for step in range(10**6):  # nearly all of the time inside SQLAlchemy
            client.log_metric(run_id, "m", step, step=step)
    except Interrupted:
        acknowledge()
client.set_terminated(run_id, "KILLED")  # waits on the lock of a write cut short, then fails, if there was one
print("closed", flush=True)
"""


def test_an_interruption_waits_for_the_database_write_it_lands_in(tmp_path: Path) -> None:
    store = tmp_path / "mlflow.db"
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED_WRITE, str(store)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()[-3000:]
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == "closed", err[-3000:]
    client = MlflowClient(f"sqlite:///{store}")
    (run,) = client.search_runs([client.get_experiment_by_name("writes").experiment_id])
    assert run.info.status == "KILLED" and run.data.metrics["m"] > 0


SIGNAL_INSIDE_SQLALCHEMY = """
import os, signal, sys, time, traceback
from mlflow.tracking import MlflowClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from spikernn.interrupts import Interrupted, acknowledge, interruptible
client = MlflowClient(f"sqlite:///{sys.argv[1]}")
run_id = client.create_run(client.create_experiment("writes")).info.run_id
armed = []
@event.listens_for(Engine, "after_cursor_execute")
def signal_inside(conn, cursor, statement, parameters, context, executemany):
    if armed and statement.lstrip().upper().startswith("INSERT INTO METRICS"):
        armed.clear()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the handler runs here, inside SQLAlchemy's execute, mid-transaction
with interruptible():
    try:
        armed.append(1)
        client.log_metric(run_id, "m", 1.0)
        print("not interrupted", flush=True)
    except Interrupted as stop:
        acknowledge()
        print("interrupted in", traceback.extract_tb(stop.__traceback__)[-1].filename, flush=True)
"""


def test_an_interruption_inside_sqlalchemy_is_raised_after_the_call_returns(tmp_path: Path) -> None:
    """The write the signal lands in completes (the metric is stored); the interruption is raised
    in the code that called MLflow, not inside SQLAlchemy."""
    store = tmp_path / "mlflow.db"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_INSIDE_SQLALCHEMY, str(store)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.startswith("interrupted in "), proc.stderr[-3000:]
    assert "sqlalchemy" not in proc.stdout and "/mlflow/store/" not in proc.stdout, proc.stdout
    client = MlflowClient(f"sqlite:///{store}")
    (run,) = client.search_runs([client.get_experiment_by_name("writes").experiment_id])
    assert run.data.metrics == {"m": 1.0}
