"""``spikernn-run``: train → convert → factor search → evaluate, in one tracked run.

The modules that do the work (Lightning, MLflow, matplotlib) are imported once the config has
passed: ``--help`` and a refused value answer without them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import build_run_config
from spikernn.run_config import RunConfig
from spikernn.transfer_config import factor_grid_of

if TYPE_CHECKING:
    from spikernn.apps.runner import CommandContext
    from spikernn.results import RunResult


def run_all(cfg: RunConfig, ctx: CommandContext) -> RunResult:
    from spikernn.apps.runner import log_finetuning_curves
    from spikernn.apps.trained_networks import training_source
    from spikernn.pipeline import run_pipeline

    member, callbacks = training_source(ctx.run)
    result = run_pipeline(
        cfg, ctx.out_dir, progress=ctx.progress, callbacks=callbacks, monitor=ctx.monitor, trained=member,
        figures=ctx.figures,
    )  # fmt: skip
    if result.finetune is not None:
        log_finetuning_curves(ctx, result.finetune.finetune_record)
    return result


def effective(cfg: RunConfig) -> dict:
    """The factor grid searched (the reference grid of the activation when none is given)."""
    return {"transfer": {"scaling_factors": factor_grid_of(cfg.transfer, cfg.model.activation)}}


@command("run")
def main(cfg: DictConfig) -> float | list[float]:
    from spikernn.apps.runner import execute, objective_value, run_label

    summary = execute(cfg, "spikernn-run", build_run_config, run_all, run_label, effective)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
