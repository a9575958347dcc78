"""MLflow tracking of runs: the store, the run's lifecycle, and model sources by path or run id.

MLflow is imported when one of its parts is first used (``TrackedRun``, ``resolve_model_source``),
not with the package: a command checks its config (``LoggerConfig``) before it pays for MLflow.
"""

from __future__ import annotations

import importlib
from typing import Any

from spikernn.tracking.folders import register_resolvers
from spikernn.tracking.logger_config import LoggerConfig

register_resolvers()  # run folder names in conf/hydra/default.yaml

_LAZY = {"TrackedRun": "spikernn.tracking.run", "flatten": "spikernn.tracking.run",
         "resolve_model_source": "spikernn.tracking.sources"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spikernn.tracking' has no attribute {name!r}")


__all__ = ["TrackedRun", "LoggerConfig", "flatten", "resolve_model_source"]
