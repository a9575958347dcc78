"""Go-NoGo (SPEC §2): respond to a brief pulse, stay silent without it."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spikernn.tasks.base import ReadoutKind, ScoringWindow, Task, TaskConfig, Trials, coin_flips


@dataclass(unsafe_hash=True)
class GoNoGoConfig(TaskConfig):
    """1-s trial; Go: input 1 on [250, 375) ms and target 1 from its end. The rate readout is
    judged from the pulse's end, the spiking readout from 125 ms later (500 ms: the reference's
    ``out(10000:end)``)."""

    name: str = "go_nogo"
    trial_ms: float = 1000.0
    stim_onset_ms: float = 250.0
    stim_duration_ms: float = 125.0
    rate_score_delay_ms: float = 0.0
    spiking_score_delay_ms: float = 125.0


class GoNoGo(Task):
    """Go: input 1 during the stimulus and target 1 from its end; NoGo: nothing."""

    name = "go_nogo"
    n_inputs = 1
    condition_names = ("NoGo", "Go")
    Config = GoNoGoConfig
    min_training_trials = 1500

    def scoring_window(self, kind: ReadoutKind) -> ScoringWindow:
        # NoGo "no response": max |o| below the threshold for the rate model, max o for the spiking network
        return ScoringWindow(from_ms=super().scoring_window(kind).from_ms, quiet_uses_abs=kind == "rate")

    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return coin_flips(batch_size, 1, generator)[:, 0]

    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        batch = conditions.shape[0]
        on, off = self.steps(self.config.stim_onset_ms), self.steps(self.stim_end_ms)
        go = conditions.float()[:, None]
        inputs = torch.zeros(batch, self.n_steps + 1, 1)
        inputs[:, on:off, 0] = go
        targets = torch.zeros(batch, self.n_steps)
        targets[:, off:] = go
        return Trials(inputs, targets, labels=conditions.clone(), conditions=conditions)

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        quiet = window_absmax if window.quiet_uses_abs else window_max
        return torch.where(labels > 0, window_max > window.threshold, quiet < window.quiet_threshold)
