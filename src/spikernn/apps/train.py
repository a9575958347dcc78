"""``spikernn-train``: train a rate model to the paper's criterion, in one tracked run.

Lightning and MLflow are imported once the config has passed (see ``spikernn.apps.run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import build_run_config
from spikernn.run_config import RunConfig

if TYPE_CHECKING:
    from spikernn.apps.runner import CommandContext
    from spikernn.results import TrainResult


def train(cfg: RunConfig, ctx: CommandContext) -> TrainResult:
    from spikernn.apps.trained_networks import training_source
    from spikernn.pipeline import train_stage

    member, callbacks = training_source(ctx.run)
    _, result = train_stage(cfg, ctx.out_dir, callbacks=callbacks, trained=member, figures=ctx.figures)
    return result


@command("train")
def main(cfg: DictConfig) -> float | list[float]:
    from spikernn.apps.runner import execute, objective_value, run_label

    summary = execute(cfg, "spikernn-train", build_run_config, train, run_label)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
