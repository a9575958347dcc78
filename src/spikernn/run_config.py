"""What the main job needs (``RunConfig``), and what converting or scoring a model needs.

Configs only (no Lightning, no MLflow, no plotting): a command builds and checks these before it
imports the code that runs them (:mod:`spikernn.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from spikernn.finetune_config import FinetuneConfig
from spikernn.rate.config import RateRNNConfig
from spikernn.rate.trainer_config import TrainerConfig
from spikernn.spiking.parameters import SpikingParameters
from spikernn.tasks.config import TASK_CONFIGS, GoNoGoConfig, TaskConfig
from spikernn.transfer_config import TransferConfig
from spikernn.validation import ConfigError, check_choice, check_int

# Settings that say where and how a command runs, not what it computes (never change a number):
# logged as tags, not params; not part of a sweep's study, a kept network's or a job's identity.
WHERE_AND_HOW = ("paths", "logger", "optuna", "trainer.progress_bar", "trainer.resume_from")
# Settings that choose what a command returns or allows, kept out of the params (tags instead).
CHOICES = ("objective", "allow_untrained")
BOOKKEEPING = WHERE_AND_HOW + CHOICES  # every setting that is not an experiment parameter


@dataclass
class RunConfig:
    """Everything the main job needs; built (and so validated) before any work starts."""

    task: TaskConfig = field(default_factory=GoNoGoConfig)  # the task and its timing (reads as its name)
    model: RateRNNConfig = field(default_factory=RateRNNConfig)
    spiking: SpikingParameters = field(default_factory=SpikingParameters)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    seed: int = 0
    eval_trials: int = 200
    allow_untrained: bool = False  # convert a rate network that missed the training criterion

    def __post_init__(self) -> None:
        if not isinstance(self.allow_untrained, bool):
            raise ConfigError(f"allow_untrained must be true or false, got {self.allow_untrained!r}")
        check_choice("task", self.task.name, TASK_CONFIGS)
        check_int("seed", self.seed, 0)
        check_int("eval_trials", self.eval_trials, 1)
        task_sizes = {"n_inputs": self.task.n_inputs, "n_outputs": self.task.n_outputs}
        if any(getattr(self.model, key) != value for key, value in task_sizes.items()):
            self.model = RateRNNConfig(**{**self.model.to_dict(), **task_sizes})


class ConversionSettings(Protocol):
    """What converting a model needs (``RunConfig``, ``apps.config.ConvertConfig``)."""

    spiking: SpikingParameters
    transfer: TransferConfig
    seed: int
    eval_trials: int


class EvaluationSettings(Protocol):
    """What scoring a converted model needs (``RunConfig``, ``apps.config.EvaluateConfig``)."""

    spiking: SpikingParameters
    seed: int
    eval_trials: int
