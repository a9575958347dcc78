"""Jobs of a multirun that a FINISHED MLflow run already did, found by the run's ``job_key`` tag.

A launch killed halfway (Ctrl-C, ``scancel``, a node lost) is continued by running the same command
again: the launchers (``hydra/launcher=population``, ``hydra/launcher=slurm``) look each job up here
and return the run that finished it (its ``summary.json`` as the job's value) instead of running it
again. The key (:func:`spikernn.apps.identity.job_key`) covers the command, the experiment's
parameters and the code, so a job whose settings or code changed runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from spikernn.apps.command import job_config
from spikernn.apps.identity import job_key
from spikernn.apps.runner import split_params
from spikernn.tracking.store import open_tracking_store, retrying

log = logging.getLogger(__name__)


def finished_jobs(jobs: Sequence[tuple[int, Sequence[str], DictConfig]], name: str) -> dict[int, JobReturn]:
    """Of ``jobs`` (number, overrides, config) of command ``spikernn-<name>``, those a FINISHED run of
    their MLflow experiment carries the ``job_key`` of, as that run's return. Jobs of an Optuna sweep
    are left to the sweeper."""
    command = f"spikernn-{name}"
    done: dict[int, JobReturn] = {}
    experiments: dict[tuple, tuple] = {}  # opened once per store and experiment, not per job
    for num, overrides, config in jobs:
        HydraConfig.instance().set_config(config)
        raw = job_config(config)
        if raw.get("optuna") is not None or "logger" not in raw:
            continue
        logger = raw["logger"]
        where = (logger.get("tracking_uri"), raw["paths"]["output_dir"], logger["experiment_name"])
        if where not in experiments:
            client = MlflowClient(open_tracking_store(where[0], where[1]))
            experiments[where] = (client, retrying(lambda c=client, n=where[2]: c.get_experiment_by_name(n)))
        client, experiment = experiments[where]
        if experiment is None:
            continue
        query = f"attributes.status = 'FINISHED' and tags.job_key = '{job_key(command, split_params(raw)[0])}'"
        runs = retrying(
            lambda c=client, e=experiment.experiment_id, q=query: c.search_runs(
                [e], q, max_results=1, order_by=["attributes.end_time DESC"]
            )
        )
        if runs:
            done[num] = _done_before(num, overrides, config, runs[0])
    return done


def _done_before(num: int, overrides: Sequence[str], config: DictConfig, run: object) -> JobReturn:
    """The return of job ``num`` that finished before as MLflow run ``run``."""
    import mlflow.artifacts

    folder = run.data.tags.get("run_folder")
    log.info(
        f"\t#{num} : {' '.join(filter_overrides(overrides))} — finished before as MLflow run "
        f"{run.info.run_id} ({folder}): not run again"
    )
    try:
        summary = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/summary.json")
    except Exception as err:  # noqa: BLE001 - the store's own errors vary by backend
        log.warning(f"job #{num}: the summary of run {run.info.run_id} could not be read ({err})")
        summary = None
    return JobReturn(
        overrides=list(overrides),
        cfg=config,
        hydra_cfg=config.hydra,
        working_dir=folder,
        task_name=config.hydra.job.name,
        status=JobStatus.COMPLETED,
        _return_value=summary,
    )
