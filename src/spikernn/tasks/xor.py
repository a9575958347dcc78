"""Temporal XOR (SPEC §2): two ±1 pulses; answer +1 if they match, -1 if not."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spikernn.tasks.base import ScoringWindow, Task, TaskConfig, Trials, coin_flips, signed_response_correct


@dataclass(unsafe_hash=True)
class XORConfig(TaskConfig):
    """1.5-s trial; u1 = ±1 on [250, 500) ms, a ``delay_ms`` gap, u2 = ±1 on [550, 800) ms, then
    after ``response_delay_ms`` the target on [850, 1350) ms; both readouts judged from 1000 ms
    (150 ms into the response) to the end of the trial. ``stim_duration_ms`` is each pulse's."""

    name: str = "xor"
    trial_ms: float = 1500.0
    stim_onset_ms: float = 250.0
    stim_duration_ms: float = 250.0
    delay_ms: float = 50.0
    response_delay_ms: float = 50.0
    response_duration_ms: float = 500.0
    rate_score_delay_ms: float = 150.0
    spiking_score_delay_ms: float = 150.0


class XOR(Task):
    """Two pulses of the stimulus' duration, ``delay_ms`` apart; the target after ``response_delay_ms``."""

    name = "xor"
    n_inputs = 2
    condition_names = ("(-,-)", "(-,+)", "(+,-)", "(+,+)")
    Config = XORConfig
    config: XORConfig

    @property
    def stim_end_ms(self) -> float:
        """When the second pulse ends (ms)."""
        c = self.config
        return c.stim_onset_ms + 2 * c.stim_duration_ms + c.delay_ms

    @property
    def response_onset_ms(self) -> float:
        return self.stim_end_ms + self.config.response_delay_ms

    @property
    def response_end_ms(self) -> float:
        return self.response_onset_ms + self.config.response_duration_ms

    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        bits = coin_flips(batch_size, 2, generator)
        return bits[:, 0] * 2 + bits[:, 1]

    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        c = self.config
        batch = conditions.shape[0]
        signs = torch.stack([conditions // 2, conditions % 2], dim=1).float() * 2 - 1
        inputs = torch.zeros(batch, self.n_steps + 1, 2)
        second_ms = c.stim_onset_ms + c.stim_duration_ms + c.delay_ms
        for channel, on in enumerate((c.stim_onset_ms, second_ms)):
            inputs[:, self.steps(on) : self.steps(on + c.stim_duration_ms), channel] = signs[:, channel, None]
        labels = (signs[:, 0] * signs[:, 1]).long()
        targets = torch.zeros(batch, self.n_steps)
        targets[:, self.steps(self.response_onset_ms) : self.steps(self.response_end_ms)] = labels.float()[:, None]
        return Trials(inputs, targets, labels=labels, conditions=conditions)

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        return signed_response_correct(window_max, window_min, labels, window.threshold)
