"""Confidence intervals of accuracies measured on a finite number of trials."""

from __future__ import annotations

from scipy.stats import binomtest


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) of a proportion ``successes / n``, as
    fractions in [0, 1]; scipy's ``binomtest(...).proportion_ci(method="wilson")``."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 ≤ successes ≤ n and n ≥ 1, got successes={successes}, n={n}")
    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def wilson_error_bar(successes: int, n: int) -> tuple[float, float]:
    """How far the Wilson 95 % interval reaches below and above the proportion ``successes / n``
    (fractions): the two lengths an error bar drawn at that proportion needs."""
    low, high = wilson_interval(successes, n)
    return successes / n - low, high - successes / n
