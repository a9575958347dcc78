"""The ``logger`` group's settings: where and how a command records its run.

A plain dataclass (no MLflow), so a command checks it before it imports MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spikernn.validation import ConfigError

LOCAL_DB = "mlflow.db"  # the embedded store's file in the output folder


def resolve_tracking_uri(uri: str | None, output_dir: str | Path) -> str:
    """``uri`` as given, or the embedded SQLite store ``<output_dir>/mlflow.db`` (absolute path)."""
    if uri:
        return uri
    path = Path(output_dir).resolve()
    return f"sqlite:///{path / LOCAL_DB}"


@dataclass
class LoggerConfig:
    """``logger/mlflow.yaml``: ``tracking_uri`` null = SQLite under the output folder (or
    ``MLFLOW_TRACKING_URI``); ``parent_run_id`` nests this run under another (sweeps).
    ``figures`` and ``log_models`` false leave out what a run of a hundred-network population does
    not need (the numbers, ``summary.json`` and the model files are written all the same)."""

    tracking_uri: str | None = None
    experiment_name: str = "spikernn"
    run_name: str | None = None
    parent_run_id: str | None = None
    register_as: str | None = None  # register the command's model in MLflow's registry under this name
    figures: bool = True  # draw the run's figures (training, accuracy by factor, readouts, rasters)
    log_models: bool = True  # log rate_model / spiking_model as MLflow models (pyfunc, signature, example)

    def __post_init__(self) -> None:
        for name in ("figures", "log_models"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"logger.{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.experiment_name, str) or not self.experiment_name.strip():
            raise ConfigError(f"logger.experiment_name must be a non-empty string, got {self.experiment_name!r}")
        if self.register_as is not None and (not isinstance(self.register_as, str) or not self.register_as.strip()):
            raise ConfigError(f"logger.register_as must be a model name (text) or null, got {self.register_as!r}")
