"""Each task's ``task`` group: its name, its inputs and its timing in ms (SPEC §2), without torch, so
a command checks a task's timing before the modules that make trials are imported."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import ClassVar

from spikernn.validation import ConfigError, check_range

STEP_MS = 5.0  # the stimulus grid of every task (the rate model's dt)


@dataclass(unsafe_hash=True)
class TaskConfig:
    """A task's ``task`` group: its name and timing in ms (the defaults are the paper's, per task).

    The stimulus is on during [``stim_onset_ms``, ``stim_onset_ms + stim_duration_ms``); each task
    says when the response starts (:attr:`response_onset_ms`), and the readout is judged from
    ``rate_score_delay_ms`` (rate model) or ``spiking_score_delay_ms`` (spiking network) after
    that to the end of the trial, so the scoring windows follow the timing. Every time is a
    multiple of the 5-ms input step. Reads as its name (labels, logs)."""

    n_inputs: ClassVar[int] = 1  # input channels of the task's trials
    n_outputs: ClassVar[int] = 1  # readouts the task is decoded from

    name: str = ""
    trial_ms: float = 1000.0  # trial length T
    stim_onset_ms: float = 250.0
    stim_duration_ms: float = 125.0
    rate_score_delay_ms: float = 0.0
    spiking_score_delay_ms: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_ms"):
                positive = f.name in ("trial_ms", "stim_duration_ms")
                check_range(f"task.{f.name}", value, 0.0, lo_open=positive)
                if abs(value / STEP_MS - round(value / STEP_MS)) > 1e-9:
                    raise ConfigError(f"task.{f.name} must be a multiple of the {STEP_MS:g}-ms input step, got {value}")
        end = self.response_onset_ms + max(self.rate_score_delay_ms, self.spiking_score_delay_ms)
        in_order = self.stim_end_ms <= self.response_onset_ms and end < self.trial_ms
        if not (in_order and self.response_end_ms <= self.trial_ms):
            raise ConfigError(
                f"task {self.name}: stimulus, response and scoring must fit the trial in this order: the "
                f"stimulus ends at {self.stim_end_ms:g} ms, the response lasts from {self.response_onset_ms:g} to "
                f"{self.response_end_ms:g} ms and is judged from {end:g} ms; task.trial_ms = {self.trial_ms:g}"
            )

    def settings(self) -> dict:
        """The config as plain values (saved with a model: a command given other settings refuses it)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @property
    def stim_end_ms(self) -> float:
        """When the (last) stimulus ends (ms)."""
        return self.stim_onset_ms + self.stim_duration_ms

    @property
    def response_onset_ms(self) -> float:
        """When the target response starts (ms): at the stimulus' end unless the task says otherwise."""
        return self.stim_end_ms

    @property
    def response_end_ms(self) -> float:
        """When the target response ends (ms): at the end of the trial unless the task says otherwise."""
        return self.trial_ms

    @property
    def label(self) -> str:
        """What names the task in run names: its name (an adapter names the task it adapts)."""
        return self.name

    def __str__(self) -> str:
        return self.name


@dataclass(unsafe_hash=True)
class GoNoGoConfig(TaskConfig):
    """1-s trial; Go: input 1 on [250, 375) ms and target 1 from its end. The rate readout is
    judged from the pulse's end, the spiking readout from 125 ms later (500 ms: the reference's
    ``out(10000:end)``)."""

    n_inputs: ClassVar[int] = 1

    name: str = "go_nogo"
    trial_ms: float = 1000.0
    stim_onset_ms: float = 250.0
    stim_duration_ms: float = 125.0
    rate_score_delay_ms: float = 0.0
    spiking_score_delay_ms: float = 125.0


@dataclass(unsafe_hash=True)
class XORConfig(TaskConfig):
    """1.5-s trial; u1 = ±1 on [250, 500) ms, a ``delay_ms`` gap, u2 = ±1 on [550, 800) ms, then
    after ``response_delay_ms`` the target on [850, 1350) ms; both readouts judged from 1000 ms
    (150 ms into the response) to the end of the trial. ``stim_duration_ms`` is each pulse's."""

    n_inputs: ClassVar[int] = 2

    name: str = "xor"
    trial_ms: float = 1500.0
    stim_onset_ms: float = 250.0
    stim_duration_ms: float = 250.0
    delay_ms: float = 50.0
    response_delay_ms: float = 50.0
    response_duration_ms: float = 500.0
    rate_score_delay_ms: float = 150.0
    spiking_score_delay_ms: float = 150.0

    @property
    def stim_end_ms(self) -> float:
        """When the second pulse ends (ms)."""
        return self.stim_onset_ms + 2 * self.stim_duration_ms + self.delay_ms

    @property
    def response_onset_ms(self) -> float:
        return self.stim_end_ms + self.response_delay_ms

    @property
    def response_end_ms(self) -> float:
        return self.response_onset_ms + self.response_duration_ms


@dataclass(unsafe_hash=True)
class ContextDependentIntegrationConfig(TaskConfig):
    """2.5-s trial; the two streams on [250, 1250) ms, the target from their end. The rate readout
    is judged over its last 200 samples (from 1495 ms, the reference's ``o[-200:]``), the spiking
    readout from 1300 ms."""

    n_inputs: ClassVar[int] = 4

    name: str = "mante"
    trial_ms: float = 2500.0
    stim_onset_ms: float = 250.0
    stim_duration_ms: float = 1000.0
    rate_score_delay_ms: float = 245.0
    spiking_score_delay_ms: float = 50.0


def condition_slug(name: str) -> str:
    """A file- and metric-safe name for a trial type: ``"ctx1 +-"`` → ``"ctx1_pm"``."""
    spelled = name.replace("+", "p").replace("-", "m")
    return "".join(ch if ch.isalnum() else "_" for ch in spelled).strip("_")


# the tasks' configs by name; ``spikernn.tasks.register_task`` adds a new task's
TASK_CONFIGS: dict[str, type[TaskConfig]] = {
    cls.name: cls for cls in (GoNoGoConfig, XORConfig, ContextDependentIntegrationConfig)
}
# spikernn's tasks of an optional dependency, by name: their Task class, registered when first named
# (by task/<name>.yaml's _target_, or a model file of the task read in a fresh process)
OPTIONAL_TASKS = {"neurogym": "spikernn.tasks.neurogym_env.NeuroGymTask"}
