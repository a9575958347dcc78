"""Lightning callback that logs the stopping rule's evaluations to the MLflow run as they happen."""

from __future__ import annotations

import pytorch_lightning as pl

from spikernn.rate.criterion import PaperStoppingCriterion
from spikernn.tracking.run import TrackedRun


class TrainingMetrics(pl.Callback):
    """After each evaluation of the paper's criterion: ``train_loss``, ``eval_loss`` and
    ``eval_accuracy`` with step = trials seen."""

    def __init__(self, run: TrackedRun) -> None:
        self.run = run
        self._logged = 0
        self._criterion: PaperStoppingCriterion | None = None

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        self._criterion = next(c for c in trainer.callbacks if isinstance(c, PaperStoppingCriterion))  # member 0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        record = self._criterion.record
        while self._logged < len(record.trials_seen):
            i = self._logged
            metrics = {
                "train_loss": record.train_loss[i],
                "eval_loss": record.eval_loss[i],
                "eval_accuracy": record.eval_accuracy[i],
            }
            self.run.log_metrics(metrics, step=record.trials_seen[i])
            self._logged += 1
