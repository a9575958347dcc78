"""Context-dependent sensory integration (Mante et al. 2013; SPEC §2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spikernn.tasks.base import ScoringWindow, Task, TaskConfig, Trials, coin_flips, signed_response_correct


@dataclass(unsafe_hash=True)
class ContextDependentIntegrationConfig(TaskConfig):
    """2.5-s trial; the two streams on [250, 1250) ms, the target from their end. The rate readout
    is judged over its last 200 samples (from 1495 ms, the reference's ``o[-200:]``), the spiking
    readout from 1300 ms."""

    name: str = "mante"
    trial_ms: float = 2500.0
    stim_onset_ms: float = 250.0
    stim_duration_ms: float = 1000.0
    rate_score_delay_ms: float = 245.0
    spiking_score_delay_ms: float = 50.0


class ContextDependentIntegration(Task):
    """Two noisy streams N(±0.5, 1) during the stimulus, a context cue for the whole trial; target
    the sign of the cued stream's offset from the stimulus' end on."""

    name = "mante"
    n_inputs = 4
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

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        return signed_response_correct(window_max, window_min, labels, window.threshold)
