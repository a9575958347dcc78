"""LightningModule that trains a RateRNN on fresh trials of a task (SPEC §1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch.utils.data import IterableDataset

from spikernn.rate.model import RateRNN, trial_loss
from spikernn.tasks import Task, Trials


class FreshTrials(IterableDataset):
    """An endless stream of batches of new trials, drawn from a seeded generator."""

    def __init__(self, task: Task, batch_size: int, seed: int) -> None:
        self.task = task
        self.batch_size = batch_size
        self.seed = seed

    def __iter__(self) -> Iterator[Trials]:
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            yield self.task.make_trials(self.batch_size, generator)


class RateRNNModule(pl.LightningModule):
    """Adam on the mean over the batch of the per-trial loss; counts trials seen."""

    def __init__(self, model: RateRNN, learning_rate: float = 0.01) -> None:
        super().__init__()
        self.model = model
        self.learning_rate = learning_rate
        self.trials_seen = 0

    def training_step(self, batch: Trials, batch_idx: int) -> dict:
        out = self.model(batch.inputs)
        loss = trial_loss(out.readout, batch.targets, self.model.config.loss).mean()
        self.trials_seen += len(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch))
        return {"loss": loss}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.learning_rate)
