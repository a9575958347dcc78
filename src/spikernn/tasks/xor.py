"""Temporal XOR (SPEC §2): two ±1 pulses; answer +1 if they match, -1 if not."""

from __future__ import annotations

import torch

from spikernn.tasks.base import ReadoutKind, ScoringWindow, Task, Trials, coin_flips, signed_response_correct


class XOR(Task):
    """1.5-s trial; u1 = ±1 on [250, 500) ms, u2 = ±1 on [550, 800) ms, response on [850, 1350) ms."""

    name = "xor"
    n_inputs = 2
    duration_ms = 1500.0
    condition_names = ("(-,-)", "(-,+)", "(+,-)", "(+,+)")
    first_ms = (250.0, 500.0)
    second_ms = (550.0, 800.0)
    response_ms = (850.0, 1350.0)

    def scoring_window(self, kind: ReadoutKind) -> ScoringWindow:
        return ScoringWindow(from_ms=1000.0)

    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        bits = coin_flips(batch_size, 2, generator)
        return bits[:, 0] * 2 + bits[:, 1]

    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        batch = conditions.shape[0]
        signs = torch.stack([conditions // 2, conditions % 2], dim=1).float() * 2 - 1
        inputs = torch.zeros(batch, self.n_steps + 1, 2)
        for channel, (on, off) in enumerate((self.first_ms, self.second_ms)):
            inputs[:, self.steps(on) : self.steps(off), channel] = signs[:, channel, None]
        labels = (signs[:, 0] * signs[:, 1]).long()
        targets = torch.zeros(batch, self.n_steps)
        targets[:, self.steps(self.response_ms[0]) : self.steps(self.response_ms[1])] = labels.float()[:, None]
        return Trials(inputs, targets, labels=labels, conditions=conditions)

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        return signed_response_correct(window_max, window_min, labels, window.threshold)
