"""NeuroGym's trial environments as spikernn tasks: ``task=neurogym task.env=PerceptualDecisionMaking-v0``.

NeuroGym (``pip install 'spikernn[neurogym]'``) defines cognitive tasks as Gymnasium environments
that draw one trial at a time: an observation and a ground-truth action per time step, and periods
(``fixation``, ``stimulus``, ``delay``, ``decision`` …) with durations in ms. Here the environment runs
at the rate model's step (5 ms); its observations are the network's inputs (held over each step by
the spiking network); its ground truth becomes the target readout: 0 outside the decision period
and, in it, the level of the correct choice.

Two outcomes, one readout, as the paper's tasks: either two choices (PerceptualDecisionMaking,
DelayMatchSample, ContextDecisionMaking: targets −1 and +1, scored as XOR and Mante are, by the
readout's sign in the decision period) or respond / withhold (GoNogo: targets 1 and 0, scored as
Go-NoGo is). More than two choices (e.g. ``+task.env_kwargs.dim_ring=3``): one readout per choice,
each trained towards 1 in the decision period when its choice is the answer and 0 otherwise; the
decision is the output with the highest mean in the scoring window, and it must also cross the
response threshold there (0.7). A trial is correct when the decision in the decision period is the
ground truth's — NeuroGym's own notion of a correct trial. Why squared error on target levels and
not cross-entropy over actions: it is the paper's loss, and the spiking network then reads out
exactly as the rate network does (linear readouts of its synaptic rates, no softmax), with the
same decoding for both.

The trials of one run must all have the same length (a batch is a tensor): every period's duration
must be fixed. A period NeuroGym draws at random is refused, naming ``task.timing.<period>``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from spikernn.tasks.base import ScoringWindow, Task, Trials, chosen_output_correct, signed_response_correct
from spikernn.tasks.config import STEP_MS, TaskConfig
from spikernn.validation import ConfigError

NOT_ENV_KWARGS = ("dt", "timing")  # set by spikernn: the 5-ms step, and task.timing


@dataclass(unsafe_hash=True)
class NeuroGymConfig(TaskConfig):
    """A NeuroGym environment (``env``, its id), its own keyword arguments (``env_kwargs``) and the
    durations (ms) of its periods (``timing``, on top of the environment's defaults). The trial's
    length, the stimulus and the response onset (the ``decision_period``'s start) are read from
    the environment; the readout is judged from that onset plus the score delays."""

    name: str = "neurogym"
    env: str = "PerceptualDecisionMaking-v0"
    env_kwargs: dict = field(default_factory=dict, hash=False)
    timing: dict = field(default_factory=dict, hash=False)
    decision_period: str = "decision"

    def __post_init__(self) -> None:
        env = make_env(self)
        self.trial_ms = float(env.tmax)
        self.stim_onset_ms = float(env.end_t.get("fixation", 0.0))
        self.stim_duration_ms = float(env.start_t[self.decision_period]) - self.stim_onset_ms
        if self.stim_duration_ms <= 0 or env.end_t[self.decision_period] != env.tmax:
            raise ConfigError(
                f"task.decision_period: {self.decision_period!r} of {self.env} must follow the stimulus and end the "
                f"trial; its periods are {list(env.start_t)}"
            )
        super().__post_init__()
        actions = decision_actions(self)
        if len(actions) < 2 or len(set(actions)) != len(actions):
            raise ConfigError(f"task.env: {self.env}'s choices must lead to different decision actions, got {actions}")
        if len(actions) > 2 and 0 in actions:
            raise ConfigError(
                f"task.env: {self.env} has {len(actions)} choices, one of them to withhold (action 0); one readout "
                "per choice needs every choice to be a response"
            )

    @property
    def n_inputs(self) -> int:  # type: ignore[override]
        """The environment's observation size."""
        return int(make_env(self).observation_space.shape[0])

    @property
    def n_outputs(self) -> int:  # type: ignore[override]
        """One readout for two outcomes; one per choice for more."""
        return readouts_for(len(decision_actions(self)))

    @property
    def label(self) -> str:
        """The environment's id without its version, e.g. ``PerceptualDecisionMaking`` (run names)."""
        return self.env.split("-v")[0]

    @property
    def response_onset_ms(self) -> float:
        """The decision period's start (ms)."""
        return self.stim_end_ms

    def key(self) -> str:
        """The environment and its settings as one string (the cache key of its instance)."""
        return json.dumps([self.env, self.env_kwargs, self.timing, self.decision_period], sort_keys=True)


def readouts_for(n_choices: int) -> int:
    """Readouts of a task of ``n_choices`` outcomes: one for two (its sign or level), one per choice else."""
    return 1 if n_choices == 2 else n_choices


def decision_actions(config: NeuroGymConfig) -> list[int]:
    """The ground-truth action in the decision period for each of the environment's choices."""
    env = make_env(config)
    decision = slice(env.start_ind[config.decision_period], env.end_ind[config.decision_period])
    actions = []
    for choice in env.choices:
        env.new_trial(ground_truth=choice)
        answer = np.unique(env.gt[decision])
        if len(answer) != 1:
            raise ConfigError(f"task.env: {config.env}'s decision period holds several actions {answer.tolist()}")
        actions.append(int(answer[0]))
    return actions


def make_env(config: NeuroGymConfig) -> Any:
    """The (unwrapped) environment ``config`` describes at the 5-ms step, with a first trial drawn;
    a bad id, keyword or timing is a ``ConfigError`` naming the key."""
    return _make_env(config.key())


@functools.lru_cache(maxsize=8)
def _make_env(key: str) -> Any:
    env_id, env_kwargs, timing, decision = json.loads(key)
    try:
        import neurogym
    except ImportError:
        raise ConfigError("task=neurogym needs NeuroGym: pip install 'spikernn[neurogym]' (neurogym 2.3.1)") from None
    given = [k for k in env_kwargs if k in NOT_ENV_KWARGS]
    if given:
        raise ConfigError(f"task.env_kwargs.{given[0]}: set by spikernn (dt is the 5-ms step; use task.timing)")
    for period, ms in timing.items():
        if not isinstance(ms, (int, float)) or ms < 0 or abs(ms / STEP_MS - round(ms / STEP_MS)) > 1e-9:
            raise ConfigError(f"task.timing.{period} must be a duration in ms, a multiple of {STEP_MS:g}, got {ms!r}")
    try:
        env = neurogym.make(env_id, dt=int(STEP_MS), timing=timing, **env_kwargs).unwrapped
    except Exception as err:  # gymnasium: unknown id (its own error types), bad keyword (TypeError)
        raise ConfigError(f"task.env: cannot make {env_id!r} with task.env_kwargs {env_kwargs}: {err}") from None
    random = {p: t for p, t in env.timing.items() if not isinstance(t, (int, float))}
    if random:
        period, how = next(iter(random.items()))
        how = how if isinstance(how, (list, tuple)) else type(how).__name__
        raise ConfigError(
            f"task.timing.{period}: {env_id} draws this period's duration at random ({how}); every trial of a "
            f"batch has the same length here, so give it in ms, e.g. task.timing.{period}=500"
        )
    env.new_trial()
    if decision not in env.start_t:
        raise ConfigError(
            f"task.decision_period must be one of {env_id}'s periods {list(env.start_t)}, got {decision!r}"
        )
    return env


class NeuroGymTask(Task):
    """A NeuroGym task: trial types are the environment's choices (its ``ground_truth``)."""

    name = "neurogym"
    Config = NeuroGymConfig
    config: NeuroGymConfig

    def __init__(self, config: NeuroGymConfig | None = None) -> None:
        super().__init__(config)
        env = make_env(self.config)
        self.choices = [c.item() if isinstance(c, np.generic) else c for c in env.choices]
        actions = decision_actions(self.config)  # different: checked by the config
        self.actions = actions
        self.go_nogo = len(actions) == 2 and 0 in actions
        if self.n_outputs > 1:  # a readout per choice, in the order of the choices; the label is its index
            self.levels = {a: float(i) for i, a in enumerate(actions)}
            self.condition_names = tuple(f"choice {c}" for c in self.choices)
        elif self.go_nogo:  # respond / withhold (an answer is action 0: fixate): targets 1 / 0
            self.levels = {a: float(a != 0) for a in actions}
            self.condition_names = tuple("Go" if a else "NoGo" for a in actions)
        else:  # two choices: −1 / +1
            self.levels = {a: (-1.0, 1.0)[sorted(actions).index(a)] for a in actions}
            self.condition_names = tuple(f"choice {c}" for c in self.choices)

    @property
    def n_outputs(self) -> int:
        """As the config's, from the decision actions read once (not an environment's trials per call)."""
        return readouts_for(len(self.actions))

    def sample_conditions(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(0, len(self.choices), (batch_size,), generator=generator)

    def _target_levels(self) -> np.ndarray:
        """[n_outputs, actions]: each output's target level for each ground-truth action (0 = fixate)."""
        table = np.zeros((self.n_outputs, max(self.actions) + 1), dtype=np.float32)
        for action, value in self.levels.items():
            if self.n_outputs > 1:
                table[int(value), action] = 1.0
            else:
                table[0, action] = value
        return table

    def build(self, conditions: torch.Tensor, generator: torch.Generator) -> Trials:
        env = make_env(self.config)
        seeds = torch.randint(0, 2**31 - 1, (len(conditions),), generator=generator).tolist()
        inputs = torch.zeros(len(conditions), self.n_steps + 1, self.n_inputs)
        targets = torch.zeros(len(conditions), self.n_outputs, self.n_steps)
        table = self._target_levels()
        for i, (k, seed) in enumerate(zip(conditions.tolist(), seeds, strict=True)):
            env.rng = np.random.RandomState(seed)  # the trial's noise and draws: from the run's generator
            env.new_trial(ground_truth=self.choices[k])
            if len(env.gt) != self.n_steps:
                raise ConfigError(
                    f"task.timing: {self.config.env} drew a trial of {len(env.gt)} steps, not {self.n_steps}"
                )
            inputs[i, : self.n_steps] = torch.from_numpy(np.asarray(env.ob, dtype=np.float32))
            targets[i] = torch.from_numpy(table[:, np.clip(env.gt, 0, table.shape[1] - 1)])
        labels = torch.tensor([self.levels[self.actions[k]] for k in conditions.tolist()])
        if self.n_outputs == 1:
            targets = targets[:, 0]
        else:
            labels = labels.long()
        return Trials(inputs, targets, labels=labels, conditions=conditions.clone())

    def judge(self, part: torch.Tensor, labels: torch.Tensor, window: ScoringWindow) -> torch.Tensor:
        if self.n_outputs > 1:
            return chosen_output_correct(part, labels, window.threshold)
        return super().judge(part, labels, window)

    def correct(self, window_max, window_min, window_absmax, labels, window: ScoringWindow) -> torch.Tensor:
        if self.go_nogo:  # as Go-NoGo: above the threshold to respond, below the quiet one to withhold
            return torch.where(labels > 0, window_max > window.threshold, window_max < window.quiet_threshold)
        return signed_response_correct(window_max, window_min, labels, window.threshold)
