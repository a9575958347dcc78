"""Scientific failure is not success (issue 15, part 7): NaN readouts, an untrained network being
converted, chance-level accuracy and a best factor at the grid's edge are each a logged warning
and a flag in the summary; summary.json never holds a bare NaN."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from spikernn import pipeline
from spikernn.apps.command import validate
from spikernn.apps.config import config_dir
from spikernn.io import ModelInfo, save_rate_model
from spikernn.pipeline import RunConfig, run_pipeline, score_rate_model, write_summary
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.results import TrainResult
from spikernn.science_checks import flag_failures, warning_tags
from spikernn.tasks import get_task
from spikernn.validation import ConfigError

GOOD = {
    "task": "go_nogo",
    "trained": True,
    "rate_accuracy": 0.97,
    "lif_accuracy": 0.93,
    "eval_trials": 200,
    "scaling_factor": 40.0,
    "lif_accuracy_by_scaling_factor": {"20.0": 0.5, "40.0": 0.93, "60.0": 0.7},
    "pruned": False,
}


def test_a_good_run_has_no_warnings(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="spikernn"):
        summary = flag_failures(dict(GOOD))
    assert "warnings" not in summary and not caplog.records


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"lif_accuracy": 0.52}, "chance_lif_accuracy", "spiking accuracy 0.520 is at chance level"),
        ({"rate_accuracy": 0.5}, "chance_rate_accuracy", "rate accuracy 0.500 is at chance level"),
        ({"lif_accuracy": 0.067}, "chance_lif_accuracy", "0.067 is far below chance (0.5 − 0.071)"),
        ({"scaling_factor": 20.0, "lif_accuracy": 0.9}, "factor_at_grid_edge", "s = 20 is the smallest of the grid"),
        ({"scaling_factor": 60.0, "lif_accuracy": 0.9}, "factor_at_grid_edge", "s = 60 is the largest"),
        ({"lif_nan_readout_trials": 7}, "nan_readout", "NaN readouts on 7 spiking trial(s)"),
        ({"rate_nan_readout_trials": 3}, "nan_readout", "3 rate trial(s)"),
        ({"trained": False}, "untrained", "did not meet the training criterion and was converted anyway"),
        ({"rate_loss": float("nan")}, "non_finite_values", "non-finite values (NaN/Inf, written as null) in rate_loss"),
        (
            {
                "finetune_record": {
                    "train_dt_ms": 0.5,
                    "batches": 150,
                    "best_batch": 0,
                    "validation": {"batch": [0, 10, 20], "accuracy": [0.91, 0.9, 0.61]},
                }
            },
            "finetune_no_gain",
            "did not improve on the converted network in 150 batches (validation accuracy 0.910 before, 0.610–0.900",
        ),  # fmt: skip
    ],
)
def test_each_failure_is_logged_and_flagged(caplog, change: dict, code: str, text: str) -> None:
    with caplog.at_level(logging.WARNING, logger="spikernn"):
        summary = flag_failures({**GOOD, **change})
    assert code in summary["warnings"] and text in summary["warning_messages"][code]
    assert any(text in r.getMessage() for r in caplog.records)
    tags = warning_tags(summary)
    assert code in tags["warnings"].split(",") and text in tags[f"warning.{code}"]
    flag_failures(summary)  # idempotent: written and logged once
    assert summary["warnings"].count(code) == 1


def test_fine_tuning_that_improved_or_stopped_at_once_is_not_flagged() -> None:
    improved = {"train_dt_ms": 0.5, "batches": 30, "best_batch": 20, "validation": {"accuracy": [0.9, 0.93, 0.97]}}
    at_once = {"train_dt_ms": 0.5, "batches": 0, "best_batch": 0, "validation": {"accuracy": [0.995]}}
    for record in (improved, at_once):
        assert "finetune_no_gain" not in (flag_failures({**GOOD, "finetune_record": record}).get("warnings") or [])


@pytest.mark.parametrize("trials", [{"rate_eval_trials": 200}, {}])
def test_a_trained_network_without_conversion_is_not_at_chance(trials: dict) -> None:
    """A spikernn-train summary has no spiking ``eval_trials``: the rate accuracy's margin comes from
    ``rate_eval_trials`` (none known: chance itself), not from one trial — which flagged 1.000 as
    chance before."""
    summary = {"task": "go_nogo", "trained": True, "rate_accuracy": 1.0, **trials}
    assert "warnings" not in flag_failures(summary)
    low = flag_failures({**summary, "rate_accuracy": 0.55})
    assert ("chance_rate_accuracy" in low.get("warnings", [])) == bool(trials)


def test_the_rate_score_says_on_how_many_trials() -> None:
    model = RateRNN(RateRNNConfig(n_units=20, n_inputs=1), seed=0)
    summary = score_rate_model(model, get_task("go_nogo"), seed=0, eval_trials=12).summary()
    assert summary["rate_eval_trials"] == 12


def test_pruned_search_is_not_an_edge_warning() -> None:
    summary = flag_failures({**GOOD, "scaling_factor": 20.0, "lif_accuracy": None, "pruned": True})
    assert "factor_at_grid_edge" not in summary.get("warnings", [])


def test_summary_json_holds_null_not_nan(tmp_path: Path) -> None:
    summary = {**GOOD, "rate_loss": float("nan"), "rate_inh_hz": float("inf"), "history": [1.0, float("nan")]}
    write_summary(tmp_path, summary)
    text = (tmp_path / "summary.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert data["rate_loss"] is None and data["history"] == [1.0, None]
    assert "non_finite_values" in data["warnings"]


def test_nan_rate_readouts_are_counted() -> None:
    model = RateRNN(RateRNNConfig(n_units=10), seed=0)
    with torch.no_grad():
        model.w_out.fill_(float("nan"))
    summary = score_rate_model(model, get_task("go_nogo"), seed=0, eval_trials=4).summary()
    assert summary["rate_nan_readout_trials"] == 4
    assert "nan_readout" in flag_failures(summary)["warnings"]


def test_run_does_not_convert_an_untrained_network_unless_asked(tmp_path: Path, monkeypatch, caplog) -> None:
    model = RateRNN(RateRNNConfig(n_units=10), seed=0)
    untrained = TrainResult(score_rate_model(model, get_task("go_nogo"), 0, 4), 0, False, None, 0.0, 1)
    monkeypatch.setattr(pipeline, "train_stage", lambda *a, **k: (model, untrained))
    converted = []
    monkeypatch.setattr(pipeline, "convert_stage", lambda *a, **k: converted.append(1))
    with caplog.at_level(logging.WARNING, logger="spikernn"):
        summary = run_pipeline(RunConfig(), tmp_path).summary()
    assert not converted and summary["lif_accuracy"] is None and "untrained" in summary["warnings"]
    assert any("allow_untrained=true" in r.getMessage() for r in caplog.records)
    run_pipeline(RunConfig(allow_untrained=True), tmp_path)  # asked: the conversion runs (stubbed here)
    assert converted


def test_convert_refuses_an_untrained_model_unless_asked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SPIKERNN_ALLOW_UNTRAINED", raising=False)
    path = save_rate_model(
        tmp_path / "m.pt", RateRNN(RateRNNConfig(n_units=10)), ModelInfo(task="go_nogo", trained=False)
    )
    base = [f"source={path}", f"paths.output_dir={tmp_path / 'out'}"]
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        refused = compose("convert", overrides=base)
        allowed = compose("convert", overrides=[*base, "allow_untrained=true"])
        with pytest.raises(ConfigError, match="did not meet the training criterion.*allow_untrained=true"):
            validate(refused, "convert")
        assert validate(allowed, "convert") is not None
        with pytest.raises(ConfigCompositionException) as bad:  # the command's schema types it: a bool
            compose("convert", overrides=[*base, "allow_untrained=maybe"])
        assert "full_key: allow_untrained" in str(bad.value.__cause__)
    assert not (tmp_path / "out").exists()
