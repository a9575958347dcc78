"""``spikernn-convert``: transfer a trained rate model (path or MLflow run id) and search its factor."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from spikernn.apps.config import ConvertConfig, build_convert_config, config_dir
from spikernn.apps.runner import CommandContext, execute, objective_value
from spikernn.pipeline import convert_stage, rate_model_summary


def convert(cfg: ConvertConfig, ctx: CommandContext) -> dict:
    src = cfg.source
    summary = {
        **rate_model_summary(src.model, src.task, cfg.seed, cfg.eval_trials),
        "source": src.source,
        "seed": cfg.seed,
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
    return summary


def tags(cfg: ConvertConfig) -> dict:
    return {"task": cfg.source.task.name, "seed": str(cfg.seed), "source": cfg.source.source}


@hydra.main(config_path=config_dir(), config_name="convert")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-convert", build_convert_config, convert, tags)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
