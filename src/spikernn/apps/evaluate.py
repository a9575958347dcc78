"""``spikernn-evaluate``: score a converted model (path or MLflow run id) on fresh trials."""

from __future__ import annotations

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import EvaluateConfig, build_evaluate_config
from spikernn.apps.runner import CommandContext, execute, objective_value, source_summary, source_tags
from spikernn.pipeline import evaluate_stage


def evaluate(cfg: EvaluateConfig, ctx: CommandContext) -> dict:
    src = cfg.source
    return {
        **source_summary(cfg),
        "spiking": cfg.spiking.to_dict(),
        **evaluate_stage(
            src.model, src.task, cfg.spiking, cfg.scaling_factor, cfg.seed, cfg.eval_trials, ctx.out_dir, ctx.progress
        ),
    }


def effective(cfg: EvaluateConfig) -> dict:
    return {"spiking": cfg.spiking.to_dict(), "scaling_factor": cfg.scaling_factor}


@command("evaluate")
def main(cfg: DictConfig) -> float | list[float]:
    summary = execute(cfg, "spikernn-evaluate", build_evaluate_config, evaluate, source_tags, effective)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
