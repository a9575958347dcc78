"""Context-dependent sensory integration (Mante et al. 2013; SPEC §2)."""

from __future__ import annotations

import torch

from spikernn.tasks.base import SignedResponseTask, Trials, coin_flips
from spikernn.tasks.config import ContextDependentIntegrationConfig


class ContextDependentIntegration(SignedResponseTask):
    """Two noisy streams N(±0.5, 1) during the stimulus, a context cue for the whole trial; target
    the sign of the cued stream's offset from the stimulus' end on."""

    name = "mante"
    # condition = 4 * context + 2 * (offset1 > 0) + (offset2 > 0)
    condition_names = tuple(
        f"ctx{ctx + 1} {'+' if a else '-'}{'+' if b else '-'}" for ctx in (0, 1) for a in (0, 1) for b in (0, 1)
    )
    Config = ContextDependentIntegrationConfig
    offset = 0.5

    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        bits = coin_flips(batch_size, 3, generator)
        return bits[:, 0] * 4 + bits[:, 1] * 2 + bits[:, 2]

    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        batch = conditions.shape[0]
        context = conditions // 4
        signs = torch.stack([(conditions // 2) % 2, conditions % 2], dim=1).float() * 2 - 1
        on, off = self.steps(self.config.stim_onset_ms), self.steps(self.stim_end_ms)
        inputs = torch.zeros(batch, self.n_steps + 1, 4)
        noise = torch.randn(batch, off - on, 2, generator=generator)
        inputs[:, on:off, :2] = noise + self.offset * signs[:, None, :]
        inputs[torch.arange(batch), :, 2 + context] = 1.0
        labels = signs[torch.arange(batch), context].long()
        targets = torch.zeros(batch, self.n_steps)
        targets[:, off:] = labels.float()[:, None]
        return Trials(inputs, targets, labels=labels, conditions=conditions)
