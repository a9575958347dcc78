"""``spikernn-run``: train → convert → factor search → evaluate, in one tracked run."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from spikernn.apps.config import build_run_config, config_dir
from spikernn.apps.progress import PhaseProgress
from spikernn.apps.runner import execute
from spikernn.pipeline import RunConfig, run_pipeline
from spikernn.tracking import TrackedRun
from spikernn.tracking.training_metrics import TrainingMetrics


def run_all(cfg: RunConfig, out_dir: Path, run: TrackedRun, progress: PhaseProgress) -> dict:
    return run_pipeline(cfg, out_dir, progress, callbacks=[TrainingMetrics(run)])


@hydra.main(config_path=config_dir(), config_name="run")
def main(cfg: DictConfig) -> float:
    summary = execute(cfg, "spikernn-run", build_run_config, run_all, lambda c: {"task": c.task, "seed": str(c.seed)})
    return summary[cfg.objective]


if __name__ == "__main__":
    main()
