"""A model given by path, or by the MLflow run that logged it (``runs:/<id>`` or the bare run id)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from spikernn.validation import ConfigError, ModelFileError

RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?$")


def resolve_model_source(source: str, tracking_uri: str, artifacts: tuple[str, ...], dest: Path) -> Path:
    """A local model file for ``source``: the path itself, or the first of ``artifacts`` that the
    run ``source`` logged, downloaded into ``dest``. Raises ``ConfigError`` naming ``source``."""
    if not source:
        raise ConfigError("source is required: a model file (.pt or reference .mat) or an MLflow run id")
    path = Path(source).expanduser()
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise ModelFileError(f"source: {path}: permission denied (the file cannot be read)")
        return path
    if path.is_dir():
        raise ConfigError(f"source: {path} is a folder; give the model file in it (rate_model.pt, converted_model.pt)")
    match = RUN_ID.match(source)
    if match is None:
        raise ConfigError(f"source: {source!r} is neither an existing file nor an MLflow run id (32 hex digits)")
    run_id = match.group(1)
    if tracking_uri.startswith("sqlite:///"):
        store = Path(tracking_uri.removeprefix("sqlite:///"))
        if not store.is_file():  # looking a run up must not create an empty store
            raise ConfigError(f"source: no MLflow run {run_id}: there is no MLflow store at {store}")
    client = MlflowClient(tracking_uri)
    try:
        client.get_run(run_id)
    except MlflowException as err:
        raise ConfigError(f"source: no MLflow run {run_id} in {tracking_uri}") from err
    logged = {a.path for a in client.list_artifacts(run_id)}
    for name in artifacts:
        if name in logged:
            dest.mkdir(parents=True, exist_ok=True)
            return Path(client.download_artifacts(run_id, name, str(dest)))
    raise ConfigError(f"source: MLflow run {run_id} logged none of {list(artifacts)} ({tracking_uri})")
