"""MLflow tracking: the embedded store, a real `mlflow server`, the train → convert → evaluate
commands chained by run id, FAILED/KILLED status, and no run for an invalid config."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils.file_utils import local_file_uri_to_path

from servers import MlflowServer
from spikernn.apps.runner import without_unused
from spikernn.results import (
    ConversionResult,
    EvaluationResult,
    FinetuneResult,
    RateModelResult,
    RunResult,
    SpikingScore,
    TrainResult,
    tracking_record,
)
from spikernn.science_checks import flag_failures
from spikernn.tracking import LoggerConfig, TrackedRun, flatten
from spikernn.transfer_config import SIGMOID_GRID

TINY_MODEL = [
    "model.n_units=20",
    "trainer.max_trials=200",
    "trainer.batch_size=20",
    "trainer.progress_bar=false",
    "eval_trials=4",
]
TINY_SPIKING = ["transfer.trials_per_factor=4", "transfer.scaling_factors=[20,40]"]


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


def _conversion(pruned: bool = False) -> ConversionResult:
    score = SpikingScore(0.9, 0, {"Go": 0.8, "NoGo": 1.0}, 12.5, 30.0)
    evaluation = EvaluationResult({"t_ref_ms": 2.0}, 25.0, 0.04, 200, score, ["raster_Go.png"])
    return ConversionResult(
        spiking={"t_ref_ms": 2.0},
        scaling_factor=25.0,
        search_trials_per_factor=100,
        search_trials=300,
        search_accuracy=0.95,
        lif_accuracy_by_scaling_factor={"20.0": 0.5, "25.0": 0.95, "27.5": 0.9},
        pruned=pruned,
        evaluation=None if pruned else evaluation,
        figures=["accuracy_by_factor.png"],
    )


def test_settings_of_stages_that_did_not_run_are_not_params() -> None:
    params = {
        "finetune": {"enabled": False, "lr": 0.001, "below_accuracy": 0.95},
        "transfer": {"search": "grid", "round_trials": 16, "race_z": 1.96, "rescore_best": 0, "rescore_trials": 200},
        "seed": 3,
    }
    assert without_unused(params) == {
        "finetune": {"enabled": False},
        "transfer": {"search": "grid", "rescore_best": 0},
        "seed": 3,
    }
    one_factor = {"transfer": {"scaling_factor": 23.5, "scaling_factors": [23.5], "search": "grid"}}
    assert without_unused(one_factor) == {"transfer": {"scaling_factor": 23.5, "search": "grid"}}
    used = {
        "finetune": {"enabled": True, "lr": 0.001},
        "transfer": {"search": "adaptive", "round_trials": 16, "race_z": 1.96, "rescore_best": 0, "rescore_trials": 9},
    }
    assert without_unused(used) == {
        "finetune": {"enabled": True, "lr": 0.001},
        "transfer": {"search": "adaptive", "round_trials": 16, "race_z": 1.96, "rescore_best": 0},
    }


def test_a_conversion_at_one_given_factor_logs_no_per_factor_metric() -> None:
    """Each trial of a scaling-factor sweep converts at its own s: a metric per s would give every
    trial a column of its own; the table and scaling_factor/search_accuracy carry it instead."""
    conversion = _conversion()
    conversion.lif_accuracy_by_scaling_factor = {"23.5419": 0.95}
    record = tracking_record(conversion)
    assert not [k for k in record.metrics if k.startswith("lif_accuracy_s")]
    assert record.metrics["search_accuracy"] == 0.95 and record.metrics["scaling_factor"] == 25.0
    assert record.tables["lif_accuracy_by_scaling_factor.json"] == {"scaling_factor": [23.5419], "lif_accuracy": [0.95]}


def test_result_decides_metrics_tags_and_tables() -> None:
    """One typed result: numbers as metrics, constants as tags, per-factor accuracy as a table and
    one metric per factor; summary.json is the same result, files listed once."""
    rate = RateModelResult("go_nogo", 200, 160, 40, 0.99, 1.2, 0, 50.0, 20.0, 200)
    train = TrainResult(rate, 0, True, 1600, 30.0, 1, figures=["training.png"], models=["rate_model.pt"])
    result = RunResult(train, _conversion())
    record = tracking_record(result)
    assert record.metrics["lif_accuracy"] == 0.9 and record.metrics["lif_exc_hz"] == 12.5
    assert record.metrics["search_trials"] == 300
    assert record.metrics["lif_accuracy.NoGo"] == 1.0 and record.metrics["lif_accuracy_s27.5"] == 0.9
    assert record.tables["lif_accuracy_by_scaling_factor.json"] == {
        "scaling_factor": [20.0, 25.0, 27.5],
        "lif_accuracy": [0.5, 0.95, 0.9],
    }
    assert {"N": "200", "trained": "True", "lambda": "0.04", "eval_trials": "200"}.items() <= record.tags.items()
    assert not {"N", "n_exc", "trained", "eval_trials", "lambda", "seed"} & set(record.metrics)
    summary = result.summary()
    assert summary["lambda"] == 0.04 and summary["lif_accuracy_by_condition"] == {"Go": 0.8, "NoGo": 1.0}
    assert summary["figures"] == ["training.png", "raster_Go.png", "accuracy_by_factor.png"]  # each stage's, in order


def test_a_fine_tuned_run_reports_its_final_network_and_the_transfer_apart() -> None:
    """After fine-tuning, the run's own numbers (MLflow's default columns) are the fine-tuned
    network's, as spikernn-finetune's are; the conversion's carry the prefix ``transfer_``."""
    rate = RateModelResult("go_nogo", 200, 160, 40, 0.99, 1.2, 0, 50.0, 20.0, 200)
    train = TrainResult(rate, 0, True, 1600, 30.0, 1, figures=["training.png"], models=["rate_model.pt"])
    after = EvaluationResult({"t_ref_ms": 2.0}, 26.5, 1 / 26.5, 200, SpikingScore(0.995, 0, {"Go": 0.99, "NoGo": 1.0},
                             10.0, 28.0), ["raster_Go.png"])  # fmt: skip
    before = SpikingScore(0.91, 0, {"Go": 1.0, "NoGo": 0.82}, 12.5, 30.0)
    tuned = FinetuneResult({"lr": 0.003}, {"t_ref_ms": 2.0}, 25.0, before, after, 49.0, 60.0, 55.0, 900.0,
                           figures=["finetuning.png"], models=["finetuned_model.pt"])  # fmt: skip
    result = RunResult(train, transfer=_conversion(), finetune=tuned)
    metrics = tracking_record(result).metrics
    assert (metrics["lif_accuracy"], metrics["scaling_factor"], metrics["lif_exc_hz"]) == (0.995, 26.5, 10.0)
    assert (metrics["lif_accuracy_before"], metrics["finetune_seconds"]) == (0.91, 60.0)
    assert (metrics["lif_accuracy_before.NoGo"], metrics["lif_exc_hz_before"], metrics["scaling_factor_before"]) == (
        0.82,
        12.5,
        25.0,
    )  # the score before fine-tuning, named as the score after it with "_before"
    assert (metrics["transfer_lif_accuracy"], metrics["transfer_scaling_factor"]) == (0.9, 25.0)
    assert metrics["transfer_search_trials"] == 300 and metrics["transfer_lif_accuracy_s27.5"] == 0.9
    assert not [k for k in metrics if k.startswith(("finetuned_", "lif_accuracy_s", "search_"))]
    summary = result.summary()
    assert summary["lif_accuracy"] == 0.995 and summary["lif_accuracy_by_condition"] == {"Go": 0.99, "NoGo": 1.0}
    assert summary["lif_accuracy_before"] == 0.91 and summary["lif_accuracy_by_condition_before"]["NoGo"] == 0.82
    assert {"lif_accuracy_before", "lif_inh_hz_before", "lif_nan_readout_trials_before"} <= set(FinetuneResult.keys())
    assert summary["transfer"]["lif_accuracy"] == 0.9 and summary["transfer"]["scaling_factor"] == 25.0
    assert summary["figures"] == ["training.png", "raster_Go.png", "finetuning.png"]
    assert summary["models"] == ["rate_model.pt", "finetuned_model.pt"]
    assert not flag_failures(dict(summary))["warnings"]  # the search's best factor, 25, is inside its grid
    at_edge = _conversion()
    at_edge.scaling_factor = at_edge.evaluation.scaling_factor = 27.5  # the grid's largest
    edge = RunResult(train, transfer=at_edge, finetune=tuned).summary()
    assert flag_failures(edge)["warnings"] == ["factor_at_grid_edge"]


