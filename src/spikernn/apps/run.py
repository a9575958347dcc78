"""``spikernn-run``: train → convert → factor search → evaluate, in one tracked run."""

from __future__ import annotations

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import build_run_config
from spikernn.apps.population import training_source
from spikernn.apps.runner import CommandContext, execute, objective_value, run_tags
from spikernn.pipeline import RunConfig, run_pipeline


def run_all(cfg: RunConfig, ctx: CommandContext) -> dict:
    member, callbacks = training_source(ctx.run)
    return run_pipeline(cfg, ctx.out_dir, ctx.progress, callbacks=callbacks, monitor=ctx.monitor, trained=member)


@command("run")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-run", build_run_config, run_all, run_tags)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
