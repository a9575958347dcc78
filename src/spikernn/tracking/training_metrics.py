"""The stopping rule's evaluations in the MLflow run: live during training (a Lightning callback),
or all at once for a network trained in a population."""

from __future__ import annotations

import pytorch_lightning as pl

from spikernn.rate.criterion import PaperStoppingCriterion, TrainingRecord
from spikernn.tracking.run import TrackedRun


def log_training_record(run: TrackedRun, record: TrainingRecord, start: int = 0) -> int:
    """``train_loss``, ``eval_loss`` and ``eval_accuracy`` of evaluations ``start`` … with step =
    trials seen; returns how many evaluations are logged."""
    for i in range(start, len(record.trials_seen)):
        metrics = {
            "train_loss": record.train_loss[i],
            "eval_loss": record.eval_loss[i],
            "eval_accuracy": record.eval_accuracy[i],
        }
        run.log_metrics(metrics, step=record.trials_seen[i])
    return len(record.trials_seen)


class TrainingMetrics(pl.Callback):
    """After each evaluation of the paper's criterion (of a population of one), its numbers."""

    def __init__(self, run: TrackedRun) -> None:
        self.run = run
        self._logged = 0
        self._criterion: PaperStoppingCriterion | None = None

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        self._criterion = next(c for c in trainer.callbacks if isinstance(c, PaperStoppingCriterion))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._logged = log_training_record(self.run, self._criterion.record, self._logged)
