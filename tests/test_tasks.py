"""Tasks against SPEC §2: timing, targets, labels and the two scoring rules."""

from __future__ import annotations

import hashlib
import re

import pytest
import torch

from spikernn.tasks import TASKS, GoNoGoConfig, XORConfig, get_task
from spikernn.tasks.base import first_index
from spikernn.validation import ConfigError


def test_go_nogo_trials_follow_spec() -> None:
    task = get_task("go_nogo")
    trials = task.make_trials(2, torch.Generator().manual_seed(0), conditions=torch.tensor([1, 0]))
    assert task.n_steps == 200
    assert trials.inputs.shape == (2, 201, 1) and trials.targets.shape == (2, 200)
    go, nogo = trials.inputs[0, :, 0], trials.inputs[1, :, 0]
    assert torch.equal(torch.nonzero(go).flatten(), torch.arange(50, 75))  # u = 1 on steps [50, 75)
    assert nogo.abs().sum() == 0
    assert torch.equal(torch.nonzero(trials.targets[0]).flatten(), torch.arange(75, 200))
    assert trials.targets[1].abs().sum() == 0
    assert trials.labels.tolist() == [1, 0]


def test_xor_labels_and_windows() -> None:
    task = get_task("xor")
    trials = task.make_trials(4, torch.Generator().manual_seed(0), conditions=torch.arange(4))
    assert trials.inputs.shape == (4, 301, 2)
    assert trials.labels.tolist() == [1, -1, -1, 1]  # same sign → +1
    first, second = trials.inputs[3, :, 0], trials.inputs[3, :, 1]
    assert torch.equal(torch.nonzero(first).flatten(), torch.arange(50, 100))
    assert torch.equal(torch.nonzero(second).flatten(), torch.arange(110, 160))
    assert torch.equal(torch.nonzero(trials.targets[1]).flatten(), torch.arange(170, 270))
    assert torch.all(trials.targets[1, 170:270] == -1)


def test_mante_context_selects_label() -> None:
    task = get_task("mante")
    g = torch.Generator().manual_seed(0)
    trials = task.make_trials(2000, g)
    assert trials.inputs.shape == (2000, 501, 4)
    context = trials.inputs[:, 0, 3].long()  # 1 = attend stream 2
    assert torch.all(trials.inputs[:, :, 2] + trials.inputs[:, :, 3] == 1)
    stream = trials.inputs[torch.arange(2000), 50:250, context]
    # the cued stream's mean offset (±0.5 plus noise of SD 1/sqrt(200)) carries the label's sign
    offset_sign = torch.sign(stream.mean(1) - 0)
    agree = (offset_sign == trials.labels).float().mean()
    assert agree > 0.99
    assert torch.all(trials.inputs[:, :50, :2] == 0) and torch.all(trials.inputs[:, 250:, :2] == 0)
    assert torch.all(trials.targets[:, 250:] == trials.labels[:, None].float())
    assert 0.45 < (trials.labels == 1).float().mean() < 0.55


def test_first_index_matches_reference_windows() -> None:
    assert first_index(375.0, 5.0, "rate") == 75  # Go-NoGo eval_o[75:]
    assert first_index(1495.0, 5.0, "rate") == 299  # Mante eval_o[-200:] of 499 outputs
    assert first_index(500.0, 0.05, "spiking") == 9999  # out(10000:end), 1-based
    assert first_index(1300.0, 0.05, "spiking") == 25999
    assert first_index(1000.0, 0.05, "spiking") == 19999


def test_go_nogo_rate_nogo_rule_uses_absolute_value_but_spiking_does_not() -> None:
    task = get_task("go_nogo")
    readout = torch.zeros(1, 199)
    readout[0, 120] = -0.5  # a negative excursion inside the window
    nogo = torch.tensor([0])
    assert not task.score(readout, nogo, 5.0, "rate").item()
    lif = torch.zeros(1, 20000)
    lif[0, 12000] = -0.5
    assert task.score(lif, nogo, 0.05, "spiking").item()


def test_scoring_window_edges() -> None:
    task = get_task("go_nogo")
    go = torch.tensor([1])
    lif = torch.zeros(1, 20000)
    lif[0, 9998] = 1.0  # just before 500 ms: ignored
    assert not task.score(lif, go, 0.05, "spiking").item()
    lif[0, 9999] = 1.0  # at 500 ms: counts
    assert task.score(lif, go, 0.05, "spiking").item()
    signed = get_task("mante")
    out = torch.zeros(2, 499)
    out[0, 299], out[1, 298] = -0.8, -0.8
    assert signed.score(out, torch.tensor([-1, -1]), 5.0, "rate").tolist() == [True, False]


