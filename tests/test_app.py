"""The main job ``spikernn-run``: a tiny real run, and bad input refused before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tiny import TINY_RUN as TINY


def run_app(args: list[str], out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(out)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "spikernn.apps.run", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_tiny_run_writes_summary_figures_and_models(tmp_path: Path) -> None:
    proc = run_app(TINY, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "run").iterdir()
    assert json.loads(proc.stdout)["run_folder"] == str(run_dir)  # stdout: the JSON summary alone
    assert f"results in {run_dir}" in proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in (
        "task",
        "N",
        "trained",
        "trials_to_criterion",
        "rate_accuracy",
        "scaling_factor",
        "lif_accuracy",
        "lif_accuracy_by_scaling_factor",
        "seconds",
    ):
        assert key in summary
    assert summary["N"] == 20 and summary["task"] == "go_nogo"
    assert set(summary["lif_accuracy_by_scaling_factor"]) == {"20.0", "40.0"}
    for name in (
        "rate_model.pt",
        "rate_model.mat",
        "readout_rate_vs_lif.png",
        "accuracy_by_factor.png",
        "raster_Go.png",
        "raster_NoGo.png",
    ):
        assert (run_dir / name).stat().st_size > 0, name
    for name in ("rate_model.pt", "converted_model.pt", "rate_model.mat"):  # readable by colleagues
        assert (run_dir / name).stat().st_mode & 0o044 == 0o044, name
    # each logged model carries its own numbers (MLflow's Models page); the run has them all
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(summary["mlflow_run_id"])
    models = {m.name: {x.key for x in m.metrics} for m in client.search_logged_models([run.info.experiment_id])}
    assert {"rate_accuracy", "tau_d_ms_mean"} <= models["rate_model"] and "lif_accuracy" not in models["rate_model"]
    assert {"lif_accuracy", "scaling_factor", "lif_accuracy_s20"} <= models["spiking_model"]
    assert not {"rate_accuracy", "seconds"} & models["spiking_model"]
    assert {"rate_accuracy", "lif_accuracy", "seconds"} <= run.data.metrics.keys()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.n_units=0", r"model.n_units must be in [1, inf], got 0"),
        ("model.p_inh=1.5", r"model.p_inh must be in [0, 1), got 1.5"),
        ("model.tau_min_ms=150", "model.tau_min_ms must be ≤ model.tau_max_ms (100.0 ms), got 150"),
        ("model.tau_min_ms=-5", "model.tau_min_ms must be in (0, inf], got -5"),
        ("+model.taus_ms=[20,50]", "unknown key(s) model.taus_ms; allowed: n_units"),
        ("transfer.scaling_factors=[20,0]", "transfer.scaling_factors[1] must be a number > 0, got 0"),
        ("task.name=dms", "task must be one of 'go_nogo', 'xor', 'mante', got 'dms'"),
        ("model.activation=tanh", "model.activation must be one of"),
    ],
)
def test_bad_config_fails_at_once_and_writes_nothing(tmp_path: Path, override: str, message: str) -> None:
    proc = run_app([override], tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.*"))


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    proc = run_app(["model.n_unit=5"], tmp_path)
    assert proc.returncode != 0 and "n_unit" in proc.stderr
