"""``spikernn-train``: train a rate model to the paper's criterion, in one tracked run."""

from __future__ import annotations

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import build_run_config
from spikernn.apps.population import training_source
from spikernn.apps.runner import CommandContext, execute, objective_value, run_label
from spikernn.pipeline import RunConfig, train_stage
from spikernn.results import TrainResult


def train(cfg: RunConfig, ctx: CommandContext) -> TrainResult:
    member, callbacks = training_source(ctx.run)
    _, result = train_stage(cfg, ctx.out_dir, callbacks=callbacks, trained=member)
    return result


@command("train")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-train", build_run_config, train, run_label)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
