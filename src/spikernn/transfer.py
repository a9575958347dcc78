"""Rate model → spiking model (SPEC §3): one-to-one weight transfer and the scaling-factor search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from spikernn.rate.model import RateRNN
from spikernn.spiking import SpikingParameters, SpikingRNN
from spikernn.tasks import Task
from spikernn.validation import ConfigError, check_int

SIGMOID_GRID = [float(s) for s in range(20, 76, 5)]  # s ∈ {20, 25, …, 75}
RELU_GRID = [float(s) for s in range(4, 27, 2)]  # s ∈ {4, 6, …, 26} (softplus / clipped ReLU)


def default_grid(activation: str) -> list[float]:
    """The reference grid of scaling factors s (= 1/λ) for a rate network's activation."""
    return SIGMOID_GRID if activation == "sigmoid" else RELU_GRID


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
class TransferConfig:
    """``transfer`` group: the scaling-factor search, ``trials_per_factor`` fresh trials per factor.

    ``scaling_factor`` (one factor, e.g. a sweep's suggestion) replaces the grid ``scaling_factors``
    (null = the reference grid); after construction ``scaling_factors`` holds the factors searched.
    ``report_every_trials``: score in rungs of this many trials and let a monitor (a sweep's
    pruner) stop a hopeless search early; null = one rung. ``rescore_best`` > 0: after the grid, the
    that many best factors are scored on ``rescore_trials`` more fresh trials each and the factor is
    chosen by the accuracy over all its trials (the grid's 100-trial maximum favours a lucky factor).
    """

    scaling_factors: list[float] | None = None  # null = 20, 25, …, 75 (sigmoid) or 4, 6, …, 26 (softplus/ReLU)
    scaling_factor: float | None = None  # one factor instead of a grid (sweeps: transfer.scaling_factor=…)
    trials_per_factor: int = 100  # fresh trials scored at each factor
    chunk_trials: int = 300  # trials × factors simulated together (memory ∝ chunk × N; sets which trials are drawn)
    report_every_trials: int | None = None  # sweeps: score in rungs of this many trials so a pruner can stop early
    use_initial_weights: bool = False  # control (reference code): transfer the untrained initial W
    rescore_best: int = 0  # re-score this many best grid factors on rescore_trials more trials (0: off, the reference)
    rescore_trials: int = 200  # fresh trials per re-scored factor

    def __post_init__(self) -> None:
        check_int("transfer.trials_per_factor", self.trials_per_factor, 1)
        check_int("transfer.chunk_trials", self.chunk_trials, 1)
        check_int("transfer.rescore_best", self.rescore_best, 0)
        check_int("transfer.rescore_trials", self.rescore_trials, 1)
        if self.report_every_trials is not None:
            check_int("transfer.report_every_trials", self.report_every_trials, 1)
        if self.scaling_factor is not None:
            check_factor("transfer.scaling_factor", self.scaling_factor)
            if self.scaling_factors not in (None, [self.scaling_factor]):
                raise ConfigError(
                    "give transfer.scaling_factor (one factor) or transfer.scaling_factors (a grid), not both"
                )
            self.scaling_factors = [float(self.scaling_factor)]
        if self.scaling_factors is not None:
            check_factors(self.scaling_factors)


def check_factor(name: str, s: object) -> None:
    """A scaling factor is a finite number > 0; the error names ``name``."""
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not s > 0 or s == float("inf"):
        raise ConfigError(f"{name} must be a number > 0, got {s!r}")


def check_factors(factors: list[float]) -> None:
    """Scaling factors must be a non-empty list of positive finite numbers."""
    if len(factors) == 0:
        raise ConfigError("transfer.scaling_factors must hold at least one factor > 0")
    for i, s in enumerate(factors):
        check_factor(f"transfer.scaling_factors[{i}]", s)


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

    @property
    def best_index(self) -> int:
        if self.rescored:
            return max(self.rescored, key=lambda i: (self.rescored[i], -i))
        return max(range(len(self.accuracy)), key=lambda i: (self.accuracy[i], -i))

    @property
    def best_grid_accuracy(self) -> float:
        """The highest of the grid's accuracies (the reference code's number)."""
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
) -> FactorSearchResult:
    """Score ``trials_per_factor`` fresh trials at every factor, simulated together in chunks of at most
    ``chunk_trials`` trials × factors (memory is O(chunk × N) plus the readouts).

    ``on_progress(done, total)`` counts simulated steps over all chunks. After every chunk (at most
    ``report_every_trials`` trials per factor), ``monitor(trials_done, accuracy_so_far)`` may
    return False to stop the search early. ``rescore_best`` > 0: the best factors of a complete
    search are scored on ``rescore_trials`` more fresh trials each (progress: a second pass)."""
    check_factors(factors)
    check_int("transfer.trials_per_factor", trials_per_factor, 1)
    generator = generator or torch.Generator().manual_seed(torch.seed())
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
    return grid


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
        trials = [task.make_trials(count, generator) for _ in factors]
        inputs = torch.stack([t.inputs for t in trials])
        labels = torch.stack([t.labels for t in trials])
        chunk = done // per_chunk
        report = None if on_progress is None else (lambda k, n, c=chunk: on_progress(c * n + k, n_chunks * n))
        result = network.simulate(inputs, torch.tensor(factors), generator=generator, on_progress=report)
        correct += task.score(result.readout, labels, network.params.dt_ms, "spiking").double().sum(1)
        done += count
        if done < trials_per_factor and monitor is not None and not monitor(done, (correct / done).tolist()):
            break
    return FactorSearchResult(
        scaling_factors=list(map(float, factors)),
        accuracy=(correct / done).tolist(),
        trials_per_factor=done,
        stopped_early=done < trials_per_factor,
    )
