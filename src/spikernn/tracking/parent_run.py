"""The MLflow run a multirun's jobs are nested under: a population launch's or a sweep's.

Both open it in the store and experiment of the jobs' ``logger`` group, tag it like a command's run
(MLflow's user and source — the UI's "Created by" and "Source" — this process, the task), log the
condition the jobs make when they end (metrics, tags, a table) and end it with the launch's status.
A parent left RUNNING by a killed process carries the process tags, so the next command closes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.time import get_current_time_millis
from omegaconf import DictConfig, OmegaConf

from spikernn.tracking.run import process_tags
from spikernn.tracking.store import ensure_experiment, open_tracking_store, retrying


def tracking_store(config: DictConfig) -> tuple[MlflowClient, str]:
    """A client on the store of ``config.logger`` and the id of its experiment (made if missing)."""
    logger = OmegaConf.to_container(config.logger, resolve=True)
    output_dir = config.paths.output_dir
    uri = open_tracking_store(logger.get("tracking_uri"), output_dir)
    client = MlflowClient(uri)
    return client, ensure_experiment(client, logger["experiment_name"], output_dir, uri)


@dataclass
class ParentRun:
    """An open parent run: ``client`` on its store, its ``run_id`` and ``experiment_id``."""

    client: MlflowClient
    run_id: str
    experiment_id: str

    @classmethod
    def create(cls, config: DictConfig, run_name: str, tags: dict[str, str]) -> ParentRun:
        """A new parent run named ``run_name`` with ``tags``, the config's task and this process."""
        client, experiment_id = tracking_store(config)
        tags = {**resolve_tags(), **process_tags(), **tags}
        if task := OmegaConf.select(config, "task.name", default=None):  # a model's sweep: its trials' task
            tags["task"] = str(task)
        run = retrying(lambda: client.create_run(experiment_id, run_name=run_name, tags=tags))
        return cls(client, run.info.run_id, experiment_id)

    def log(self, metrics: dict[str, float], tags: dict[str, str] | None = None) -> None:
        """Log ``metrics`` and ``tags`` in one batch."""
        stamp = get_current_time_millis()
        items = [Metric(k, float(v), stamp, 0) for k, v in metrics.items()]
        labels = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        retrying(lambda: self.client.log_batch(self.run_id, metrics=items, tags=labels))

    def log_params(self, params: dict[str, str]) -> None:
        """The settings the run's jobs share, as params (MLflow keeps at most 100 per batch)."""
        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), 100):
            retrying(lambda batch=items[start : start + 100]: self.client.log_batch(self.run_id, params=batch))

    def log_table(self, table: dict[str, list], artifact_file: str) -> None:
        """A table (column → values) for MLflow's table view, replacing one logged before."""
        retrying(lambda: self.client.log_table(self.run_id, data=table, artifact_file=artifact_file))

    def log_files(self, paths: list) -> None:
        """Files (e.g. a figure's PNG and SVG) as artifacts at the top of the run."""
        for path in paths:
            retrying(lambda path=path: self.client.log_artifact(self.run_id, str(path)))

    def end(self, status: str) -> None:
        retrying(lambda: self.client.set_terminated(self.run_id, status))
