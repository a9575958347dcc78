"""The scaling-factor search's choice: the grid's best, or the best after re-scoring the top factors."""

from __future__ import annotations

import pytest
import torch

from spikernn import transfer
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.spiking import SpikingParameters, SpikingRNN
from spikernn.tasks import get_task
from spikernn.transfer import FactorSearchResult, search_scaling_factor, to_spiking
from spikernn.transfer_config import TransferConfig
from spikernn.validation import ConfigError


def test_rescoring_chooses_by_all_trials_and_keeps_the_grid_maximum(monkeypatch) -> None:
    """Grid: factor 20 is lucky (0.96 on 100 trials); re-scored on 200 more trials, 25 (0.95 then 0.98)
    beats it (0.96 then 0.90): 25 is chosen, the reference's number stays 0.96."""
    factors = [15.0, 20.0, 25.0, 30.0]
    calls = []

    def scores(network, task, fs, n, generator, chunk_trials, on_progress, *rest) -> FactorSearchResult:
        calls.append((list(fs), n))
        table = {15.0: 0.90, 20.0: 0.96, 25.0: 0.95, 30.0: 0.50} if len(calls) == 1 else {20.0: 0.90, 25.0: 0.98}
        return FactorSearchResult(list(fs), [table[f] for f in fs], n)

    monkeypatch.setattr(transfer, "_score_factors", scores)
    plain = search_scaling_factor(None, None, factors, 100, torch.Generator())
    assert plain.best_factor == 20.0 and plain.rescored is None and calls == [(factors, 100)]
    calls.clear()
    search = search_scaling_factor(None, None, factors, 100, torch.Generator(), rescore_best=2, rescore_trials=200)
    assert calls == [(factors, 100), ([20.0, 25.0], 200)]
    assert search.rescored == {1: pytest.approx((96 + 180) / 300), 2: pytest.approx((95 + 196) / 300)}
    assert search.best_factor == 25.0 and search.best_grid_accuracy == 0.96


def test_rescoring_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="transfer.rescore_best"):
        TransferConfig(rescore_best=-1)
    with pytest.raises(ConfigError, match="transfer.rescore_trials"):
        TransferConfig(rescore_trials=0)


def _fake_network(monkeypatch, truth: dict[float, float], seed: int = 0) -> list[tuple[list[float], int]]:
    """Replace the simulation by Bernoulli draws at the given true accuracy of each factor; returns
    the list of (factors, trials) simulated."""
    calls: list[tuple[list[float], int]] = []
    rng = torch.Generator().manual_seed(seed)

    def counts(network, task, fs, n, generator, on_progress) -> torch.Tensor:
        calls.append((list(fs), n))
        p = torch.tensor([truth[f] for f in fs], dtype=torch.float64)
        return torch.bernoulli(p[:, None].expand(-1, n), generator=rng).sum(1)

    monkeypatch.setattr(transfer, "_correct_counts", counts)
    return calls


WIDE = [10, 12.5, 15, 17.5, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75]


def test_the_race_drops_bad_factors_early_and_simulates_at_most_480_trials_of_the_grids_1600(monkeypatch) -> None:
    """A peaked curve: the factors far from the peak leave after the first round; the winner is
    one of the best, and the race costs far fewer trials than the grid's 16 × 100."""
    truth = {f: max(0.5, 1.0 - abs(f - 30) / 40) for f in WIDE}  # 1.0 at 30, 0.5 at the ends
    calls = _fake_network(monkeypatch, truth)
    search = search_scaling_factor(None, None, WIDE, 100, torch.Generator(), search="adaptive")
    assert calls[0] == (WIDE, 16)  # every factor in the first round
    assert all(n == 16 for _, n in calls) and len(calls[1]) <= 8
    assert truth[search.best_factor] >= 0.95
    assert search.trials_simulated == sum(len(fs) * n for fs, n in calls) <= 480
    assert search.trials_by_factor[search.best_index] == search.trials_per_factor
    assert sum(1 for n in search.trials_by_factor if n == 16) >= 8  # half or more left after one round


