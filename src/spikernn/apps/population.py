"""Networks trained by ``hydra/launcher=population``, handed to their jobs in the same process.

The launcher trains a group of compatible jobs as one population (``train_population``), then runs
each job as usual; a job that finds its member here skips training and goes on with the rest of its
command (conversion, evaluation, files, MLflow run) exactly as a job trained alone would.
"""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from pytorch_lightning.loggers import Logger

from spikernn.rate.training import MemberResult
from spikernn.tracking.run import TrackedRun
from spikernn.tracking.training_metrics import log_training_record, run_logger

_TRAINED: dict[int, MemberResult] = {}  # by Hydra job number


def hand_over(job_num: int, member: MemberResult) -> None:
    """Called by the launcher before it runs job ``job_num``."""
    _TRAINED[job_num] = member


def take_member() -> MemberResult | None:
    """This job's population-trained network, if the launcher trained it (removed once taken)."""
    if not HydraConfig.initialized():
        return None
    num = OmegaConf.select(HydraConfig.get(), "job.num", default=None)
    return None if num is None else _TRAINED.pop(int(num), None)


def training_source(run: TrackedRun) -> tuple[MemberResult | None, list[Logger]]:
    """This job's trained member (its criterion history logged to ``run`` now) and nothing for the
    trainer, or none and Lightning's ``MLFlowLogger`` on ``run`` for the job's training."""
    member = take_member()
    if member is None:
        return None, [run_logger(run)]
    log_training_record(run, member.record)
    run.set_tags({"population_size": str(member.population_size)})
    return member, []