def test_trials_are_reproducible_from_the_seed() -> None:
    for name in TASKS:
        task = get_task(name)
        a = task.make_trials(8, torch.Generator().manual_seed(5))
        b = task.make_trials(8, torch.Generator().manual_seed(5))
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.labels, b.labels)


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ConfigError, match="task must be one of 'go_nogo', 'xor', 'mante'"):
        get_task("dms")


# sha256 (first 32 hex digits) of inputs, targets, labels and conditions of 64 trials per seed, computed
# with the code before the timing became configurable (class attributes): the default timing must
# give the same trials bit for bit
TRIALS_BEFORE_TIMING_CONFIG = {
    ("go_nogo", 0): "ce68a20661693836661b92a454eb9ce7",
    ("go_nogo", 1): "bb77f0530dddebb68d7da4a0ab941ca3",
    ("mante", 0): "c86b2a38130d1208a96569e5bf15475f",
    ("mante", 1): "57098e56daab89b18f3349fa2810ac73",
    ("xor", 0): "c98d848b102a4b9ad3887c04b54ca495",
    ("xor", 1): "854396bb6c4500d5886f1e18412f6f9b",
}


@pytest.mark.parametrize(("name", "seed"), sorted(TRIALS_BEFORE_TIMING_CONFIG))
def test_default_timing_gives_the_trials_of_before(name: str, seed: int) -> None:
    task = get_task(TASKS[name].Config())
    trials = task.make_trials(64, torch.Generator().manual_seed(seed))
    digest = hashlib.sha256()
    for tensor in (trials.inputs, trials.targets, trials.labels, trials.conditions):
        digest.update(tensor.contiguous().numpy().tobytes())
    assert digest.hexdigest()[:32] == TRIALS_BEFORE_TIMING_CONFIG[(name, seed)]


def test_timing_moves_stimulus_target_and_scoring_windows() -> None:
    task = get_task(GoNoGoConfig(stim_onset_ms=100.0, stim_duration_ms=50.0, trial_ms=600.0))
    trials = task.make_trials(1, torch.Generator().manual_seed(0), conditions=torch.tensor([1]))
    assert trials.inputs.shape == (1, 121, 1)
    assert torch.equal(torch.nonzero(trials.inputs[0, :, 0]).flatten(), torch.arange(20, 30))
    assert torch.equal(torch.nonzero(trials.targets[0]).flatten(), torch.arange(30, 120))
    assert task.scoring_window("rate").from_ms == 150.0 and task.scoring_window("spiking").from_ms == 275.0
    xor = get_task(XORConfig(delay_ms=100.0, stim_duration_ms=200.0))  # pulses [250, 450), [550, 750)
    both = xor.make_trials(1, torch.Generator().manual_seed(0), conditions=torch.tensor([3]))
    assert torch.equal(torch.nonzero(both.inputs[0, :, 1]).flatten(), torch.arange(110, 150))
    assert torch.equal(torch.nonzero(both.targets[0]).flatten(), torch.arange(160, 260))  # 800 … 1300 ms
    assert xor.scoring_window("spiking").from_ms == 950.0


@pytest.mark.parametrize(("config", "values"), [(GoNoGoConfig, {"trial_ms": 400.0}), (XORConfig, {"delay_ms": 500.0})])
def test_timing_that_does_not_fit_the_trial_is_refused(config: type, values: dict) -> None:
    """The task's config refuses it (checked before torch is imported, see test_console.py)."""
    with pytest.raises(ConfigError, match="stimulus, response and scoring must fit the trial"):
        config(**values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stim_duration_ms": 0.0}, "task.stim_duration_ms must be in (0, inf]"),
        ({"stim_onset_ms": -5.0}, "task.stim_onset_ms must be in [0, inf]"),
        ({"stim_onset_ms": 252.0}, "task.stim_onset_ms must be a multiple of the 5-ms input step"),
        ({"trial_ms": float("nan")}, "task.trial_ms must be a finite number"),
    ],
)
def test_bad_timing_values_are_refused_naming_the_key(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        GoNoGoConfig(**values)
