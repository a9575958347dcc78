"""The ``finetune`` group's settings (surrogate-gradient fine-tuning, :mod:`spikernn.finetune`).

A plain dataclass (no torch, no Lightning), so a command checks it before it imports either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spikernn.validation import ConfigError, check_choice, check_int, check_range

LR_SCHEDULES = ("constant", "cosine")


@dataclass
class FinetuneConfig:
    """``finetune`` group: settings of the surrogate-gradient fine-tuning. The group's schema
    (``apps/schemas.py``): Hydra checks its keys and types, ``__post_init__`` the ranges."""

    enabled: bool = False  # spikernn-run only: fine-tune after the conversion
    below_accuracy: float | None = None  # spikernn-run only: fine-tune only under this LIF accuracy
    train_dt_ms: float = 0.5
    n_batches: int = 150
    batch_size: int = 16
    learning_rate: float = 0.003
    lr_schedule: str = "constant"  # or "cosine": from learning_rate down to 1 % of it at n_batches
    train_tau: bool = False
    train_scaling_factor: bool = True
    window_loss: float = 1.0
    rate_penalty: float = 1e-4
    max_rate_hz: float = 50.0
    gradient_clip: float = 1.0
    checkpoint_steps: int | None = None
    noise: bool = True
    validate_every: int = 10
    validation_trials: int = 100
    stop_accuracy: float = 0.99

    def __post_init__(self) -> None:
        check_range("finetune.train_dt_ms", self.train_dt_ms, 0.0, 5.0, lo_open=True)
        check_int("finetune.n_batches", self.n_batches, 1)
        check_int("finetune.batch_size", self.batch_size, 1)
        check_range("finetune.learning_rate", self.learning_rate, 0.0, lo_open=True)
        check_choice("finetune.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_range("finetune.window_loss", self.window_loss, 0.0)
        check_range("finetune.rate_penalty", self.rate_penalty, 0.0)
        check_range("finetune.max_rate_hz", self.max_rate_hz, 0.0)
        check_range("finetune.gradient_clip", self.gradient_clip, 0.0)
        if self.checkpoint_steps is not None:
            check_int("finetune.checkpoint_steps", self.checkpoint_steps, 1)
        check_int("finetune.validate_every", self.validate_every, 1)
        check_int("finetune.validation_trials", self.validation_trials, 1)
        check_range("finetune.stop_accuracy", self.stop_accuracy, 0.0, 1.0)
        if self.below_accuracy is not None:
            check_range("finetune.below_accuracy", self.below_accuracy, 0.0, 1.0)
        for name in ("enabled", "train_tau", "train_scaling_factor", "noise"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"finetune.{name} must be true or false, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def wanted(self, lif_accuracy: float) -> bool:
        """Whether ``spikernn-run`` fine-tunes a network that scored ``lif_accuracy`` (fresh trials)
        after its conversion: when enabled, and below ``below_accuracy`` if that is set."""
        return self.enabled and (self.below_accuracy is None or lif_accuracy < self.below_accuracy)
