"""Rate model → spiking model (SPEC §3): one-to-one weight transfer and the scaling-factor search."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from spikernn.rate.model import RateRNN
from spikernn.spiking import SpikingParameters, SpikingRNN
from spikernn.tasks import Task
from spikernn.transfer_config import SEARCHES, TransferConfig, check_factors
from spikernn.validation import check_choice, check_int


def to_spiking(
    model: RateRNN,
    params: SpikingParameters | None = None,
    input_step_ms: float = 5.0,
    use_initial_weights: bool = False,
) -> SpikingRNN:
    """Copy W_eff, W_in, W_out and τ_d into a spiking network; b_out is dropped.

    The scaling factor s is chosen per simulation (W_spk = W_eff / s, W_out,spk = W_out / s).
    ``use_initial_weights`` transfers the untrained W (a control in the reference code).
    """
    with torch.no_grad():
        return SpikingRNN(
            w_eff=model.effective_weights(initial=use_initial_weights),
            w_in=model.w_in,
            w_out=model.w_out,
            tau_d_ms=model.taus_ms(),
            inhibitory=model.inhibitory,
            params=params,
            input_step_ms=input_step_ms,
            sst_units=model.sst_units,
        )


@dataclass
class FactorSearchResult:
    """Accuracy of the spiking network at each scaling factor and the best one (first on ties):
    by the grid's accuracies, or, where the best factors were re-scored, by their accuracy over all
    their trials (``rescored``: factor index → that accuracy)."""

    scaling_factors: list[float]
    accuracy: list[float]
    trials_per_factor: int  # trials scored per factor (fewer than asked when a monitor stopped the search)
    stopped_early: bool = False
    rescored: dict[int, float] | None = None
    trials_by_factor: list[int] | None = None  # an adaptive search: trials scored at each factor
    rescore_trials: int = 0  # trials added to each re-scored factor
    chosen: int | None = None  # an adaptive search: the index of the factor that won the race

    @property
    def trials(self) -> list[int]:
        """Trials scored at each factor (the re-scored ones' extra trials included)."""
        counts = self.trials_by_factor or [self.trials_per_factor] * len(self.scaling_factors)
        extra = self.rescored or {}
        return [n + (self.rescore_trials if i in extra else 0) for i, n in enumerate(counts)]

    @property
    def trials_simulated(self) -> int:
        """All the trials the search simulated."""
        return sum(self.trials)

    @property
    def best_index(self) -> int:
        if self.chosen is not None:
            return self.chosen
        if self.rescored:
            return max(self.rescored, key=lambda i: (self.rescored[i], -i))
        return max(range(len(self.accuracy)), key=lambda i: (self.accuracy[i], -i))

    @property
    def best_grid_accuracy(self) -> float:
        """The highest of the grid's accuracies (the reference code's number; after an adaptive
        search, over unequal numbers of trials)."""
        return max(self.accuracy)

    @property
    def best_factor(self) -> float:
        return self.scaling_factors[self.best_index]

    @property
    def best_accuracy(self) -> float:
        return self.accuracy[self.best_index]


def search_scaling_factor(
    network: SpikingRNN,
    task: Task,
    factors: list[float],
    trials_per_factor: int = 100,
    generator: torch.Generator | None = None,
    chunk_trials: int = TransferConfig.chunk_trials,
    on_progress: Callable[[int, int], None] | None = None,
    report_every_trials: int | None = None,
    monitor: Callable[[int, list[float]], bool] | None = None,
    rescore_best: int = 0,
    rescore_trials: int = TransferConfig.rescore_trials,
    search: str = "grid",
    round_trials: int = TransferConfig.round_trials,
    race_z: float = TransferConfig.race_z,
) -> FactorSearchResult:
    """Score ``trials_per_factor`` fresh trials at every factor, simulated together in chunks of at most
    ``chunk_trials`` trials × factors (memory is O(chunk × N) plus the readouts); or, with ``search``
    "adaptive", race the factors (:func:`race_factors`, at most ``trials_per_factor`` trials each).

    ``on_progress(done, total)`` counts simulated steps over all chunks. After every chunk (at most
    ``report_every_trials`` trials per factor; a race: every round), ``monitor(trials_done,
    accuracy_so_far)`` may return False to stop the search early. ``rescore_best`` > 0: the best
    factors of a complete grid search are scored on ``rescore_trials`` more fresh trials each
    (progress: a second pass)."""
    check_factors(factors)
    check_int("transfer.trials_per_factor", trials_per_factor, 1)
    check_choice("transfer.search", search, SEARCHES)
    generator = generator or torch.Generator().manual_seed(torch.seed())
    if search == "adaptive":
        return race_factors(
            network, task, factors, trials_per_factor, generator, round_trials, race_z, chunk_trials, on_progress,
            monitor,
        )  # fmt: skip
    grid = _score_factors(
        network, task, factors, trials_per_factor, generator, chunk_trials, on_progress, report_every_trials, monitor
    )
    if rescore_best and not grid.stopped_early:
        order = sorted(range(len(factors)), key=lambda i: (-grid.accuracy[i], i))[:rescore_best]
        more = _score_factors(network, task, [factors[i] for i in order], rescore_trials, generator, chunk_trials,
                              on_progress)  # fmt: skip
        grid.rescored = {
            i: (grid.accuracy[i] * trials_per_factor + a * rescore_trials) / (trials_per_factor + rescore_trials)
            for i, a in zip(order, more.accuracy, strict=True)
        }
        grid.rescore_trials = rescore_trials
    return grid


def _correct_counts(
    network: SpikingRNN,
    task: Task,
    factors: list[float],
    count: int,
    generator: torch.Generator,
    on_progress: Callable[[int, int], None] | None,
) -> torch.Tensor:
    """Correct trials [len(factors)] (float64) out of ``count`` fresh trials at each factor, the
    factors' trials drawn in turn and simulated together; each trial only until its verdict is
    settled where the task says when (:meth:`~spikernn.tasks.Task.settled_bounds`: a Go-NoGo Go
    trial once it responds), which changes no verdict."""
    trials = [task.make_trials(count, generator) for _ in factors]
    inputs = torch.stack([t.inputs for t in trials])
    labels = torch.stack([t.labels for t in trials])
    settled = task.settled_bounds(labels, network.params.dt_ms, "spiking")
    result = network.simulate(
        inputs, torch.tensor(factors), generator=generator, on_progress=on_progress,
        stop_outside=None if settled is None else (settled.below, settled.above),
        stop_from_step=0 if settled is None else settled.first_sample,
    )  # fmt: skip
    return task.score(result.readout, labels, network.params.dt_ms, "spiking").double().sum(1)


def _score_factors(
    network: SpikingRNN,
    task: Task,
    factors: list[float],
    trials_per_factor: int,
    generator: torch.Generator,
    chunk_trials: int,
    on_progress: Callable[[int, int], None] | None,
    report_every_trials: int | None = None,
    monitor: Callable[[int, list[float]], bool] | None = None,
) -> FactorSearchResult:
    """The accuracy at each factor on ``trials_per_factor`` fresh trials (see search_scaling_factor)."""
    correct = torch.zeros(len(factors), dtype=torch.float64)
    per_chunk = max(1, min(chunk_trials // len(factors), report_every_trials or trials_per_factor))
    done = 0
    n_chunks = -(-trials_per_factor // per_chunk)
    while done < trials_per_factor:
        count = min(per_chunk, trials_per_factor - done)
        chunk = done // per_chunk
        report = None if on_progress is None else (lambda k, n, c=chunk: on_progress(c * n + k, n_chunks * n))
        correct += _correct_counts(network, task, factors, count, generator, report)
        done += count
        if done < trials_per_factor and monitor is not None and not monitor(done, (correct / done).tolist()):
            break
    return FactorSearchResult(
        scaling_factors=list(map(float, factors)),
        accuracy=(correct / done).tolist(),
        trials_per_factor=done,
        stopped_early=done < trials_per_factor,
    )


def wilson_bounds(correct: float, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of ``correct`` successes in ``n`` trials at normal quantile ``z``."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def race_rounds(n_factors: int, trials_per_factor: int, round_trials: int) -> list[tuple[int, int]]:
    """The most a race can simulate: (factors still in it, trials each) per round when no factor is
    dropped by its interval, only the lower half each round."""
    rounds, alive, done = [], n_factors, 0
    while alive >= 1 and done < trials_per_factor:
        count = min(round_trials, trials_per_factor - done)
        rounds.append((alive, count))
        done += count
        if alive == 1:
            break
        alive = -(-alive // 2)
    return rounds


def race_factors(
    network: SpikingRNN,
    task: Task,
    factors: list[float],
    trials_per_factor: int,
    generator: torch.Generator,
    round_trials: int = TransferConfig.round_trials,
    race_z: float = TransferConfig.race_z,
    chunk_trials: int = TransferConfig.chunk_trials,
    on_progress: Callable[[int, int], None] | None = None,
    monitor: Callable[[int, list[float]], bool] | None = None,
) -> FactorSearchResult:
    """The adaptive factor search: spend fresh trials where the choice is still open.

    Each round scores ``round_trials`` fresh trials at every factor still in the race (all of them
    have had the same trials). Then a factor whose Wilson upper bound (at ``race_z``) is below the
    leader's lower bound leaves the race, and of those left only the better half (rounded up) stays.
    Factors are ranked by their accuracy, ties broken by the accuracy pooled with their grid
    neighbours (a factor inside a plateau of good factors before one at its edge), then by the
    grid's order. The race ends when one factor is left or those left have ``trials_per_factor``
    trials each; the leader then is the choice. With 16 factors and 16 trials a round it simulates
    at most 480 trials, against 1600 for the grid at 100 trials a factor.
    """
    n_factors = len(factors)
    correct = [0.0] * n_factors
    trials = [0] * n_factors
    plan = race_rounds(n_factors, trials_per_factor, round_trials)
    total_rows = sum(alive * count for alive, count in plan)
    alive = list(range(n_factors))
    done_rows = 0
    stopped = False
    while True:
        count = min(round_trials, trials_per_factor - trials[alive[0]])
        per_chunk = max(1, chunk_trials // len(alive))
        for start in range(0, count, per_chunk):
            part = min(per_chunk, count - start)
            rows = part * len(alive)
            report = None
            if on_progress is not None:
                report = lambda k, n, d=done_rows, r=rows: on_progress(d * n + k * r, total_rows * n)  # noqa: E731
            got = _correct_counts(network, task, [factors[i] for i in alive], part, generator, report)
            for i, c in zip(alive, got.tolist(), strict=True):
                correct[i] += c
                trials[i] += part
            done_rows += rows
        alive = _survivors(alive, correct, trials, race_z)
        accuracy = [c / n if n else float("nan") for c, n in zip(correct, trials, strict=True)]
        finished = len(alive) == 1 or trials[alive[0]] >= trials_per_factor
        if not finished and monitor is not None and not monitor(trials[alive[0]], accuracy):
            stopped = True
        if finished or stopped:
            break
    if on_progress is not None and not stopped:
        on_progress(total_rows, total_rows)  # the race ended before its most costly course
    return FactorSearchResult(
        scaling_factors=list(map(float, factors)),
        accuracy=accuracy,
        trials_per_factor=trials[alive[0]],
        stopped_early=stopped,
        trials_by_factor=trials,
        chosen=alive[0],
    )


def _survivors(alive: list[int], correct: list[float], trials: list[int], z: float) -> list[int]:
    """The factors that stay in the race after a round, best first (see :func:`race_factors`)."""

    def pooled(i: int) -> float:
        near = [j for j in (i - 1, i, i + 1) if 0 <= j < len(trials) and trials[j]]
        return sum(correct[j] for j in near) / sum(trials[j] for j in near)

    ranked = sorted(alive, key=lambda i: (-correct[i] / trials[i], -pooled(i), i))
    if len(ranked) == 1:
        return ranked
    leader_low = wilson_bounds(correct[ranked[0]], trials[ranked[0]], z)[0]
    contenders = [i for i in ranked if wilson_bounds(correct[i], trials[i], z)[1] >= leader_low]
    return contenders[: -(-len(contenders) // 2)]