def test_a_plateau_of_perfect_factors_is_decided_by_their_neighbours(monkeypatch) -> None:
    """Five factors never fail: the race cannot tell them apart by their own trials, so the one
    whose neighbours do best wins — inside the plateau, not at its edge — after at most four rounds."""
    truth = {f: 0.3 for f in WIDE} | {f: 1.0 for f in (25, 30, 35, 40, 45)}
    calls = _fake_network(monkeypatch, truth)
    search = search_scaling_factor(None, None, WIDE, 100, torch.Generator(), search="adaptive")
    assert search.best_factor in (30, 35, 40)
    assert len(calls) <= 4 and search.trials_simulated <= 480


def test_the_race_stops_at_the_trial_cap_and_reports_each_round(monkeypatch) -> None:
    """One factor: a single round of min(round_trials, cap). Four equal factors with a cap of 20:
    rounds of 16 trials (four factors) and 4 (the better two), then the cap ends it. A monitor that
    says stop ends the race after its first round."""
    _fake_network(monkeypatch, {20.0: 1.0})
    one = search_scaling_factor(None, None, [20.0], 100, torch.Generator(), search="adaptive")
    assert one.best_factor == 20.0 and one.trials_simulated == 16
    four = [20.0, 25.0, 30.0, 35.0]
    calls = _fake_network(monkeypatch, dict.fromkeys(four, 0.9), seed=1)
    capped = search_scaling_factor(None, None, four, 20, torch.Generator(), search="adaptive")
    assert [(len(fs), n) for fs, n in calls] == [(4, 16), (2, 4)] and capped.trials_per_factor == 20
    calls = _fake_network(monkeypatch, dict.fromkeys(four, 0.9), seed=1)
    seen = []
    stop = lambda done, accuracy: seen.append(done) or False  # noqa: E731
    stopped = search_scaling_factor(None, None, four, 100, torch.Generator(), search="adaptive", monitor=stop)
    assert stopped.stopped_early and seen == [16] and len(calls) == 1


def test_adaptive_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="transfer.search must be one of 'grid', 'adaptive'"):
        TransferConfig(search="racing")
    with pytest.raises(ConfigError, match="transfer.round_trials"):
        TransferConfig(search="adaptive", round_trials=0)
    with pytest.raises(ConfigError, match="transfer.race_z"):
        TransferConfig(search="adaptive", race_z=-1.0)
    with pytest.raises(ConfigError, match="transfer.rescore_best must be 0"):
        TransferConfig(search="adaptive", rescore_best=2)


def _responding_network(task: str = "go_nogo", sign: float = -1.0) -> SpikingRNN:
    """A 40-unit network whose readout (times ``sign``) crosses the tasks' thresholds at s = 2, not at
    s = 10 or 40."""
    model = RateRNN(RateRNNConfig(n_units=40, n_inputs=get_task(task).n_inputs), seed=3)
    with torch.no_grad():
        model.w.mul_(4)
        model.w_out.mul_(0.3 * sign)
    return to_spiking(model, SpikingParameters())


