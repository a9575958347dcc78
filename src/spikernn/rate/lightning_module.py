"""LightningModule that trains a RateRNN on fresh trials of a task (SPEC §1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch.utils.data import IterableDataset

from spikernn.rate.model import RateRNN, trial_loss
from spikernn.tasks import Task, Trials


class FreshTrials(IterableDataset):
    """An endless stream of batches of new trials, drawn from a seeded generator.

    ``skip_batches`` fast-forwards the stream (resumed training sees the trials it would have seen).
    """

    def __init__(self, task: Task, batch_size: int, seed: int, skip_batches: int = 0) -> None:
        self.task = task
        self.batch_size = batch_size
        self.seed = seed
        self.skip_batches = skip_batches

    def __iter__(self) -> Iterator[Trials]:
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(self.skip_batches):
            self.task.make_trials(self.batch_size, generator)
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

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["trials_seen"] = self.trials_seen
        checkpoint["torch_rng_state"] = torch.get_rng_state()  # the state noise of the next trials

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.trials_seen = int(checkpoint["trials_seen"])
        torch.set_rng_state(checkpoint["torch_rng_state"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.learning_rate)
