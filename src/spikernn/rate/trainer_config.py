"""The ``trainer`` group's settings: optimisation, budget and the paper's stopping rule (SPEC §1).

Plain dataclasses (no torch, no Lightning), so a command checks them before it imports either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spikernn.validation import ConfigError, check_choice, check_int, check_range


@dataclass
class StoppingRule:
    """Every ``eval_every_trials`` trials, score ``eval_trials`` fresh trials; stop when the mean
    loss < ``loss_threshold`` and accuracy > ``accuracy_threshold`` (and the task's minimum number
    of trials is exceeded). ``extra_trials`` > 0 goes on training a network that met the criterion for
    that many more trials (not in the paper: margin for the spiking network's noise); its trials to
    criterion stay where the criterion was met. ``eval_offset_trials`` > 0 moves the evaluations to
    after trials offset, offset + ``eval_every_trials``, …: the reference code's schedule is offset 2
    (after trials 2, 102, …, 1502, so a Go-NoGo network can stop at 1502); 0 evaluates after
    ``eval_every_trials``, 2 · ``eval_every_trials``, … (SPEC's "every 100 trials")."""

    eval_every_trials: int = 100
    eval_offset_trials: int = 0
    eval_trials: int = 100
    loss_threshold: float = 7.0
    accuracy_threshold: float = 0.95
    extra_trials: int = 0

    def __post_init__(self) -> None:
        check_int("trainer.stopping.eval_every_trials", self.eval_every_trials, 1)
        check_int("trainer.stopping.eval_offset_trials", self.eval_offset_trials, 0, self.eval_every_trials - 1)
        check_int("trainer.stopping.extra_trials", self.extra_trials, 0)
        check_int("trainer.stopping.eval_trials", self.eval_trials, 1)
        check_range("trainer.stopping.loss_threshold", self.loss_threshold, 0.0, lo_open=True)
        check_range("trainer.stopping.accuracy_threshold", self.accuracy_threshold, 0.0, 1.0)


@dataclass
class TrainerConfig:
    """Optimisation settings; ``batch_size`` 1 is the paper's mode, ``max_trials`` the give-up budget.

    ``backend``: ``fused`` = the numba forward/backward kernel (CPU; batch 1: 2.3× faster on a quiet core),
    ``autograd`` = torch's graph (any accelerator); both compute the same gradients."""

    max_trials: int = 6000  # training budget (trials): not trained by then = not trained
    batch_size: int = 1
    learning_rate: float = 0.01
    accelerator: str = "cpu"
    backend: str = "fused"
    progress_bar: bool = True
    resume_from: str | None = None
    stopping: StoppingRule = field(default_factory=StoppingRule)

    def __post_init__(self) -> None:
        check_int("trainer.max_trials", self.max_trials, 1)
        check_int("trainer.batch_size", self.batch_size, 1)
        check_range("trainer.learning_rate", self.learning_rate, 0.0, lo_open=True)
        check_choice("trainer.accelerator", self.accelerator, ("cpu", "gpu", "auto"))
        check_choice("trainer.backend", self.backend, ("fused", "autograd"))
        if self.backend == "fused" and self.accelerator != "cpu":
            raise ConfigError(
                f"trainer.backend=fused runs on the CPU only; use trainer.backend=autograd with "
                f"trainer.accelerator={self.accelerator}"
            )
        if self.resume_from is not None and not Path(self.resume_from).is_file():
            raise ConfigError(f"trainer.resume_from: no checkpoint file at {self.resume_from!r}")

    @property
    def batches_per_evaluation(self) -> int:
        return max(1, self.stopping.eval_every_trials // self.batch_size)
