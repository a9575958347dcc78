"""The figure scripts under ``experiments/`` read back what the commands log to MLflow: here from a
store written with the package's own record of a run (``spikernn.results.tracking_record``), so a
change of what goes to MLflow that a script does not follow shows up as a wrong table."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from spikernn.results import RateModelResult, RunResult, TrainResult, tracking_record

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """An empty MLflow store the scripts read, and their results folder, both under tmp_path."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    return MlflowClient(uri)


def _log_run(client: MlflowClient, experiment: str, params: dict, trained: bool, lif_accuracy: float) -> None:
    """A FINISHED ``spikernn-run`` whose training metrics and tags are those the runner logs."""
    model = RateModelResult("mante", 250, 200, 50, 0.98, 5.0, 0, 35.0, 9.0, 200)
    record = tracking_record(RunResult(TrainResult(model, seed=int(params["seed"]), trained=trained,
                                                   trials_to_criterion=4000 if trained else None,
                                                   training_seconds=1.0, population_size=1)))  # fmt: skip
    found = client.get_experiment_by_name(experiment)
    eid = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(eid, tags={**record.tags, "command": "spikernn-run"})
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    for key, value in {**record.metrics, "lif_accuracy": lif_accuracy}.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, "FINISHED")


def test_fig6c_counts_the_networks_that_trained(store: MlflowClient, tmp_path: Path) -> None:
    """Fig. 6C's "trained" column: one of two networks per gain met the criterion."""
    for gain in ("0.5", "3.0"):
        for seed, trained in ((0, True), (1, False)):
            _log_run(store, "fig6c", {"seed": seed, "model.gain": gain}, trained, 0.97)
    store.create_experiment("figS7")
    import fig6c_S7

    fig6c_S7.main()
    table = (tmp_path / "results" / "fig6c.md").read_text()
    assert "| 0.5 | 1/2 |" in table and "| 3 | 1/2 |" in table, table
