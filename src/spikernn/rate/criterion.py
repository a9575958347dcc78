"""The paper's stopping rule (SPEC §1) as a Lightning callback, per member of a population."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import pytorch_lightning as pl
import torch

from spikernn.rate.model import trial_loss
from spikernn.rate.trainer_config import StoppingRule
from spikernn.tasks import Task

log = logging.getLogger(__name__)


@dataclass
class TrainingRecord:
    """What the criterion saw for one network: one entry per evaluation, and the outcome.

    ``failure`` says why a network was dropped before the end (e.g. a NaN loss)."""

    trials_seen: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    trained: bool = False
    trials_to_criterion: int | None = None
    failure: str | None = None


class PaperStoppingCriterion(pl.Callback):
    """Evaluates every active member of a ``RatePopulationModule`` on fresh trials every
    ``rule.eval_every_trials`` trials. A member that meets the paper's criterion stops changing
    while the others go on; training stops when no member is left. ``records`` keep each member's
    history and outcome. Member k's evaluation trials and noise come from its own generator
    (seed ``seeds[k]`` + 1), so its numbers do not depend on the other members."""

    def __init__(self, task: Task, rule: StoppingRule, seeds: list[int]) -> None:
        self.task = task
        self.rule = rule
        self.generators = [torch.Generator().manual_seed(seed + 1) for seed in seeds]
        self.records = [TrainingRecord() for _ in seeds]
        self._next_eval = rule.eval_offset_trials or rule.eval_every_trials
        self._losses: list[list[float]] = [[] for _ in seeds]
        self._stop_at: dict[int, int] = {}  # member → trials seen when its extra training ends

    @property
    def record(self) -> TrainingRecord:
        """The record of a population of one."""
        return self.records[0]

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        for k, loss in pl_module.step_losses.items():
            self._losses[k].append(loss)
        for k, reason in pl_module.new_failures():
            self.records[k].failure = reason
        seen = pl_module.trials_seen
        if seen >= self._next_eval:
            self._next_eval += self.rule.eval_every_trials
            self._evaluate_active(trainer, pl_module, seen)
        for k in [k for k, stop in self._stop_at.items() if seen >= stop]:
            pl_module.active[k] = False
            del self._stop_at[k]
        if not any(pl_module.active):
            trainer.should_stop = True

    def _evaluate_active(self, trainer: pl.Trainer, pl_module: pl.LightningModule, seen: int) -> None:
        active = [k for k, on in enumerate(pl_module.active) if on]
        results = evaluate_members(pl_module, self.task, self.rule.eval_trials, active, self.generators)
        for k, (loss, accuracy) in zip(active, results, strict=True):
            rec = self.records[k]
            rec.trials_seen.append(seen)
            rec.eval_loss.append(loss)
            rec.eval_accuracy.append(accuracy)
            rec.train_loss.append(sum(self._losses[k]) / len(self._losses[k]))
            self._losses[k].clear()
            if not math.isfinite(loss):
                rec.failure = f"non-finite evaluation loss after {seen} trials"
                pl_module.active[k] = False
            elif rec.trained:
                continue  # extra training past the criterion: history only
            elif (
                loss < self.rule.loss_threshold
                and accuracy > self.rule.accuracy_threshold
                and seen > self.task.min_training_trials
            ):
                rec.trained = True
                rec.trials_to_criterion = seen
                if self.rule.extra_trials:
                    self._stop_at[k] = seen + self.rule.extra_trials
                else:
                    pl_module.active[k] = False
        if len(self.records) > 1:
            met = sum(r.trained for r in self.records)
            failed = sum(r.failure is not None for r in self.records)
            log.info(
                f"{seen} trials: {met} of {len(self.records)} networks met the criterion, "
                f"{sum(pl_module.active)} training, {failed} failed"
            )
        if len(self.records) == 1 and active:
            record = self.records[0]
            numbers = {"eval_loss": record.eval_loss[-1], "eval_accuracy": record.eval_accuracy[-1]}
            pl_module.log_dict(numbers, prog_bar=True, on_step=True, logger=False)
            for logger in trainer.loggers:  # e.g. Lightning's MLFlowLogger on the command's run
                logger.log_metrics({"train_loss": record.train_loss[-1], **numbers}, step=seen)

    def state_dict(self) -> dict:
        """What a checkpoint needs to resume the rule exactly: histories, eval generators, pending losses."""
        return {
            "records": [asdict(r) for r in self.records],
            "generators": [g.get_state() for g in self.generators],
            "next_eval": self._next_eval,
            "losses": [list(losses) for losses in self._losses],
            "stop_at": dict(self._stop_at),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.records = [TrainingRecord(**r) for r in state_dict["records"]]
        for generator, state in zip(self.generators, state_dict["generators"], strict=True):
            generator.set_state(state)
        self._next_eval = int(state_dict["next_eval"])
        self._losses = [list(losses) for losses in state_dict["losses"]]
        self._stop_at = {int(k): int(v) for k, v in state_dict.get("stop_at", {}).items()}


@torch.no_grad()
def evaluate_members(
    pl_module: pl.LightningModule,
    task: Task,
    n_trials: int,
    members: list[int],
    generators: list[torch.Generator],
    chunk: int = 8,
) -> list[tuple[float, float]]:
    """Mean loss and accuracy of each listed member on ``n_trials`` fresh trials of its own (noise on,
    as in training); fused members are simulated ``chunk`` at a time to bound the noise memory."""
    results = []
    for start in range(0, len(members), chunk):
        group = members[start : start + chunk]
        trials = [task.make_trials(n_trials, generators[k]) for k in group]
        readouts = pl_module.readouts(group, [t.inputs for t in trials], [generators[k] for k in group], grad=False)
        for k, t, readout in zip(group, trials, readouts, strict=True):
            model = pl_module.members[k]
            loss = trial_loss(readout, t.targets, model.config.loss).mean().item()
            results.append((loss, task.accuracy(readout, t.labels, task.step_ms, "rate")))
    return results
