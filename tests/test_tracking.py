"""MLflow tracking: the embedded store, a real `mlflow server`, the train → convert → evaluate
commands chained by run id, FAILED/KILLED status, and no run for an invalid config."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from spikernn.tracking import LoggerConfig, TrackedRun, flatten

TINY_MODEL = [
    "model.n_units=20",
    "trainer.n_trials=200",
    "trainer.batch_size=20",
    "trainer.progress_bar=false",
    "eval_trials=4",
]
TINY_SPIKING = ["transfer.n_trials=4", "transfer.scaling_factors=[20,40]"]


def command(name: str, args: list[str], out: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(out), **env}
    environ.pop("MLFLOW_TRACKING_URI", None) if "MLFLOW_TRACKING_URI" not in env else None
    return subprocess.run(
        [sys.executable, "-m", f"spikernn.apps.{name}", *args], capture_output=True, text=True, env=environ, timeout=600
    )


def summary_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = json.loads(proc.stdout)["run_folder"]  # stdout holds the JSON summary alone
    return json.loads((Path(folder) / "summary.json").read_text())


def local_client(out: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{out / 'mlflow.db'}")


def test_flatten_names_nested_keys() -> None:
    assert flatten({"model": {"n_units": 200, "taus_ms": [20.0, 100.0]}, "seed": 0, "x": None}) == {
        "model.n_units": "200",
        "model.taus_ms": "[20.0, 100.0]",
        "seed": "0",
        "x": "None",
    }


def test_train_convert_evaluate_chain_by_run_id(tmp_path: Path) -> None:
    """Each command logs one run to the embedded store; a model is referred to by its run id,
    and the separate stages give the numbers of `spikernn-run` on the same config."""
    trained = summary_of(command("train", TINY_MODEL, tmp_path))
    converted = summary_of(
        command("convert", [f"source={trained['mlflow_run_id']}", *TINY_SPIKING, "eval_trials=4"], tmp_path)
    )
    evaluated = summary_of(command("evaluate", [f"source={converted['mlflow_run_id']}", "eval_trials=4"], tmp_path))
    whole = summary_of(command("run", [*TINY_MODEL, *TINY_SPIKING], tmp_path))

    assert converted["rate_accuracy"] == trained["rate_accuracy"] == whole["rate_accuracy"]
    assert converted["lif_accuracy_by_scaling_factor"] == whole["lif_accuracy_by_scaling_factor"]
    assert evaluated["scaling_factor"] == converted["scaling_factor"] == whole["scaling_factor"]
    assert evaluated["lif_accuracy"] == converted["lif_accuracy"] == whole["lif_accuracy"]

    client = local_client(tmp_path)
    train_run = client.get_run(trained["mlflow_run_id"])
    assert train_run.info.status == "FINISHED"
    assert train_run.data.params["model.n_units"] == "20"
    assert train_run.data.tags["task"] == "go_nogo" and len(train_run.data.tags["git_commit"]) in (40, 7)
    history = client.get_metric_history(train_run.info.run_id, "eval_accuracy")
    assert [m.step for m in history] == trained["training_history"]["trials"] == [100, 200]
    names = {a.path for a in client.list_artifacts(train_run.info.run_id)}
    assert {"rate_model.pt", "rate_model.mat", "summary.json", "training.png", "checkpoints", ".hydra"} <= names

    convert_run = client.get_run(converted["mlflow_run_id"])
    series = client.get_metric_history(convert_run.info.run_id, "lif_accuracy_by_factor")
    assert {m.step: m.value for m in series} == {
        20: converted["lif_accuracy_by_scaling_factor"]["20.0"],
        40: converted["lif_accuracy_by_scaling_factor"]["40.0"],
    }
    assert convert_run.data.tags["source"] == trained["mlflow_run_id"]
    assert {"rate_exc_hz", "rate_inh_hz", "lif_accuracy", "scaling_factor"} <= set(convert_run.data.metrics)
    evaluate_run = client.get_run(evaluated["mlflow_run_id"])
    assert evaluate_run.data.params["scaling_factor"] == str(converted["scaling_factor"])
    assert evaluate_run.data.params["spiking.t_ref_ms"] == "2.0"  # the stored value, not the null override
    refused = command("evaluate", [f"source={converted['mlflow_run_id']}", "scaling_factor=0"], tmp_path)
    assert refused.returncode == 2 and "scaling_factor must be a number > 0, got 0" in refused.stderr


def test_invalid_config_creates_no_run(tmp_path: Path) -> None:
    summary_of(command("train", TINY_MODEL, tmp_path))  # one valid run, so the store exists
    proc = command("run", ["model.p_inh=1.5"], tmp_path)
    assert proc.returncode == 2 and "model.p_inh must be in [0, 1), got 1.5" in proc.stderr
    proc = command("convert", ["source=ffffffffffffffffffffffffffffffff"], tmp_path)
    assert proc.returncode == 2 and "source: no MLflow run ffffffffffffffffffffffffffffffff" in proc.stderr
    client = local_client(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id])
    assert [r.data.tags["command"] for r in runs] == ["spikernn-train"]


@pytest.mark.parametrize(("error", "status"), [(RuntimeError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED")])
def test_crash_ends_run_with_status_and_keeps_what_was_written(tmp_path: Path, error, status) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(type(error)):
        with TrackedRun(LoggerConfig(), tmp_path, run_dir, "test", {"a": {"b": 1}}, {"task": "go_nogo"}) as run:
            run.log_metrics({"eval_accuracy": 0.5}, step=100)
            (run_dir / "rate_model.pt").write_bytes(b"model")
            raise error
    client = local_client(tmp_path)
    logged = client.get_run(run.run_id)
    assert logged.info.status == status
    assert logged.data.params == {"a.b": "1"} and logged.data.metrics == {"eval_accuracy": 0.5}
    assert [a.path for a in client.list_artifacts(run.run_id)] == ["rate_model.pt"]
    assert ("error" in logged.data.tags) == (status == "FAILED")
    if status == "FAILED":
        assert logged.data.tags["error"] == "RuntimeError: boom"


def test_crash_in_a_command_marks_the_run_failed(tmp_path: Path) -> None:
    """A failure after training (here: the conversion raises) leaves a FAILED run that still holds
    the trained model and the training curve."""
    script = (
        "import sys, spikernn.pipeline as p\n"
        "def crash(*a, **k): raise RuntimeError('conversion exploded')\n"
        "p.convert_stage = crash\n"
        "from spikernn.apps import run\n"
        f"sys.argv = ['spikernn-run', *{TINY_MODEL + TINY_SPIKING!r}]\n"
        "run.main()\n"
    )
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode != 0 and "conversion exploded" in proc.stderr
    client = local_client(tmp_path)
    (logged,) = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id])
    assert logged.info.status == "FAILED"
    assert logged.data.tags["error"] == "RuntimeError: conversion exploded"
    assert "eval_accuracy" in logged.data.metrics
    assert {"rate_model.pt", "training.png"} <= {a.path for a in client.list_artifacts(logged.info.run_id)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and served artifacts."""
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow_bin), "server",
            "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination", str(tmp_path / "server-artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_pipeline_against_a_real_mlflow_server(tmp_path: Path, mlflow_server: str) -> None:
    out = tmp_path / "outputs"
    summary = summary_of(command("run", [*TINY_MODEL, *TINY_SPIKING], out, MLFLOW_TRACKING_URI=mlflow_server))
    assert not (out / "mlflow.db").exists()  # nothing went to the embedded store
    client = MlflowClient(mlflow_server)
    run = client.get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.n_units"] == "20" and run.data.params["spiking.t_ref_ms"] == "2.0"
    assert run.data.metrics["lif_accuracy"] == summary["lif_accuracy"]
    assert run.data.metrics["scaling_factor"] == summary["scaling_factor"]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "lif_accuracy_by_factor")] == [20, 40]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"rate_model.pt", "rate_model.mat", "converted_model.pt", "summary.json", "accuracy_by_factor.png"} <= names
    local = client.download_artifacts(run.info.run_id, "summary.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["lif_accuracy"] == summary["lif_accuracy"]
