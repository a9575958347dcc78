"""Where runs are tracked: a local SQLite store under ``outputs/`` by default, any tracking URI else."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

T = TypeVar("T")

LOCAL_DB = "mlflow.db"
LOCAL_ARTIFACTS = "mlartifacts"


def resolve_tracking_uri(uri: str | None, output_dir: str | Path) -> str:
    """``uri`` as given, or the embedded SQLite store ``<output_dir>/mlflow.db`` (absolute path)."""
    if uri:
        return uri
    path = Path(output_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / LOCAL_DB}"


def retrying(call: Callable[[], T], attempts: int = 20, wait_s: float = 0.1) -> T:
    """Run ``call``, retrying while a concurrent writer holds the SQLite store ("database is locked")."""
    for attempt in range(attempts):
        try:
            return call()
        except MlflowException as err:
            if "database is locked" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(wait_s * (attempt + 1))
    raise AssertionError("unreachable")


def ensure_experiment(client: MlflowClient, name: str, output_dir: str | Path, tracking_uri: str) -> str:
    """The id of experiment ``name``, created if missing (safe when several processes race to create it).

    On the embedded SQLite store, artifacts go to ``<output_dir>/mlartifacts``; a server decides itself.
    """
    found = retrying(lambda: client.get_experiment_by_name(name))
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(output_dir).resolve() / LOCAL_ARTIFACTS).as_uri()
    try:
        return retrying(lambda: client.create_experiment(name, artifact_location=location))
    except MlflowException:
        found = client.get_experiment_by_name(name)  # another process created it first
        if found is None:
            raise
        return found.experiment_id
