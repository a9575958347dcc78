"""``spikernn-convert``: transfer a trained rate model (path or MLflow run id) and search its factor."""

from __future__ import annotations

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import ConvertConfig, build_convert_config
from spikernn.apps.runner import CommandContext, execute, objective_value, source_summary, source_tags
from spikernn.pipeline import convert_stage


def convert(cfg: ConvertConfig, ctx: CommandContext) -> dict:
    src = cfg.source
    return {
        **source_summary(cfg),
        **convert_stage(
            src.model,
            src.task,
            cfg.spiking,
            cfg.transfer,
            cfg.seed,
            cfg.eval_trials,
            ctx.out_dir,
            ctx.progress,
            ctx.monitor,
        ),
    }


@command("convert")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-convert", build_convert_config, convert, source_tags)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