def test_a_stage_that_did_not_run_leaves_null_keys() -> None:
    """An untrained network is not converted: the conversion's keys are null, nothing is logged for them."""
    rate = RateModelResult("go_nogo", 20, 16, 4, 0.5, 7.0, 0, 60.0, 20.0, 100)
    result = RunResult(TrainResult(rate, 0, False, None, 1.0, 1))
    summary = result.summary()
    assert summary["lif_accuracy"] is None and summary["scaling_factor"] is None and "transfer" not in summary
    assert "lif_accuracy" not in tracking_record(result).metrics
    pruned = _conversion(pruned=True).summary()  # a pruned search: its factor, no evaluation
    assert pruned["scaling_factor"] == 25.0 and pruned["lif_accuracy"] is None


@pytest.mark.long
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
    assert train_run.info.run_name == "go_nogo-N20-seed0-train"
    assert train_run.data.params["model.n_units"] == "20"
    tags = train_run.data.tags
    assert tags["task"] == "go_nogo" and len(tags["git_commit"]) in (40, 7)
    assert tags["mlflow.user"] and tags["mlflow.source.name"].endswith("train.py")
    # constants and bookkeeping are tags, not metrics or params
    assert tags["N"] == "20" and tags["trained"] == "False" and tags["trainer.progress_bar"] == "False"
    assert not {"N", "n_exc", "trained", "eval_trials", "seed"} & set(train_run.data.metrics)
    assert not [p for p in train_run.data.params if p.startswith(("paths.", "logger.", "trainer.progress_bar"))]
    history = client.get_metric_history(train_run.info.run_id, "eval_accuracy")
    assert [m.step for m in history] == trained["training_history"]["trials"] == [100, 200]
    names = {a.path for a in client.list_artifacts(train_run.info.run_id)}
    assert {"rate_model.pt", "rate_model.mat", "summary.json", "training.png", "checkpoints", ".hydra"} <= names

    convert_run = client.get_run(converted["mlflow_run_id"])
    by_factor = converted["lif_accuracy_by_scaling_factor"]
    metrics = convert_run.data.metrics
    assert (metrics["lif_accuracy_s20"], metrics["lif_accuracy_s40"]) == (by_factor["20.0"], by_factor["40.0"])
    # MLflow's table artifact (client.load_table reads through the default tracking URI, so read the file)
    table = json.loads(
        Path(
            client.download_artifacts(convert_run.info.run_id, "lif_accuracy_by_scaling_factor.json", str(tmp_path))
        ).read_text()
    )
    assert table["columns"] == ["scaling_factor", "lif_accuracy"]
    assert table["data"] == [[20.0, by_factor["20.0"]], [40.0, by_factor["40.0"]]]
    assert convert_run.data.tags["source"] == trained["mlflow_run_id"]
    assert convert_run.data.params["transfer.scaling_factors"] == "[20.0, 40.0]"
    assert {"lif_exc_hz", "lif_inh_hz", "lif_accuracy", "scaling_factor", "lif_accuracy.Go"} <= set(metrics)
    evaluate_run = client.get_run(evaluated["mlflow_run_id"])
    assert evaluate_run.data.params["scaling_factor"] == str(converted["scaling_factor"])
    assert evaluate_run.data.params["spiking.t_ref_ms"] == "2.0"  # the stored value, not the null override
    refused = command("evaluate", [f"source={converted['mlflow_run_id']}", "scaling_factor=0"], tmp_path)
    assert refused.returncode == 2 and "scaling_factor must be a number > 0, got 0" in refused.stderr


