"""Statistics of benchmarks/reference_fidelity.py: per-trial summaries of one simulator and the tests
that compare the reference's with ours (Welch t, Brown-Forsythe, Fisher exact; Holm or Bonferroni)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass
class TrialSummaries:
    """Per-trial summaries of one simulator at one factor (arrays over trials, in trial order)."""

    window_max: np.ndarray
    window_mean: np.ndarray
    correct: np.ndarray
    rate_exc_hz: np.ndarray
    rate_inh_hz: np.ndarray
    unit_counts: np.ndarray  # [n_trials, N]
    trace: np.ndarray  # [n_trials, n_cols - 1], readout at the end of every stimulus step
    seconds: float


@dataclass
class TestResult:
    """One statistical comparison of the reference (Octave) and our simulator."""

    factor: float
    trial_type: str
    metric: str
    test: str
    reference: dict[str, float]
    ours: dict[str, float]
    statistic: float
    p_value: float
    p_adjusted: float = float("nan")
    differs: bool = False


def describe(values: np.ndarray) -> dict[str, float]:
    """Mean, SD (ddof 1) and n of a sample."""
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)), "n": int(values.size)}


def safe_p(p: float, a: np.ndarray, b: np.ndarray) -> float:
    """A NaN p (both samples constant) means no difference if they are equal, a sure one otherwise."""
    if np.isfinite(p):
        return float(p)
    return 1.0 if np.allclose(np.mean(a), np.mean(b)) else 0.0


def compare_samples(
    factor: float, trial_type: str, metric: str, reference: np.ndarray, ours: np.ndarray
) -> list[TestResult]:
    """Welch t-test on the means; for readout statistics also Brown-Forsythe on the spreads."""
    t = stats.ttest_ind(reference, ours, equal_var=False)
    results = [
        TestResult(
            factor,
            trial_type,
            metric,
            "Welch t",
            describe(reference),
            describe(ours),
            float(t.statistic),
            safe_p(t.pvalue, reference, ours),
        )
    ]
    if metric.startswith("window"):
        lev = stats.levene(reference, ours, center="median")
        results.append(
            TestResult(
                factor,
                trial_type,
                f"{metric} SD",
                "Brown-Forsythe",
                describe(reference),
                describe(ours),
                float(lev.statistic),
                safe_p(lev.pvalue, reference, ours),
            )
        )
    return results


def compare_accuracy(factor: float, trial_type: str, reference: np.ndarray, ours: np.ndarray) -> TestResult:
    """Fisher exact test on the 2×2 table of correct / wrong trials."""
    table = [[int(reference.sum()), int((~reference).sum())], [int(ours.sum()), int((~ours).sum())]]
    fisher = stats.fisher_exact(table)
    summary = lambda x: {"mean": float(x.mean()), "correct": int(x.sum()), "n": int(x.size)}  # noqa: E731
    return TestResult(
        factor,
        trial_type,
        "accuracy",
        "Fisher exact",
        summary(reference),
        summary(ours),
        float(fisher.statistic),
        float(fisher.pvalue),
    )


def adjust(results: list[TestResult], alpha: float, correction: str) -> None:
    """Fill ``p_adjusted`` and ``differs`` (Holm step-down, Bonferroni, or none)."""
    m = len(results)
    p = np.array([r.p_value for r in results])
    if correction == "bonferroni":
        adjusted = np.minimum(p * m, 1.0)
    elif correction == "holm":
        order = np.argsort(p)
        steps = np.maximum.accumulate(np.minimum(p[order] * (m - np.arange(m)), 1.0))
        adjusted = np.empty(m)
        adjusted[order] = steps
    else:
        adjusted = p
    for result, q in zip(results, adjusted, strict=True):
        result.p_adjusted = float(q)
        result.differs = bool(q < alpha)


def describe_agreement(
    reference: TrialSummaries, ours: TrialSummaries, mask_ref: np.ndarray, mask_ours: np.ndarray
) -> dict[str, float]:
    """Descriptive (untested) agreement: readout trace and per-unit mean rates across trials."""
    trace_ref, trace_ours = reference.trace[mask_ref], ours.trace[mask_ours]
    se = np.sqrt(trace_ref.var(0, ddof=1) / len(trace_ref) + trace_ours.var(0, ddof=1) / len(trace_ours))
    gap = np.abs(trace_ref.mean(0) - trace_ours.mean(0))
    counts_ref, counts_ours = reference.unit_counts[mask_ref].mean(0), ours.unit_counts[mask_ours].mean(0)
    both = (counts_ref.std() > 0) and (counts_ours.std() > 0)
    return {
        "trace_max_abs_gap": float(gap.max()),
        "trace_max_gap_over_se": float(np.max(gap / np.maximum(se, 1e-12))),
        "unit_rate_pearson_r": float(np.corrcoef(counts_ref, counts_ours)[0, 1]) if both else float("nan"),
    }
