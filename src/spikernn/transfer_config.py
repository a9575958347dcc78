"""The ``transfer`` group (SPEC §3): which scaling factors are searched and how; no torch, so a
command checks it before the modules that simulate are imported."""

from __future__ import annotations

from dataclasses import dataclass

from spikernn.validation import ConfigError, check_choice, check_int, check_range

SIGMOID_GRID = [float(s) for s in range(20, 76, 5)]  # s ∈ {20, 25, …, 75}
RELU_GRID = [float(s) for s in range(4, 27, 2)]  # s ∈ {4, 6, …, 26} (softplus / clipped ReLU)
SEARCHES = ("grid", "adaptive")


def default_grid(activation: str) -> list[float]:
    """The reference grid of scaling factors s (= 1/λ) for a rate network's activation."""
    return SIGMOID_GRID if activation == "sigmoid" else RELU_GRID


def factor_grid_of(transfer: TransferConfig, activation: str) -> list[float]:
    """The scaling factors searched: ``transfer.scaling_factors``, else the reference grid of the
    rate model's ``activation``."""
    return list(transfer.scaling_factors or default_grid(activation))


@dataclass
class TransferConfig:
    """``transfer`` group: the scaling-factor search, ``trials_per_factor`` fresh trials per factor.

    ``scaling_factor`` (one factor, e.g. a sweep's suggestion) replaces the grid ``scaling_factors``
    (null = the reference grid); after construction ``scaling_factors`` holds the factors searched.
    ``report_every_trials``: score in rungs of this many trials and let a monitor (a sweep's
    pruner) stop a hopeless search early; null = one rung. ``rescore_best`` > 0: after the grid, the
    that many best factors are scored on ``rescore_trials`` more fresh trials each and the factor is
    chosen by the accuracy over all its trials (the grid's 100-trial maximum favours a lucky factor).

    ``search``: "grid" scores every factor on ``trials_per_factor`` trials (the reference code);
    "adaptive" races the factors (:func:`race_factors`): rounds of ``round_trials`` trials at every
    factor still in the race, a factor dropped once its Wilson upper bound (``race_z``) is below the
    leader's lower bound and the lower half dropped each round, until one factor is left or the
    survivors have ``trials_per_factor`` trials.
    """

    scaling_factors: list[float] | None = None  # null = 20, 25, …, 75 (sigmoid) or 4, 6, …, 26 (softplus/ReLU)
    scaling_factor: float | None = None  # one factor instead of a grid (sweeps: transfer.scaling_factor=…)
    trials_per_factor: int = 100  # fresh trials scored at each factor
    chunk_trials: int = 300  # trials × factors simulated together (memory ∝ chunk × N; sets which trials are drawn)
    report_every_trials: int | None = None  # sweeps: score in rungs of this many trials so a pruner can stop early
    use_initial_weights: bool = False  # control (reference code): transfer the untrained initial W
    rescore_best: int = 0  # re-score this many best grid factors on rescore_trials more trials (0: off, the reference)
    rescore_trials: int = 200  # fresh trials per re-scored factor
    search: str = "grid"  # "grid" (every factor, the reference) or "adaptive" (race the factors)
    round_trials: int = 16  # adaptive: fresh trials per factor still in the race, each round
    race_z: float = 1.96  # adaptive: z of the Wilson intervals that drop a factor (1.96: 95 %)

    def __post_init__(self) -> None:
        check_choice("transfer.search", self.search, SEARCHES)
        check_int("transfer.round_trials", self.round_trials, 1)
        check_range("transfer.race_z", self.race_z, 0.0)
        if self.search == "adaptive" and (self.rescore_best or self.report_every_trials is not None):
            raise ConfigError(
                "transfer.search=adaptive sets its own rounds: transfer.rescore_best must be 0 and "
                "transfer.report_every_trials null (each round is reported)"
            )
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
