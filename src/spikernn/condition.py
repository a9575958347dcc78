"""What a condition of many networks gives: the numbers a user launches a hundred networks for.

From the ``summary.json`` of every network of a launch (a population launch's jobs): how many
trained, how many converted (LIF accuracy ≥ 95 % on the fresh trials of the final evaluation, the
paper's criterion) with a Wilson 95 % interval, the LIF and rate accuracies (mean ± SD), the
chosen factors and the trials the factor searches simulated. The population launcher logs these
on its parent run (metrics and a per-network table), so the MLflow UI shows the condition itself.
"""

from __future__ import annotations

import math
import statistics

from spikernn.transfer import wilson_bounds

CONVERTED = 0.95  # the paper's criterion for a converted network (LIF accuracy on fresh trials)
Z95 = 1.959964  # the normal quantile of a two-sided 95 % interval
NETWORK_COLUMNS = ("seed", "trained", "rate_accuracy", "scaling_factor", "lif_accuracy")


def transfer_stage(summary: dict) -> dict:
    """The summary of a network's conversion: its ``transfer`` entry when it was fine-tuned after
    it (a ``spikernn-run`` with fine-tuning), else the summary itself (its final network)."""
    return summary.get("transfer") or summary


def transfer_columns(summary: dict) -> dict:
    """A network's numbers right after the transfer, and whether it was fine-tuned after it."""
    stage = transfer_stage(summary)
    return {
        "finetuned": "transfer" in summary,
        "transfer_lif_accuracy": stage.get("lif_accuracy"),
        "search_trials": stage.get("search_trials"),
    }


def _numbers(summaries: list[dict], key: str) -> list[float]:
    return [float(s[key]) for s in summaries if isinstance(s.get(key), (int, float)) and not isinstance(s[key], bool)]


def _mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def condition_metrics(summaries: list[dict]) -> dict[str, float]:
    """The condition's numbers (``networks``, ``trained``, ``converted`` with its fraction and
    interval, accuracies mean ± SD, chosen factor median, trials per search; where some networks
    were fine-tuned, how many and ``converted_by_transfer``: those at 95 % before it); a quantity no
    network has (e.g. no network was converted: a training-only launch) is left out."""
    metrics: dict[str, float] = {"networks": len(summaries)}
    trained = [s for s in summaries if s.get("trained") is True]
    metrics["trained"] = len(trained)
    if summaries:
        metrics["trained_fraction"] = len(trained) / len(summaries)
    rate = _numbers(summaries, "rate_accuracy")
    if rate:
        metrics["rate_accuracy_mean"], metrics["rate_accuracy_sd"] = _mean_sd(rate)
    lif = _numbers(summaries, "lif_accuracy")
    if lif:
        hits = sum(v >= CONVERTED for v in lif)
        low, high = wilson_bounds(hits, len(lif), Z95)
        metrics |= {
            "evaluated": len(lif),
            "converted": hits,
            "converted_fraction": hits / len(lif),
            "converted_fraction_low": low,
            "converted_fraction_high": high,
        }
        metrics["lif_accuracy_mean"], metrics["lif_accuracy_sd"] = _mean_sd(lif)
    factors = _numbers(summaries, "scaling_factor")
    if factors:
        metrics["scaling_factor_median"] = statistics.median(factors)
    transfers = [transfer_columns(s) for s in summaries]
    tuned = sum(t["finetuned"] for t in transfers)
    if tuned:
        before = _numbers(transfers, "transfer_lif_accuracy")
        metrics["finetuned"] = tuned
        metrics["converted_by_transfer"] = sum(v >= CONVERTED for v in before)
        metrics["transfer_lif_accuracy_mean"], metrics["transfer_lif_accuracy_sd"] = _mean_sd(before)
    trials = _numbers(transfers, "search_trials")
    if trials:
        metrics["search_trials_mean"] = statistics.fmean(trials)
    return metrics


def network_table(summaries: list[dict]) -> dict[str, list]:
    """One row per network (columns ``NETWORK_COLUMNS``, its numbers after the transfer and its
    MLflow run id), in seed order."""
    rows = sorted(summaries, key=lambda s: (s.get("seed") is None, s.get("seed")))
    table = {name: [s.get(name) for s in rows] for name in NETWORK_COLUMNS}
    transfers = [transfer_columns(s) for s in rows]
    table |= {name: [t[name] for t in transfers] for name in transfers[0]} if transfers else {}
    table["mlflow_run_id"] = [s.get("mlflow_run_id") for s in rows]
    return table
