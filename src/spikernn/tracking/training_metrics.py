"""Training metrics in the command's MLflow run through Lightning's ``MLFlowLogger``: live while the
job trains (the trainer's logger), or all at once for a network trained in a population."""

from __future__ import annotations

from pytorch_lightning.loggers import MLFlowLogger

from spikernn.rate.criterion import TrainingRecord
from spikernn.tracking.run import TrackedRun


class CommandRunLogger(MLFlowLogger):
    """``MLFlowLogger`` attached to the command's existing run; it never ends that run (Lightning's
    ``finalize`` would set it FINISHED or FAILED when training ends): the command closes it with its
    own status (FINISHED, FAILED, or KILLED when interrupted) once everything is logged."""

    def finalize(self, status: str = "success") -> None:
        """Nothing to flush (metrics are sent as logged); the run stays open."""


def run_logger(run: TrackedRun) -> CommandRunLogger:
    """Lightning's logger for ``run``: the trainer logs ``train_loss``, ``eval_loss`` and
    ``eval_accuracy`` at each evaluation of the stopping rule (step = trials seen)."""
    return CommandRunLogger(tracking_uri=run.tracking_uri, run_id=run.run_id)


def log_training_record(run: TrackedRun, record: TrainingRecord) -> None:
    """The evaluations of a network trained in a population, as its training would have logged them."""
    logger = run_logger(run)
    for i, seen in enumerate(record.trials_seen):
        metrics = {
            "train_loss": record.train_loss[i],
            "eval_loss": record.eval_loss[i],
            "eval_accuracy": record.eval_accuracy[i],
        }
        logger.log_metrics(metrics, step=seen)
