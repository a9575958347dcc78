"""``spikernn-finetune``: surrogate-gradient fine-tuning of a converted model (path or MLflow run id).

Lightning and MLflow are imported once the config has passed (see ``spikernn.apps.run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import FinetuneCommandConfig, build_finetune_config
from spikernn.io.files import CONVERTED_MODEL_FILE

if TYPE_CHECKING:
    from spikernn.apps.runner import CommandContext
    from spikernn.results import FromSource


def finetune(cfg: FinetuneCommandConfig, ctx: CommandContext) -> FromSource:
    """Writes the fine-tuned network as ``converted_model.pt``, so ``spikernn-evaluate`` and
    ``spikernn-finetune`` take this run's id as their source."""
    from spikernn.apps.runner import log_finetuning_curves, source_result
    from spikernn.finetune import finetune_stage
    from spikernn.results import FromSource

    src = cfg.source
    tuned = finetune_stage(
        src.model,
        src.task,
        cfg.spiking,
        cfg.scaling_factor,
        cfg.finetune,
        cfg.seed,
        cfg.eval_trials,
        ctx.out_dir,
        model_file=CONVERTED_MODEL_FILE,
        progress=ctx.progress,
        figures=ctx.figures,
    )
    log_finetuning_curves(ctx, tuned.finetune_record)
    return FromSource(source_result(cfg), tuned)


def effective(cfg: FinetuneCommandConfig) -> dict:
    return {"spiking": cfg.spiking.to_dict(), "scaling_factor": cfg.scaling_factor}


@command("finetune")
def main(cfg: DictConfig) -> float | list[float]:
    from spikernn.apps.runner import execute, objective_value, source_label

    summary = execute(cfg, "spikernn-finetune", build_finetune_config, finetune, source_label, effective)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
