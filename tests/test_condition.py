"""A condition of many networks in numbers (``spikernn.condition``): what the population launcher
logs on its parent run."""

from __future__ import annotations

import pytest

from spikernn.condition import condition_metrics, network_table


def _summary(seed: int, trained: bool, lif: float | None, factor: float | None = 30.0) -> dict:
    return {"seed": seed, "trained": trained, "rate_accuracy": 0.99 if trained else 0.6, "lif_accuracy": lif,
            "scaling_factor": factor if lif is not None else None, "search_trials": 480 if lif is not None else None,
            "mlflow_run_id": f"run{seed}"}  # fmt: skip


def test_converted_fraction_with_its_wilson_interval_and_accuracies() -> None:
    """Ten networks: one untrained (not converted, no LIF accuracy), nine converted with 0.99,
    0.96, 0.95 (the criterion itself counts) … and two below 0.95."""
    lif = [0.99, 0.96, 0.95, 1.0, 0.97, 0.98, 0.99, 0.90, 0.50]
    summaries = [_summary(s, True, a, 20.0 + s) for s, a in enumerate(lif)] + [_summary(9, False, None)]
    metrics = condition_metrics(summaries)
    assert (metrics["networks"], metrics["trained"], metrics["evaluated"], metrics["converted"]) == (10, 9, 9, 7)
    assert metrics["converted_fraction"] == pytest.approx(7 / 9)
    assert metrics["converted_fraction_low"] == pytest.approx(0.4527, abs=1e-3)  # Wilson 95 %, 7 of 9
    assert metrics["converted_fraction_high"] == pytest.approx(0.9368, abs=1e-3)
    assert metrics["lif_accuracy_mean"] == pytest.approx(sum(lif) / 9)
    assert metrics["scaling_factor_median"] == 24.0 and metrics["search_trials_mean"] == 480
    assert network_table(summaries)["lif_accuracy"][-1] is None


def test_a_launch_that_converted_nothing_reports_no_conversion_numbers() -> None:
    metrics = condition_metrics([_summary(0, False, None), _summary(1, True, None)])
    assert metrics == {"networks": 2, "trained": 1, "trained_fraction": 0.5, "rate_accuracy_mean": pytest.approx(0.795),
                       "rate_accuracy_sd": pytest.approx(0.2758, abs=1e-4)}  # fmt: skip
    assert condition_metrics([]) == {"networks": 0, "trained": 0}


def test_a_fine_tuned_condition_counts_the_final_networks_and_the_transfer_apart() -> None:
    """Four networks, two fine-tuned after a transfer below 95 % (0.90 → 0.97, 0.60 → 0.93): the
    condition is the final networks (3/4 converted), the transfer alone converted 2."""
    summaries = [_summary(0, True, 0.99), _summary(1, True, 0.96), _summary(2, True, 0.97), _summary(3, True, 0.93)]
    for s, before in ((summaries[2], 0.90), (summaries[3], 0.60)):
        s["transfer"] = {"lif_accuracy": before, "search_trials": 480}
        del s["search_trials"]
    metrics = condition_metrics(summaries)
    assert (metrics["converted"], metrics["finetuned"], metrics["converted_by_transfer"]) == (3, 2, 2)
    assert metrics["transfer_lif_accuracy_mean"] == pytest.approx((0.99 + 0.96 + 0.90 + 0.60) / 4)
    assert metrics["search_trials_mean"] == 480
    table = network_table(summaries)
    assert table["finetuned"] == [False, False, True, True] and table["transfer_lif_accuracy"][2:] == [0.90, 0.60]
