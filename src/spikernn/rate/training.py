"""Train a rate RNN on a task until the paper's criterion is met or the trial budget runs out."""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, RichProgressBar
from pytorch_lightning.loggers import Logger
from torch.utils.data import DataLoader

from spikernn.rate.config import RateRNNConfig
from spikernn.rate.criterion import PaperStoppingCriterion, TrainingRecord
from spikernn.rate.fused_op import trajectory_bytes
from spikernn.rate.lightning_module import RatePopulationModule, Ticks
from spikernn.rate.model import RateRNN
from spikernn.rate.trainer_config import TrainerConfig
from spikernn.tasks import Task
from spikernn.validation import ConfigError


class TrainingProgressBar(RichProgressBar):
    """Lightning's rich bar on stderr (stdout holds the command's summary), titled "training" (its
    default "Epoch 0/-2" counts epochs of an endless stream of trials); the count is optimizer steps."""

    def __init__(self) -> None:
        super().__init__(console_kwargs={"stderr": True})

    def _get_train_description(self, current_epoch: int) -> str:
        return "training"

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        """The module's numbers, without the logger's version (``v_num``: the MLflow run id's tail)."""
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics


class _NoAdvertisement(logging.Filter):
    """Drops Lightning's "💡 Tip: … litlogger" line, logged on every run without LitLogger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "💡 Tip" not in str(record.msg)  # anywhere: a launcher's worker begins messages with its name


logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_NoAdvertisement())


@dataclass
class MemberResult:
    """One trained member of a population: its model, its training record, its share of the
    population's wall time (s) and the population's size."""

    model: RateRNN
    record: TrainingRecord
    seconds: float
    population_size: int


def member_bytes(model_config: RateRNNConfig, task: Task, batch_size: int) -> int:
    """Memory a member holds while training (float32): W, its initial copy, gradient and Adam's two
    moments (5 N²), the trajectory its backward pass keeps, and its drive and state noise."""
    n, steps = model_config.n_units, task.n_steps
    return 4 * (5 * n * n + 5 * batch_size * steps * n) + trajectory_bytes(n, batch_size, steps)


def train_population(
    task: Task,
    members: list[tuple[RateRNNConfig, int]],
    training: TrainerConfig,
    callbacks: list[pl.Callback | Logger] | None = None,
    checkpoint_dir: str | Path | None = None,
    default_root_dir: str | None = None,
) -> list[MemberResult]:
    """Train K independent rate networks ``(config, seed)`` together (same N; a population of one
    is an ordinary training run) and return them in order with their records.

    Each member ends as if trained alone with its seed (see ``RatePopulationModule``). A member
    whose loss turns NaN is dropped with ``record.failure`` set; the others go on. With
    ``checkpoint_dir``, ``last.ckpt`` is written there after every evaluation of the criterion;
    ``training.resume_from`` continues from such a file exactly where it stopped. ``callbacks``:
    Lightning callbacks, and loggers (e.g. Lightning's ``MLFlowLogger`` on the command's run), which
    get ``train_loss``, ``eval_loss`` and ``eval_accuracy`` at each evaluation (step = trials seen).
    """
    sizes = {config.n_units for config, _ in members}
    if len(sizes) != 1:
        raise ConfigError(f"a population needs one network size (model.n_units), got {sorted(sizes)}")
    seeds = [seed for _, seed in members]
    pl.seed_everything(seeds[0], workers=True, verbose=False)
    models = [RateRNN(config, seed=seed) for config, seed in members]
    module = RatePopulationModule(
        task,
        models,
        seeds,
        training.learning_rate,
        training.batch_size,
        fused=training.backend == "fused",
    )
    criterion = PaperStoppingCriterion(task, training.stopping, seeds)
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
    loggers = [c for c in callbacks or [] if isinstance(c, Logger)]
    progress = [TrainingProgressBar()] if training.progress_bar else []
    trainer = pl.Trainer(
        max_steps=math.ceil(training.max_trials / training.batch_size),
        accelerator=training.accelerator,
        devices=1,
        logger=loggers or False,
        callbacks=[criterion, *checkpoints, *progress, *(c for c in callbacks or [] if not isinstance(c, Logger))],
        enable_checkpointing=bool(checkpoints),
        enable_progress_bar=training.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=50,
        deterministic=True,
        default_root_dir=default_root_dir,
    )
    loader = DataLoader(Ticks(), batch_size=None)
    start = time.perf_counter()
    # one torch thread while training (the kernels have their own): a second OpenMP thread spins
    # between the many small per-member ops and made a population step ~30× slower (measured)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*IterableDataset.*")
            trainer.fit(module, train_dataloaders=loader, ckpt_path=training.resume_from)
    finally:
        torch.set_num_threads(threads)
    share = (time.perf_counter() - start) / len(models)
    for model in models:
        model.eval()
    return [MemberResult(m.cpu(), r, share, len(models)) for m, r in zip(models, criterion.records, strict=True)]


def train_rate_model(
    task: Task,
    model_config: RateRNNConfig,
    training: TrainerConfig,
    seed: int = 0,
    callbacks: list[pl.Callback | Logger] | None = None,
    checkpoint_dir: str | Path | None = None,
    default_root_dir: str | None = None,
) -> tuple[RateRNN, TrainingRecord]:
    """Build a RateRNN with ``seed``, train it (a population of one), and return it with its record."""
    (result,) = train_population(task, [(model_config, seed)], training, callbacks, checkpoint_dir, default_root_dir)
    return result.model, result.record
