"""The paper's stopping rule (SPEC §1) as a Lightning callback."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pytorch_lightning as pl
import torch

from spikernn.rate.model import trial_loss
from spikernn.tasks import Task
from spikernn.validation import check_int, check_range


@dataclass
class StoppingRule:
    """Every ``eval_every_trials`` trials, score ``eval_trials`` fresh trials; stop when the mean
    loss < ``loss_threshold`` and accuracy > ``accuracy_threshold`` (and the task's minimum number
    of trials is exceeded)."""

    eval_every_trials: int = 100
    eval_trials: int = 100
    loss_threshold: float = 7.0
    accuracy_threshold: float = 0.95

    def __post_init__(self) -> None:
        check_int("trainer.eval_every_trials", self.eval_every_trials, 1)
        check_int("trainer.eval_trials", self.eval_trials, 1)
        check_range("trainer.loss_threshold", self.loss_threshold, 0.0, lo_open=True)
        check_range("trainer.accuracy_threshold", self.accuracy_threshold, 0.0, 1.0)


@dataclass
class TrainingRecord:
    """What the criterion saw: one entry per evaluation."""

    trials_seen: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    trained: bool = False
    trials_to_criterion: int | None = None


class PaperStoppingCriterion(pl.Callback):
    """Evaluates on fresh trials every ``rule.eval_every_trials`` trials and stops training when
    the paper's criterion is met; ``record`` keeps the history and the outcome."""

    def __init__(self, task: Task, rule: StoppingRule, seed: int) -> None:
        self.task = task
        self.rule = rule
        self.generator = torch.Generator().manual_seed(seed)
        self.record = TrainingRecord()
        self._next_eval = rule.eval_every_trials
        self._losses: list[float] = []

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        self._losses.append(float(outputs["loss"]))
        seen = pl_module.trials_seen
        if seen < self._next_eval:
            return
        self._next_eval += self.rule.eval_every_trials
        loss, accuracy = self.evaluate(pl_module.model)
        rec = self.record
        rec.trials_seen.append(seen)
        rec.eval_loss.append(loss)
        rec.eval_accuracy.append(accuracy)
        rec.train_loss.append(sum(self._losses) / len(self._losses))
        self._losses.clear()
        pl_module.log_dict({"eval_loss": loss, "eval_accuracy": accuracy}, prog_bar=True, on_step=True)
        if (
            loss < self.rule.loss_threshold
            and accuracy > self.rule.accuracy_threshold
            and seen > self.task.min_training_trials
        ):
            rec.trained = True
            rec.trials_to_criterion = seen
            trainer.should_stop = True

    def state_dict(self) -> dict:
        """What a checkpoint needs to resume the rule exactly: history, eval generator, pending losses."""
        return {
            "record": asdict(self.record),
            "generator": self.generator.get_state(),
            "next_eval": self._next_eval,
            "losses": list(self._losses),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.record = TrainingRecord(**state_dict["record"])
        self.generator.set_state(state_dict["generator"])
        self._next_eval = int(state_dict["next_eval"])
        self._losses = list(state_dict["losses"])

    @torch.no_grad()
    def evaluate(self, model) -> tuple[float, float]:
        """Mean loss and accuracy of ``model`` on fresh trials (noise on, as in training)."""
        trials = self.task.make_trials(self.rule.eval_trials, self.generator)
        out = model(trials.inputs, generator=self.generator)
        loss = trial_loss(out.readout, trials.targets, model.config.loss).mean().item()
        accuracy = self.task.accuracy(out.readout, trials.labels, self.task.step_ms, "rate")
        return loss, accuracy
