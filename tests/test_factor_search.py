"""The scaling-factor search's choice: the grid's best, or the best after re-scoring the top factors."""

from __future__ import annotations

import pytest
import torch

from spikernn import transfer
from spikernn.transfer import FactorSearchResult, TransferConfig, search_scaling_factor
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
