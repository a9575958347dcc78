"""``spikernn-run``: train → convert → factor search → evaluate, in one tracked run."""

from __future__ import annotations

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import build_run_config
from spikernn.apps.population import training_source
from spikernn.apps.runner import CommandContext, execute, objective_value, run_label
from spikernn.pipeline import RunConfig, factor_grid_of, run_pipeline
from spikernn.results import RunResult


def run_all(cfg: RunConfig, ctx: CommandContext) -> RunResult:
    member, callbacks = training_source(ctx.run)
    return run_pipeline(
        cfg, ctx.out_dir, progress=ctx.progress, callbacks=callbacks, monitor=ctx.monitor, trained=member
    )


def effective(cfg: RunConfig) -> dict:
    """The factor grid searched (the reference grid of the activation when none is given)."""
    return {"transfer": {"scaling_factors": factor_grid_of(cfg.transfer, cfg.model.activation)}}


@command("run")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-run", build_run_config, run_all, run_label, effective)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
