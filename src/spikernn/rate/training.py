"""Train a rate RNN on a task until the paper's criterion is met or the trial budget runs out."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from spikernn.rate.config import RateRNNConfig
from spikernn.rate.criterion import PaperStoppingCriterion, StoppingRule, TrainingRecord
from spikernn.rate.lightning_module import FreshTrials, RateRNNModule
from spikernn.rate.model import RateRNN
from spikernn.tasks import Task
from spikernn.validation import check_int, check_range


@dataclass
class TrainingConfig:
    """Optimisation settings; ``batch_size`` 1 is the paper's mode, ``n_trials`` the give-up budget."""

    n_trials: int = 6000
    batch_size: int = 1
    learning_rate: float = 0.01
    accelerator: str = "cpu"
    progress_bar: bool = True
    stopping: StoppingRule = field(default_factory=StoppingRule)

    def __post_init__(self) -> None:
        check_int("trainer.n_trials", self.n_trials, 1)
        check_int("trainer.batch_size", self.batch_size, 1)
        check_range("trainer.learning_rate", self.learning_rate, 0.0, lo_open=True)


def train_rate_model(
    task: Task,
    model_config: RateRNNConfig,
    training: TrainingConfig,
    seed: int = 0,
    callbacks: list[pl.Callback] | None = None,
    logger=None,
    default_root_dir: str | None = None,
) -> tuple[RateRNN, TrainingRecord]:
    """Build a RateRNN with ``seed``, train it, and return it with its training record."""
    pl.seed_everything(seed, workers=True, verbose=False)
    model = RateRNN(model_config, seed=seed)
    module = RateRNNModule(model, training.learning_rate)
    criterion = PaperStoppingCriterion(task, training.stopping, seed=seed + 1)
    loader = DataLoader(FreshTrials(task, training.batch_size, seed=seed + 2), batch_size=None)
    trainer = pl.Trainer(
        max_steps=math.ceil(training.n_trials / training.batch_size),
        accelerator=training.accelerator,
        devices=1,
        logger=logger if logger is not None else False,
        callbacks=[criterion, *(callbacks or [])],
        enable_checkpointing=False,
        enable_progress_bar=training.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=50,
        deterministic=True,
        default_root_dir=default_root_dir,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*IterableDataset.*")
        trainer.fit(module, train_dataloaders=loader)
    model.eval()
    return model.cpu(), criterion.record
