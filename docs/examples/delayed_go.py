"""A task of one's own: delayed Go-NoGo (not in the paper), defined outside spikernn.

A cue on input 1 is shown or not; after a memory delay a go signal arrives on input 2 and the
network must answer 1 after it if the cue was shown, and stay silent if it was not. spikernn trains,
converts and scores it like its own tasks once the ``task`` group names this class:

    # docs/examples/conf/task/delayed_go.yaml
    _target_: delayed_go.DelayedGo
    name: delayed_go

    PYTHONPATH=docs/examples spikernn-run hydra.searchpath=[file://docs/examples/conf] task=delayed_go

A task is two classes: its config (a ``TaskConfig`` subclass: inputs and timing in ms, checked before
anything runs) and the task (a ``Task`` subclass: draws trial types, builds inputs and targets on the
5-ms grid, and says which readouts are correct inside the scoring window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from spikernn.tasks import ScoringWindow, Task, TaskConfig, Trials


@dataclass(unsafe_hash=True)
class DelayedGoConfig(TaskConfig):
    """1-s trial: the cue on [100, 225) ms, ``delay_ms`` of memory, the go signal for ``go_ms``, the
    answer from the go signal's end; the spiking readout judged from 125 ms after it."""

    n_inputs: ClassVar[int] = 2  # the cue, the go signal

    name: str = "delayed_go"
    trial_ms: float = 1000.0
    stim_onset_ms: float = 100.0
    stim_duration_ms: float = 125.0
    delay_ms: float = 300.0
    go_ms: float = 50.0
    rate_score_delay_ms: float = 0.0
    spiking_score_delay_ms: float = 125.0

    @property
    def response_onset_ms(self) -> float:
        """The go signal's end (ms)."""
        return self.stim_end_ms + self.delay_ms + self.go_ms


class DelayedGo(Task):
    """Cue shown (Go): target 1 from the go signal's end; no cue (NoGo): target 0 throughout."""

    name = "delayed_go"
    condition_names = ("NoGo", "Go")
    Config = DelayedGoConfig
    config: DelayedGoConfig

    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(0, 2, (batch_size,), generator=generator)

    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        c = self.config
        go = conditions.float()[:, None]
        inputs = torch.zeros(len(conditions), self.n_steps + 1, 2)
        inputs[:, self.steps(c.stim_onset_ms) : self.steps(self.stim_end_ms), 0] = go
        go_on = self.steps(self.stim_end_ms + c.delay_ms)
        inputs[:, go_on : self.steps(self.response_onset_ms), 1] = 1.0  # every trial
        targets = torch.zeros(len(conditions), self.n_steps)
        targets[:, self.steps(self.response_onset_ms) :] = go
        return Trials(inputs, targets, labels=conditions.clone(), conditions=conditions)

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        # Go: the readout exceeds 0.7 in the window; NoGo: it stays below 0.3
        return torch.where(labels > 0, window_max > window.threshold, window_max < window.quiet_threshold)
