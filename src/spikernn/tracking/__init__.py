"""MLflow tracking of runs: the store, the run's lifecycle, and model sources by path or run id."""

from spikernn.tracking.folders import register_resolvers
from spikernn.tracking.run import LoggerConfig, TrackedRun, flatten
from spikernn.tracking.sources import resolve_model_source

register_resolvers()  # run folder names in conf/hydra/default.yaml

__all__ = ["TrackedRun", "LoggerConfig", "flatten", "resolve_model_source"]