def test_default_grid_is_logged_as_the_factors_searched(tmp_path: Path) -> None:
    """With no grid given, the params hold the reference grid that was searched, not null."""
    trained = summary_of(command("train", TINY_MODEL, tmp_path))
    converted = summary_of(
        command(
            "convert", [f"source={trained['mlflow_run_id']}", "transfer.trials_per_factor=1", "eval_trials=1"], tmp_path
        )
    )
    params = local_client(tmp_path).get_run(converted["mlflow_run_id"]).data.params
    grid = [float(s) for s in converted["lif_accuracy_by_scaling_factor"]]
    assert params["transfer.scaling_factors"] == str(grid) and grid == SIGMOID_GRID


def test_artifacts_are_stored_once_and_readable(tmp_path: Path) -> None:
    """The local artifact store links the run folder's files (one copy on disk); models are 0644."""
    summary = summary_of(command("train", TINY_MODEL, tmp_path))
    run = local_client(tmp_path).get_run(summary["mlflow_run_id"])
    folder = Path(run.data.tags["run_folder"])
    logged = Path(local_file_uri_to_path(run.info.artifact_uri))
    for name in ("rate_model.pt", "rate_model.mat", "summary.json", "checkpoints/last.ckpt"):
        assert (folder / name).samefile(logged / name), name
    assert stat.S_IMODE((folder / "rate_model.pt").stat().st_mode) & 0o044 == 0o044


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


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and served artifacts."""
    server = MlflowServer(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server-artifacts", tmp_path / "server.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_pipeline_against_a_real_mlflow_server(tmp_path: Path, mlflow_server: str) -> None:
    out = tmp_path / "outputs"
    proc = command("run", [*TINY_MODEL, *TINY_SPIKING], out, MLFLOW_TRACKING_URI=mlflow_server)
    print(proc.stdout)
    summary = summary_of(proc)
    assert not (out / "mlflow.db").exists()  # nothing went to the embedded store
    client = MlflowClient(mlflow_server)
    run = client.get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.n_units"] == "20" and run.data.params["spiking.t_ref_ms"] == "2.0"
    # fine-tuning is off and the search is the grid: their settings changed nothing, so are not params
    assert [k for k in run.data.params if k.startswith("finetune.")] == ["finetune.enabled"]
    assert not {"transfer.round_trials", "transfer.race_z", "transfer.rescore_trials"} & set(run.data.params)
    assert run.data.metrics["lif_accuracy"] == summary["lif_accuracy"]
    assert run.data.metrics["scaling_factor"] == summary["scaling_factor"]
    assert {"lif_accuracy_s20", "lif_accuracy_s40"} <= set(run.data.metrics)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"rate_model.pt", "rate_model.mat", "converted_model.pt", "summary.json", "accuracy_by_factor.png"} <= names
    local = client.download_artifacts(run.info.run_id, "summary.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["lif_accuracy"] == summary["lif_accuracy"]
