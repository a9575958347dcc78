"""What the tests that launch commands share: the environment of a command writing into a folder of
its own, and the overrides of a tiny training and a tiny ``spikernn-run`` (N = 20, seconds)."""

from __future__ import annotations

import os
from pathlib import Path

TINY_RUN = [
    "model.n_units=20",
    "trainer.max_trials=200",
    "trainer.batch_size=20",
    "transfer.trials_per_factor=4",
    "eval_trials=4",
    "transfer.scaling_factors=[20,40]",
    "trainer.progress_bar=false",
]
TINY_TRAINING = [
    "model.n_units=20",
    "trainer.max_trials=100",
    "trainer.batch_size=20",
    "trainer.progress_bar=false",
    "eval_trials=4",
]


def command_environment(out: Path) -> dict:
    """The environment of a command whose outputs and embedded MLflow store go to ``out``."""
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(out)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env
