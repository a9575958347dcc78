"""``spikernn-train``: train a rate model to the paper's criterion, in one tracked run."""

from __future__ import annotations

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import build_run_config
from spikernn.apps.population import training_source
from spikernn.apps.runner import CommandContext, execute, objective_value, run_tags
from spikernn.pipeline import RunConfig, train_stage
from spikernn.tasks import get_task


def train(cfg: RunConfig, ctx: CommandContext) -> dict:
    member, callbacks = training_source(ctx.run)
    task = get_task(cfg.task)
    _, summary = train_stage(task, cfg.model, cfg.trainer, cfg.seed, cfg.eval_trials, ctx.out_dir, callbacks, member)
    return summary


@command("train")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-train", build_run_config, train, run_tags)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
