"""A model given by path, or by MLflow URI: a run (``runs:/<id>``, the bare run id, or
``runs:/<id>/<path>``: a file or a logged model of the run) or a logged or registered model
(``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/m-<id>``).

Only the model file is taken from what MLflow holds (a logged model's ``artifacts/<file>``); it is
read like any model file, with the same checks (``io.load_rate_model``): the pyfunc wrapper around it
is never loaded, so nothing from the store is run.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from spikernn.validation import ConfigError, ModelFileError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?$")
RUN_PATH = re.compile(r"^runs:/([0-9a-f]{32})/(.+)$")
MODEL_URI = re.compile(r"^models:/[^/@]+(?:/[^/]+|@[^/]+)?/?$")
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
ALLOWED = (
    "a model file (.pt or reference .mat), an MLflow run id, runs:/<run id>[/<path>] or "
    "models:/<name>/<version> (also models:/<name>@<alias>)"
)


def resolve_model_source(source: str, tracking_uri: str, artifacts: tuple[str, ...], dest: Path) -> Path:
    """A local model file for ``source``: the path itself, or the first of ``artifacts`` that the
    run or model ``source`` holds, downloaded into ``dest``. Raises ``ConfigError`` naming ``source``."""
    if not source:
        raise ConfigError(f"source is required: {ALLOWED}")
    path = Path(source).expanduser()
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise ModelFileError(f"source: {path}: permission denied (the file cannot be read)")
        return path
    if path.is_dir():
        raise ConfigError(f"source: {path} is a folder; give the model file in it (rate_model.pt, converted_model.pt)")
    if MODEL_URI.match(source):
        _require_store(source, tracking_uri)
        return _model_file(_download(source, tracking_uri, dest), source, artifacts)
    if match := RUN_PATH.match(source):
        _require_run(match.group(1), tracking_uri)
        return _model_file(_download(source, tracking_uri, dest), source, artifacts)
    match = RUN_ID.match(source)
    if match is None:
        raise ConfigError(f"source: {source!r} is neither an existing file nor {ALLOWED.split(', ', 1)[1]}")
    run_id = match.group(1)
    client = _require_run(run_id, tracking_uri)
    logged = {a.path for a in client.list_artifacts(run_id)}
    for name in artifacts:
        if name in logged:
            dest.mkdir(parents=True, exist_ok=True)
            return Path(client.download_artifacts(run_id, name, str(dest)))
    raise ConfigError(f"source: MLflow run {run_id} logged none of {list(artifacts)} ({tracking_uri})")


def _require_store(source: str, tracking_uri: str) -> None:
    """Looking a run or model up must not create an empty local store."""
    if tracking_uri.startswith("sqlite:///"):
        store = Path(tracking_uri.removeprefix("sqlite:///"))
        if not store.is_file():
            raise ConfigError(f"source: {source} not found: there is no MLflow store at {store}")


def _require_run(run_id: str, tracking_uri: str) -> MlflowClient:
    _require_store(f"MLflow run {run_id}", tracking_uri)
    import mlflow  # here and in _download: a model file given by path is checked without MLflow

    client = mlflow.MlflowClient(tracking_uri)
    try:
        client.get_run(run_id)
    except mlflow.exceptions.MlflowException as err:
        raise ConfigError(f"source: no MLflow run {run_id} in {tracking_uri}") from err
    return client


@contextlib.contextmanager
def quiet_downloads() -> Iterator[None]:
    """No per-file "Downloading artifacts" bars from MLflow (a model is a handful of small files)."""
    previous = os.environ.get(PROGRESS_BAR)
    os.environ[PROGRESS_BAR] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_BAR, None)
        else:
            os.environ[PROGRESS_BAR] = previous


def _download(uri: str, tracking_uri: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    # MLflow resolves models:/ through the process-wide URIs, whatever download_artifacts is given
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        with quiet_downloads():
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(dest), tracking_uri=tracking_uri, registry_uri=tracking_uri
            )
    except (mlflow.exceptions.MlflowException, OSError) as err:
        raise ConfigError(f"source: {uri} is not in the MLflow store {tracking_uri} ({_first_line(err)})") from None
    return Path(local)


def _model_file(local: Path, source: str, artifacts: tuple[str, ...]) -> Path:
    """``local`` itself (a downloaded file) or the first of ``artifacts`` in a downloaded model folder."""
    if local.is_file():
        return local
    for name in artifacts:
        for candidate in (local / "artifacts" / name, local / name):
            if candidate.is_file():
                return candidate
    raise ConfigError(f"source: {source} holds none of {list(artifacts)}")


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
