"""``spikernn-convert``: transfer a trained rate model (path or MLflow run id) and search its factor.

Lightning and MLflow are imported once the config has passed (see ``spikernn.apps.run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from spikernn.apps.command import command
from spikernn.apps.config import ConvertConfig, build_convert_config
from spikernn.transfer_config import factor_grid_of

if TYPE_CHECKING:
    from spikernn.apps.runner import CommandContext
    from spikernn.results import FromSource


def convert(cfg: ConvertConfig, ctx: CommandContext) -> FromSource:
    from spikernn.apps.runner import source_result
    from spikernn.pipeline import convert_stage
    from spikernn.results import FromSource

    src = cfg.source
    conversion = convert_stage(
        src.model, src.task, cfg, ctx.out_dir, progress=ctx.progress, monitor=ctx.monitor, figures=ctx.figures
    )
    return FromSource(source_result(cfg), conversion)


def effective(cfg: ConvertConfig) -> dict:
    """The factor grid searched (the reference grid of the model's activation when none is given)."""
    return {"transfer": {"scaling_factors": factor_grid_of(cfg.transfer, cfg.source.model.config.activation)}}


@command("convert")
def main(cfg: DictConfig) -> float | list[float]:
    from spikernn.apps.runner import execute, objective_value, source_label

    summary = execute(cfg, "spikernn-convert", build_convert_config, convert, source_label, effective)
    return objective_value(summary, cfg.objective)


if __name__ == "__main__":
    main()
