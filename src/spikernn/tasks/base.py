"""What every task is: timing in ms, batched seeded trials, and scoring on any time grid.

Conventions (those of the reference code, rkim35/spikeRNN):

* Inputs are sampled on the task's stimulus grid (``step_ms`` = 5 ms): ``inputs[:, k]`` is the
  input at ``k * step_ms`` for ``k = 0 .. n_steps`` (``n_steps + 1`` columns).
* Targets ``targets[:, k]`` are on the same grid, ``k = 0 .. n_steps - 1``.
* A rate readout has ``n_steps - 1`` samples; sample ``k`` is compared with ``targets[:, k]``
  (the reference loss), so it is taken to lie at ``k * step_ms``.
* A spiking readout sample ``k`` lies at ``(k + 1) * dt_ms`` (LIF step ``k + 1`` of the
  reference code).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from spikernn.tasks.config import STEP_MS, TaskConfig
from spikernn.validation import ConfigError

ReadoutKind = Literal["rate", "spiking"]


@dataclass
class Trials:
    """A batch of trials.

    inputs: [batch, n_steps + 1, n_inputs] on the stimulus grid.
    targets: [batch, n_steps] target readout on the stimulus grid ([batch, n_outputs, n_steps] for a
        task of several outputs).
    labels: [batch] the value the scoring rule checks (task-specific, e.g. 1 Go / 0 NoGo; the
        correct output's index for a task of several outputs).
    conditions: [batch] trial type index into ``Task.condition_names``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor
    conditions: torch.Tensor

    def __len__(self) -> int:
        return self.inputs.shape[0]


@dataclass(frozen=True)
class ScoringWindow:
    """Where and how a readout is judged: from ``from_ms`` to the end of the trial."""

    from_ms: float
    threshold: float = 0.7
    # Go-NoGo "no response" rule: max |o| < quiet_threshold (rate) or max o < it (spiking).
    quiet_threshold: float = 0.3
    quiet_uses_abs: bool = False


def first_index(from_ms: float, dt_ms: float, kind: ReadoutKind) -> int:
    """Index of the first readout sample at or after ``from_ms`` on a grid of ``dt_ms``."""
    k = math.ceil(from_ms / dt_ms - 1e-9)
    return k if kind == "rate" else k - 1


class Task(ABC):
    """A cognitive task defined in physical time (ms); its timing is ``config`` (a ``Config``)."""

    name: str
    condition_names: tuple[str, ...]
    Config: ClassVar[type[TaskConfig]]
    step_ms: float = STEP_MS
    # Trials the rate network must have seen before it may stop (SPEC §1; Go-NoGo: 1500).
    min_training_trials: int = 0

    def __init__(self, config: TaskConfig | None = None) -> None:
        self.config = self.Config() if config is None else config
        if self.config.name != self.name:
            raise ConfigError(f"task: {type(self.config).__name__} configures {self.config.name!r}, not {self.name!r}")

    @property
    def n_inputs(self) -> int:
        """Input channels of the trials (the config's: a class constant, or read from an environment)."""
        return self.config.n_inputs

    @property
    def n_outputs(self) -> int:
        """Readouts the task is decoded from (1 for the paper's tasks; one per choice for more than two)."""
        return self.config.n_outputs

    @property
    def chance_accuracy(self) -> float:
        """The accuracy of guessing: 1/2 for a binary decision (every paper task), 1/n for n outputs."""
        return 1.0 / max(2, self.n_outputs)

    @property
    def duration_ms(self) -> float:
        """Trial length (ms)."""
        return self.config.trial_ms

    @property
    def stim_end_ms(self) -> float:
        """When the (last) stimulus ends (ms)."""
        return self.config.stim_end_ms

    @property
    def response_onset_ms(self) -> float:
        """When the target response starts (ms)."""
        return self.config.response_onset_ms

    @property
    def response_end_ms(self) -> float:
        """When the target response ends (ms)."""
        return self.config.response_end_ms

    @property
    def n_steps(self) -> int:
        """Trial length T in stimulus-grid steps."""
        return round(self.duration_ms / self.step_ms)

    def steps(self, ms: float) -> int:
        """Convert a time in ms to stimulus-grid steps."""
        return round(ms / self.step_ms)

    def scoring_window(self, kind: ReadoutKind) -> ScoringWindow:
        """The window and thresholds used to judge a ``kind`` readout: from the response's onset
        plus the config's delay for that kind to the end of the trial."""
        delay = self.config.rate_score_delay_ms if kind == "rate" else self.config.spiking_score_delay_ms
        return ScoringWindow(from_ms=self.response_onset_ms + delay)

    @abstractmethod
    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``batch_size`` trial types (indices into ``condition_names``)."""

    @abstractmethod
    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        """Make the trials of the given types (noise drawn from ``generator``)."""

    @abstractmethod
    def correct(
        self,
        window_max: torch.Tensor,
        window_min: torch.Tensor,
        window_absmax: torch.Tensor,
        labels: torch.Tensor,
        window: ScoringWindow,
    ) -> torch.Tensor:
        """Whether each trial is correct given the readout extremes inside the window."""

    def make_trials(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        conditions: torch.Tensor | None = None,
    ) -> Trials:
        """A batch of fresh trials; trial types drawn with probability 1/len(conditions) each."""
        if generator is None:
            generator = torch.Generator().manual_seed(torch.seed())
        if conditions is None:
            conditions = self.sample_conditions(batch_size, generator)
        return self.build(conditions.long(), generator)

    def score(self, readout: torch.Tensor, labels: torch.Tensor, dt_ms: float, kind: ReadoutKind) -> torch.Tensor:
        """Boolean correctness of each trial; ``readout`` is [..., n_samples] on a ``dt_ms`` grid
        ([..., n_outputs, n_samples] for a task of several outputs).

        ``labels`` broadcasts against the trials' dimensions of ``readout``.
        """
        window = self.scoring_window(kind)
        start = first_index(window.from_ms, dt_ms, kind)
        if not 0 <= start < readout.shape[-1]:
            raise ValueError(
                f"scoring window from {window.from_ms} ms lies outside a readout of "
                f"{readout.shape[-1]} samples at dt={dt_ms} ms"
            )
        return self.judge(readout[..., start:], labels, window)

    def judge(self, part: torch.Tensor, labels: torch.Tensor, window: ScoringWindow) -> torch.Tensor:
        """Whether each trial is correct given its readout samples in the window, ``part`` [..., n]:
        by the extremes there (:meth:`correct`). A task of several outputs decides otherwise."""
        return self.correct(part.amax(-1), part.amin(-1), part.abs().amax(-1), labels, window)

    def settled_bounds(self, labels: torch.Tensor, dt_ms: float, kind: ReadoutKind) -> SettledBounds | None:
        """Where each trial's verdict is settled before the trial ends (:class:`SettledBounds`). A
        caller that only counts correct trials (the scaling-factor search) may stop simulating a
        trial there. None (the default): no such rule, every sample counts."""
        return None

    def judged_as(self, owner: type[Task]) -> bool:
        """Whether this task judges readouts by ``owner``'s rule (``owner``'s :meth:`correct`, Task's
        :meth:`judge` and :meth:`score`): a subclass that judges otherwise inherits no settled bounds."""
        cls = type(self)
        return cls.correct is owner.correct and cls.judge is Task.judge and cls.score is Task.score

    def accuracy(self, readout: torch.Tensor, labels: torch.Tensor, dt_ms: float, kind: ReadoutKind) -> float:
        """Fraction of trials correct."""
        return self.score(readout, labels, dt_ms, kind).double().mean().item()


@dataclass(frozen=True)
class SettledBounds:
    """Per trial, bounds (float32, shaped like the labels; ±inf: none) such that once the first
    output is above ``above`` or below ``below`` at a readout sample k ≥ ``first_sample``,
    :meth:`Task.score` gives the same verdict whatever the samples after k are (finite ones)."""

    below: torch.Tensor
    above: torch.Tensor
    first_sample: int


def float32_bound(x: float) -> torch.Tensor:
    """``x`` as torch compares a float32 readout with it (``readout > x``: x rounded to float32)."""
    return torch.tensor(x, dtype=torch.float32)


class SignedResponseTask(Task):
    """A task answered by one output's sign (labels ±1): a +1 trial is correct when the readout
    passes +threshold in the window, a −1 trial when it passes −threshold; the verdict settles the
    moment it does (:meth:`settled_bounds`)."""

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        return signed_response_correct(window_max, window_min, labels, window.threshold)

    def settled_bounds(self, labels: torch.Tensor, dt_ms: float, kind: ReadoutKind) -> SettledBounds | None:
        """A +1 trial is correct once a sample is above the threshold, a −1 trial once one is below
        −threshold; a subclass that judges otherwise: None."""
        if not self.judged_as(SignedResponseTask):
            return None
        window = self.scoring_window(kind)
        inf = torch.tensor(torch.inf)
        above = torch.where(labels > 0, float32_bound(window.threshold), inf)
        below = torch.where(labels > 0, -inf, float32_bound(-window.threshold))
        return SettledBounds(below, above, first_index(window.from_ms, dt_ms, kind))


def signed_response_correct(
    window_max: torch.Tensor, window_min: torch.Tensor, labels: torch.Tensor, threshold: float
) -> torch.Tensor:
    """+1 trials correct if max > threshold; -1 trials correct if min < -threshold."""
    return torch.where(labels > 0, window_max > threshold, window_min < -threshold)


def chosen_output_correct(part: torch.Tensor, labels: torch.Tensor, threshold: float) -> torch.Tensor:
    """A choice among several outputs (``part`` [..., n_outputs, n] in the window, ``labels`` the
    correct output's index): correct when the correct output has the highest mean in the window and
    its maximum there exceeds ``threshold`` (it responded, as a Go trial must)."""
    chosen = part.mean(-1).argmax(-1)
    own = torch.nn.functional.one_hot(labels.long(), part.shape[-2]).bool()
    peak = torch.where(own, part.amax(-1), -torch.inf).amax(-1)
    return (chosen == labels) & (peak > threshold)


def coin_flips(batch_size: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` draws of ``n`` fair binary choices, as a [batch_size, n] 0/1 tensor."""
    return (torch.rand(batch_size, n, generator=generator) < 0.5).long()
