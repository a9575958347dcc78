"""Temporal XOR (SPEC §2): two ±1 pulses; answer +1 if they match, -1 if not."""

from __future__ import annotations

import torch

from spikernn.tasks.base import SignedResponseTask, Trials, coin_flips
from spikernn.tasks.config import XORConfig


class XOR(SignedResponseTask):
    """Two pulses of the stimulus' duration, ``delay_ms`` apart; the target after ``response_delay_ms``."""

    name = "xor"
    condition_names = ("(-,-)", "(-,+)", "(+,-)", "(+,+)")
    Config = XORConfig
    config: XORConfig

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
