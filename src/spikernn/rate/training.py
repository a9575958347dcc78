"""Train a rate RNN on a task until the paper's criterion is met or the trial budget runs out."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from spikernn.rate.config import RateRNNConfig
from spikernn.rate.criterion import PaperStoppingCriterion, StoppingRule, TrainingRecord
from spikernn.rate.lightning_module import FreshTrials, RateRNNModule
from spikernn.rate.model import RateRNN
from spikernn.tasks import Task
from spikernn.validation import ConfigError, check_choice, check_int, check_range


@dataclass
class TrainingConfig:
    """Optimisation settings; ``batch_size`` 1 is the paper's mode, ``n_trials`` the give-up budget."""

    n_trials: int = 6000
    batch_size: int = 1
    learning_rate: float = 0.01
    accelerator: str = "cpu"
    progress_bar: bool = True
    resume_from: str | None = None
    stopping: StoppingRule = field(default_factory=StoppingRule)

    def __post_init__(self) -> None:
        check_int("trainer.n_trials", self.n_trials, 1)
        check_int("trainer.batch_size", self.batch_size, 1)
        check_range("trainer.learning_rate", self.learning_rate, 0.0, lo_open=True)
        check_choice("trainer.accelerator", self.accelerator, ("cpu", "gpu", "auto"))
        if self.resume_from is not None and not Path(self.resume_from).is_file():
            raise ConfigError(f"trainer.resume_from: no checkpoint file at {self.resume_from!r}")

    @property
    def batches_per_evaluation(self) -> int:
        return max(1, self.stopping.eval_every_trials // self.batch_size)


def _completed_batches(checkpoint: str) -> int:
    """Optimizer steps already taken in a Lightning checkpoint."""
    return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"])


def train_rate_model(
    task: Task,
    model_config: RateRNNConfig,
    training: TrainingConfig,
    seed: int = 0,
    callbacks: list[pl.Callback] | None = None,
    checkpoint_dir: str | Path | None = None,
    default_root_dir: str | None = None,
) -> tuple[RateRNN, TrainingRecord]:
    """Build a RateRNN with ``seed``, train it, and return it with its training record.

    With ``checkpoint_dir``, ``last.ckpt`` is written there after every evaluation of the
    criterion; ``training.resume_from`` continues from such a file exactly where it stopped.
    """
    pl.seed_everything(seed, workers=True, verbose=False)
    model = RateRNN(model_config, seed=seed)
    module = RateRNNModule(model, training.learning_rate)
    criterion = PaperStoppingCriterion(task, training.stopping, seed=seed + 1)
    done = _completed_batches(training.resume_from) if training.resume_from else 0
    loader = DataLoader(
        FreshTrials(task, training.batch_size, seed=seed + 2, skip_batches=done),
        batch_size=None,
        generator=torch.Generator().manual_seed(seed),  # else creating its iterator draws from the global RNG
    )
    checkpoints = []
    if checkpoint_dir is not None:
        checkpoints.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                save_last=True,
                save_top_k=0,
                every_n_train_steps=training.batches_per_evaluation,
            )
        )
    trainer = pl.Trainer(
        max_steps=math.ceil(training.n_trials / training.batch_size),
        accelerator=training.accelerator,
        devices=1,
        logger=False,
        callbacks=[criterion, *checkpoints, *(callbacks or [])],
        enable_checkpointing=bool(checkpoints),
        enable_progress_bar=training.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=50,
        deterministic=True,
        default_root_dir=default_root_dir,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*IterableDataset.*")
        trainer.fit(module, train_dataloaders=loader, ckpt_path=training.resume_from)
    model.eval()
    return model.cpu(), criterion.record
