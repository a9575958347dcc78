"""``spikernn-run``: train → convert → factor search → evaluate, in one tracked run."""

from __future__ import annotations

from omegaconf import DictConfig

from spikernn.apps.config import build_run_config, command
from spikernn.apps.runner import CommandContext, execute, objective_value, run_tags
from spikernn.pipeline import RunConfig, run_pipeline
from spikernn.tracking.training_metrics import TrainingMetrics


def run_all(cfg: RunConfig, ctx: CommandContext) -> dict:
    return run_pipeline(cfg, ctx.out_dir, ctx.progress, callbacks=[TrainingMetrics(ctx.run)], monitor=ctx.monitor)


@command("run")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-run", build_run_config, run_all, run_tags)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
