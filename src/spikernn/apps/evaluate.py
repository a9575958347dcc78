"""``spikernn-evaluate``: score a converted model (path or MLflow run id) on fresh trials.

Lightning and MLflow are imported once the config has passed (see ``spikernn.apps.run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import EvaluateConfig, build_evaluate_config

if TYPE_CHECKING:
    from spikernn.apps.runner import CommandContext
    from spikernn.results import FromSource


def evaluate(cfg: EvaluateConfig, ctx: CommandContext) -> FromSource:
    from spikernn.apps.runner import source_result
    from spikernn.pipeline import evaluate_stage
    from spikernn.results import FromSource

    src = cfg.source
    evaluation = evaluate_stage(
        src.model, src.task, cfg, cfg.scaling_factor, ctx.out_dir, progress=ctx.progress, stimulation=cfg.stimulation,
        figures=ctx.figures,
    )  # fmt: skip
    return FromSource(source_result(cfg), evaluation)


def effective(cfg: EvaluateConfig) -> dict:
    """The spiking parameters and factor used: those stored with the model unless overridden."""
    return {"spiking": cfg.spiking.to_dict(), "scaling_factor": cfg.scaling_factor}


@command("evaluate")
def main(cfg: DictConfig) -> float | list[float]:
    from spikernn.apps.runner import execute, objective_value, source_label

    summary = execute(cfg, "spikernn-evaluate", build_evaluate_config, evaluate, source_label, effective)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
