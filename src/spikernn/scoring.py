"""Scoring a network on fresh trials, and the seeded trial streams every stage draws from.

Below both :mod:`spikernn.pipeline` and :mod:`spikernn.finetune`: the rate and the spiking network
are scored by their task's rule (:meth:`spikernn.tasks.Task.score`) on trials drawn from a stream
of their own, seeded ``seed + Stream.<name>``, so a stage run alone (``spikernn-convert``,
``spikernn-finetune``) draws the same trials as inside ``spikernn-run``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import torch

from spikernn.rate import RateRNN
from spikernn.rate.model import trial_loss
from spikernn.results import SpikingScore
from spikernn.spiking import SpikingRNN, Stimulation
from spikernn.tasks import Task

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class Stream(IntEnum):
    """Offsets of each stage's generator from the run seed (one table for every stage)."""

    RATE_EVALUATION = 100  # the rate network's fresh trials
    SEARCH = 200  # the scaling-factor search
    EVALUATION = 300  # the converted network's fresh trials (also before/after fine-tuning)
    EXAMPLES = 400  # the example figures' trials
    FINETUNE_TRIALS = 500  # fine-tuning's training trials
    FINETUNE_NOISE = 600  # fine-tuning's voltage noise
    FINETUNE_VALIDATION = 700  # fine-tuning's validation trials

    def generator(self, seed: int) -> torch.Generator:
        """A generator seeded ``seed + self``."""
        return torch.Generator().manual_seed(seed + self)


def phase(progress: Progress | None, name: str) -> Callable[[int, int], None] | None:
    """``progress`` bound to one phase (``None`` without a progress display)."""
    return None if progress is None else (lambda done, total: progress(name, done, total))


@dataclass
class RateEvaluation:
    """The rate network on fresh trials (noise on): accuracy, mean loss, trials with a NaN readout."""

    accuracy: float
    loss: float
    nan_trials: int


@torch.no_grad()
def evaluate_rate(model: RateRNN, task: Task, n_trials: int, generator: torch.Generator) -> RateEvaluation:
    """Score the rate network on ``n_trials`` fresh trials drawn from ``generator``."""
    trials = task.make_trials(n_trials, generator)
    out = model(trials.inputs, generator=generator)
    return RateEvaluation(
        accuracy=task.accuracy(out.readout, trials.labels, task.step_ms, "rate"),
        loss=trial_loss(out.readout, trials.targets, model.config.loss).mean().item(),
        nan_trials=int(torch.isnan(out.readout).reshape(n_trials, -1).any(1).sum()),
    )


def evaluate_spiking(
    network: SpikingRNN,
    task: Task,
    factor: float,
    n_trials: int,
    generator: torch.Generator,
    on_progress: Callable[[int, int], None] | None = None,
    stimulation: Stimulation | None = None,
) -> SpikingScore:
    """LIF accuracy on fresh trials at one factor (under ``stimulation`` if given), and mean firing
    rates (Hz) of E and I units."""
    trials = task.make_trials(n_trials, generator)
    result = network.simulate(
        trials.inputs, factor, generator=generator, on_progress=on_progress, stimulation=stimulation
    )
    correct = task.score(result.readout, trials.labels, network.params.dt_ms, "spiking")
    rates = result.firing_rates_hz()
    inh = network.inhibitory
    return SpikingScore(
        lif_accuracy=correct.double().mean().item(),
        lif_nan_readout_trials=int(torch.isnan(result.readout).reshape(n_trials, -1).any(1).sum()),
        lif_accuracy_by_condition={
            name: correct[trials.conditions == c].double().mean().item()
            for c, name in enumerate(task.condition_names)
            if (trials.conditions == c).any()
        },
        lif_exc_hz=rates[:, ~inh].mean().item(),
        lif_inh_hz=rates[:, inh].mean().item() if inh.any() else None,
    )
