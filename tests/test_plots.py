"""The run's figures: files in both formats, legends, E-before-I rasters, Wilson intervals, one style."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba
from PIL import Image

from spikernn.plots import (
    SavedFigure,
    plot_accuracy_by_factor,
    plot_raster,
    plot_readouts,
    plot_training,
    wilson_error_bar,
    wilson_interval,
)
from spikernn.plots.style import EXC_COLOR, INH_COLOR, PNG_DPI


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.27753),  # upper bound z²/(n + z²)
        (10, 10, 0.72247, 1.0),
        (50, 100, 0.40383, 0.59617),
        (81, 263, 0.25529, 0.36621),  # Wilson (1927) / Newcombe (1998) worked example
    ],
)
def test_wilson_interval_known_values(successes: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=1e-5)


def test_wilson_error_bar_reaches_from_the_proportion_to_the_interval() -> None:
    below, above = wilson_error_bar(81, 263)  # the worked example above: 0.30798 in [0.25529, 0.36621]
    assert (below, above) == pytest.approx((81 / 263 - 0.25529, 0.36621 - 81 / 263), abs=1e-5)
    assert wilson_error_bar(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="n ≥ 1"):
        wilson_interval(0, 0)


def _readouts(path: Path) -> SavedFigure:
    torch.manual_seed(0)
    n_steps, dt = 200, 5.0
    targets = torch.zeros(2, n_steps)
    targets[1, 75:] = 1.0
    inputs = torch.zeros(2, n_steps + 1, 1)
    inputs[1, 50:75, 0] = 1.0
    lif = targets.repeat_interleave(100, dim=1) + 0.1 * torch.randn(2, n_steps * 100)
    return plot_readouts(
        path, ["NoGo", "Go"], targets[:, :-1], dt, lif, 0.05, targets, 25.0, inputs=inputs, scored_from_ms=500.0
    )


def _raster(path: Path, inhibitory: torch.Tensor) -> tuple[SavedFigure, torch.Tensor]:
    n_steps, n = 2000, inhibitory.numel()
    spikes = torch.zeros(n_steps, n, dtype=torch.bool)
    for u in range(n):  # unit u fires at steps 10u, 10u + 500, 10u + 1000: identifiable by its times
        spikes[[10 * u, 10 * u + 500, 10 * u + 1000], u] = True
    return plot_raster(path, spikes, inhibitory, 0.5, "test trial"), spikes


def _accuracy(path: Path) -> SavedFigure:
    return plot_accuracy_by_factor(path, [20.0, 25.0, 30.0, 35.0], [0.95, 0.96, 0.5, 0.0], 25.0, trials=100)


def _training(path: Path) -> SavedFigure:
    return plot_training(
        path,
        [100, 200, 300],
        [8.0, 3.0, 1.0],
        [0.4, 0.9, 1.0],
        train_loss=[9.0, 4.0, 1.5],
        loss_threshold=7.0,
        accuracy_threshold=0.95,
        min_trials=150,
        trials_to_criterion=300,
    )


DRAWERS = {
    "readouts": _readouts,
    "raster": lambda path: _raster(path, torch.tensor([False, True, False, True, False]))[0],
    "accuracy": _accuracy,
    "training": _training,
}


@pytest.mark.parametrize("name", DRAWERS)
def test_each_figure_is_written_as_png_and_svg_and_returned(tmp_path: Path, name: str) -> None:
    saved = DRAWERS[name](tmp_path / f"{name}.png")
    assert saved.png == tmp_path / f"{name}.png" and saved.name == f"{name}.png"
    assert saved.vector == tmp_path / f"{name}.svg"
    assert ET.parse(saved.vector).getroot().tag.endswith("svg")  # a well-formed SVG document
    width_in, height_in = saved.figure.get_size_inches()
    with Image.open(saved.png) as png:
        assert png.format == "PNG"
        assert png.size == (round(width_in * PNG_DPI), round(height_in * PNG_DPI))
    saved.figure.savefig(tmp_path / "again.png")  # the returned Figure is still usable (mlflow.log_figure)


@pytest.mark.parametrize("name", DRAWERS)
def test_same_data_gives_identical_files(tmp_path: Path, name: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = (DRAWERS[name](tmp_path / folder / f"{name}.png") for folder in "ab")
    assert first.png.read_bytes() == second.png.read_bytes()
    assert first.vector.read_bytes() == second.vector.read_bytes()


def test_style_is_applied_while_drawing_and_restored_after(tmp_path: Path) -> None:
    before = dict(mpl.rcParams)
    saved = _accuracy(tmp_path / "acc.png")
    assert dict(mpl.rcParams) == before
    (ax,) = saved.figure.axes
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()


def _legend_labels(figure) -> set[str]:
    legends = [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend())]
    return {text.get_text() for legend in legends for text in legend.get_texts()}


def test_training_figure_labels_every_line(tmp_path: Path) -> None:
    labels = _legend_labels(_training(tmp_path / "training.png").figure)
    assert {"training trials (mean)", "fresh evaluation trials", "criterion met at 300"} <= labels
    assert "criterion: loss < 7, accuracy > 95 %" in labels
    loss_ax, acc_ax = _training(tmp_path / "t2.png").figure.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy (%)"
    assert acc_ax.get_xlabel() == "training trials"


def test_readout_figure_shows_target_rate_lif_window_and_units(tmp_path: Path) -> None:
    figure = _readouts(tmp_path / "readouts.png").figure
    assert {"target", "rate RNN", "LIF RNN (s = 25)", "LIF scoring window"} <= _legend_labels(figure)
    readout_axes = [ax for ax in figure.axes if ax.get_ylabel() == "readout (a.u.)"]
    assert len(readout_axes) == 1  # the label on the first column only
    go = figure.axes[2]  # axes are added per trial type: readout, then input above it
    target, rate, lif = go.get_lines()
    assert target.get_linestyle() == "--" and max(target.get_ydata()) == 1.0
    assert lif.get_xdata()[0] == pytest.approx(0.05)  # LIF sample k lies at (k + 1) dt
    (window,) = go.patches
    assert window.get_x() == pytest.approx(500.0)
    assert all(ax.get_xlabel() in ("time (ms)", "") for ax in figure.axes)


def test_raster_puts_excitatory_rows_below_inhibitory_rows_in_their_colours(tmp_path: Path) -> None:
    inhibitory = torch.tensor([False, True, False, True, False])  # E and I interleaved by index
    saved, spikes = _raster(tmp_path / "raster.png", inhibitory)
    raster_ax, rate_ax = saved.figure.axes
    rows = sorted(raster_ax.collections, key=lambda c: c.get_lineoffset())
    expected_units = [0, 2, 4, 1, 3]  # E units in index order, then I units
    for row, (offset, unit) in enumerate(zip((c.get_lineoffset() for c in rows), expected_units, strict=True)):
        assert offset == row
        times = np.sort(rows[row].get_positions())
        assert times == pytest.approx((torch.nonzero(spikes[:, unit]).flatten().numpy() + 1) * 0.5)
        colour = EXC_COLOR if not inhibitory[unit] else INH_COLOR
        assert tuple(np.ravel(rows[row].get_color())) == pytest.approx(to_rgba(colour))
    separator = [line for line in raster_ax.get_lines() if line.get_ydata()[0] == 2.5]
    assert separator, "a line between the 3 E rows and the I rows"
    assert [t.get_text() for t in raster_ax.get_yticklabels()] == ["E", "I"]
    assert raster_ax.get_ylabel() == "unit (3 E, 2 I)"
    assert rate_ax.get_xlabel() == "time (ms)" and rate_ax.get_ylabel() == "rate (Hz)"
    # 3 spikes per unit in 1 s: every population fires at 3 Hz on average
    assert {"E (mean 3.0 Hz)", "I (mean 3.0 Hz)"} == _legend_labels(saved.figure)


def test_accuracy_figure_has_wilson_intervals_chance_and_chosen_factor(tmp_path: Path) -> None:
    saved = _accuracy(tmp_path / "acc.png")
    (ax,) = saved.figure.axes
    assert "n = 100 trials per factor" in ax.get_title()
    labels = _legend_labels(saved.figure)
    assert {"chance (50 %)", "criterion (95 %)", "chosen s = 25 (96 %)", "LIF accuracy, Wilson 95 % CI"} <= labels
    (container,) = ax.containers
    (bars,) = container.lines[2]
    for segment, (k, factor) in zip(bars.get_segments(), [(95, 20), (96, 25), (50, 30), (0, 35)], strict=True):
        low, high = wilson_interval(k, 100)
        assert segment[0][0] == factor
        assert sorted([segment[0][1], segment[1][1]]) == pytest.approx([100 * low, 100 * high])
    chance = [line for line in ax.get_lines() if list(line.get_ydata()) == [50, 50]]
    assert chance and chance[0].get_linestyle() == "--"
    chosen = [line for line in ax.get_lines() if line.get_label().startswith("chosen")]
    assert list(chosen[0].get_xdata()) == [25.0]