@pytest.mark.parametrize(("task_name", "sign"), [("go_nogo", -1.0), ("mante", 1.0), ("mante", -1.0)])
def test_settled_trials_stop_early_and_every_verdict_stays_the_same(task_name: str, sign: float) -> None:
    """A verdict settled by the readout leaving its trial's bounds in the window (Go-NoGo: above;
    Mante: above for +1 trials, below for −1 trials) stops the fused kernel's row there: the readout
    up to the stop is the full one's, bit for bit, and holds its value after it, and the task scores
    every trial as the full simulation does; rows that never leave are simulated to the end, unchanged."""
    task = get_task(task_name)
    net = _responding_network(task_name, sign)
    trials = task.make_trials(12, torch.Generator().manual_seed(0))
    factors = torch.tensor([2.0, 10.0, 40.0])
    labels = trials.labels.expand(3, -1)
    bounds = task.settled_bounds(labels, net.params.dt_ms, "spiking")
    first = bounds.first_sample
    full = net.simulate(trials.inputs, factors, generator=torch.Generator().manual_seed(1), backend="fused")
    part = net.simulate(
        trials.inputs, factors, generator=torch.Generator().manual_seed(1), backend="fused",
        stop_outside=(bounds.below, bounds.above), stop_from_step=first,
    )  # fmt: skip
    dt = net.params.dt_ms
    assert torch.equal(task.score(part.readout, labels, dt, "spiking"), task.score(full.readout, labels, dt, "spiking"))
    window = full.readout[..., first:]  # one output: [factor, trial, step]
    outside = (window > bounds.above[..., None]) | (window < bounds.below[..., None])
    crossed = outside.any(-1)
    assert crossed[0].any() and not crossed[1:].any()  # s = 2 crosses, 10 and 40 do not
    assert torch.equal(part.readout[1:], full.readout[1:]) and torch.equal(part.spike_counts[1:], full.spike_counts[1:])
    for t in range(trials.labels.shape[0]):
        if not crossed[0, t]:
            assert torch.equal(part.readout[0, t], full.readout[0, t])
            continue
        k = first + int(outside[0, t].int().argmax())
        assert torch.equal(part.readout[0, t, : k + 1], full.readout[0, t, : k + 1])
        assert (part.readout[0, t, k + 1 :] == full.readout[0, t, k]).all()
        assert k + 1 < full.readout.shape[-1]  # stopped before the end
        assert part.spike_counts[0, t].sum() < full.spike_counts[0, t].sum()


def test_a_search_with_settled_trials_stopped_counts_what_the_full_one_counts(monkeypatch) -> None:
    """The race and the grid choose from the same correct counts with and without the early stop."""
    task = get_task("go_nogo")
    net = _responding_network()
    factors = [1.5, 2.0, 3.0, 10.0]
    for search in ("grid", "adaptive"):
        runs = []
        for rule in (task.settled_bounds, lambda *args: None):
            monkeypatch.setattr(task, "settled_bounds", rule)
            runs.append(search_scaling_factor(net, task, factors, 16, torch.Generator().manual_seed(4), search=search,
                                              round_trials=8))  # fmt: skip
        assert runs[0] == runs[1]


@pytest.mark.parametrize(("task_name", "label"), [("go_nogo", 0), ("go_nogo", 1), ("mante", -1), ("mante", 1)])
def test_the_bounds_settle_the_verdict_to_the_last_float32(task_name: str, label: int) -> None:
    """A readout that leaves its trial's bounds at one sample is judged as settled (Go-NoGo: Go
    correct, NoGo wrong; Mante: correct) whatever else it holds; one that only reaches a bound is
    not — one float32 either side."""
    task = get_task(task_name)
    labels = torch.tensor([label])
    bounds = task.settled_bounds(labels, 0.05, "spiking")
    settled_verdict = label == 1 or task_name == "mante"
    (bound,), outward = (bounds.above, torch.inf) if torch.isfinite(bounds.above[0]) else (bounds.below, -torch.inf)
    assert not torch.isfinite(bounds.below[0] if outward > 0 else bounds.above[0])  # one side only
    quiet = 0.0
    for value, settled in ((bound, False), (torch.nextafter(bound, torch.tensor(outward)), True)):
        readout = torch.full((1, bounds.first_sample + 20), quiet)
        readout[0, bounds.first_sample + 5] = value
        verdict = bool(task.score(readout, labels, 0.05, "spiking")[0])
        assert verdict == (settled_verdict if settled else not settled_verdict)
    if task_name == "go_nogo":
        assert task.settled_bounds(labels, 0.05, "rate") is None


def test_a_subclass_that_judges_otherwise_inherits_no_settled_bounds() -> None:
    """Go-NoGo's bounds describe Go-NoGo's rule: a subclass with its own ``correct`` gets none."""
    go_nogo = get_task("go_nogo")

    class Lenient(type(go_nogo)):
        def correct(self, window_max, window_min, window_absmax, labels, window):
            return window_max > 0.5

    labels = torch.tensor([0, 1])
    assert go_nogo.settled_bounds(labels, 0.05, "spiking") is not None
    assert Lenient(go_nogo.config).settled_bounds(labels, 0.05, "spiking") is None
