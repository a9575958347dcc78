"""Go-NoGo (SPEC §2): respond to a brief pulse, stay silent without it."""

from __future__ import annotations

import torch

from spikernn.tasks.base import ReadoutKind, ScoringWindow, Task, Trials, coin_flips


class GoNoGo(Task):
    """1-s trial; Go: input 1 on [250, 375) ms and target 1 from 375 ms; NoGo: nothing."""

    name = "go_nogo"
    n_inputs = 1
    duration_ms = 1000.0
    condition_names = ("NoGo", "Go")
    stim_on_ms = 250.0
    stim_off_ms = 375.0
    min_training_trials = 1500

    def scoring_window(self, kind: ReadoutKind) -> ScoringWindow:
        if kind == "rate":
            return ScoringWindow(from_ms=self.stim_off_ms, quiet_uses_abs=True)
        return ScoringWindow(from_ms=500.0, quiet_uses_abs=False)

    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return coin_flips(batch_size, 1, generator)[:, 0]

    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        batch = conditions.shape[0]
        on, off = self.steps(self.stim_on_ms), self.steps(self.stim_off_ms)
        go = conditions.float()[:, None]
        inputs = torch.zeros(batch, self.n_steps + 1, 1)
        inputs[:, on:off, 0] = go
        targets = torch.zeros(batch, self.n_steps)
        targets[:, off:] = go
        return Trials(inputs, targets, labels=conditions.clone(), conditions=conditions)

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        quiet = window_absmax if window.quiet_uses_abs else window_max
        return torch.where(labels > 0, window_max > window.threshold, quiet < window.quiet_threshold)
