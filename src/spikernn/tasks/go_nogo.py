"""Go-NoGo (SPEC §2): respond to a brief pulse, stay silent without it."""

from __future__ import annotations

import torch

from spikernn.tasks.base import (
    ReadoutKind,
    ScoringWindow,
    SettledBounds,
    Task,
    Trials,
    coin_flips,
    first_index,
    float32_bound,
)
from spikernn.tasks.config import GoNoGoConfig


class GoNoGo(Task):
    """Go: input 1 during the stimulus and target 1 from its end; NoGo: nothing."""

    name = "go_nogo"
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

    def settled_bounds(self, labels: torch.Tensor, dt_ms: float, kind: ReadoutKind) -> SettledBounds | None:
        """Spiking readouts are judged by their maximum in the window: a Go trial is correct once a
        sample is above the threshold, a NoGo trial wrong once one reaches the quiet threshold
        ("≥ q" as "above the float32 below q"). The rate readout's NoGo rule takes |o| (not
        simulated by the spiking kernel): None. A subclass that judges otherwise: None."""
        if kind != "spiking" or not self.judged_as(GoNoGo):
            return None
        window = self.scoring_window(kind)
        nogo = torch.nextafter(float32_bound(window.quiet_threshold), torch.tensor(-torch.inf))
        above = torch.where(labels > 0, float32_bound(window.threshold), nogo)
        return SettledBounds(torch.full(above.shape, -torch.inf), above, first_index(window.from_ms, dt_ms, kind))

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        quiet = window_absmax if window.quiet_uses_abs else window_max
        return torch.where(labels > 0, window_max > window.threshold, quiet < window.quiet_threshold)
