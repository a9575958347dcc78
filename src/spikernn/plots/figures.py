"""A run's figures: readouts (rate vs LIF), spike rasters, accuracy against the scaling factor,
training curves. Each function draws in the package style, writes a PNG and an SVG beside it, and
returns them with the Figure (``SavedFigure``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

from spikernn.plots.stats import wilson_interval
from spikernn.plots.style import (
    BEFORE_COLOR,
    CHOSEN_COLOR,
    EXC_COLOR,
    INH_COLOR,
    LIF_COLOR,
    RATE_COLOR,
    REFERENCE_COLOR,
    TARGET_COLOR,
    WINDOW_COLOR,
    SavedFigure,
    save,
    styled,
)
from spikernn.results import FinetuneHistory, ValidationHistory

INPUT_COLORS = ("#555555", "#E69F00", "#56B4E9", "#CC79A7", "#0072B2", "#D55E00", "#999933")  # Okabe–Ito, then olive
MAX_COLUMNS = 4  # trial types per row of the readout figure
RATE_BIN_MS = 10.0  # bin of the population rate under a raster


@styled
def plot_readouts(
    path: Path,
    names: Sequence[str],
    rate_readout: torch.Tensor,
    rate_dt_ms: float,
    lif_readout: torch.Tensor,
    lif_dt_ms: float,
    targets: torch.Tensor,
    scaling_factor: float,
    *,
    inputs: torch.Tensor | None = None,
    scored_from_ms: float | None = None,
    lif_before: tuple[torch.Tensor, float] | None = None,
) -> SavedFigure:
    """One column per trial type: its input(s) above (if ``inputs`` [trial, step, channel] on the
    ``rate_dt_ms`` grid is given), and below the task's target, the rate network's readout and the
    LIF network's readout at factor s against time (ms); the LIF scoring window (from
    ``scored_from_ms`` to the end) shaded; a task of several outputs gets an axis per output
    (readouts [trial, n_outputs, T]). ``lif_before`` (readout, its factor): the LIF network
    before fine-tuning on the same trials, drawn under the fine-tuned one. Readouts are
    dimensionless (a.u.)."""
    rate_readout, lif_readout, targets = _by_output(rate_readout), _by_output(lif_readout), _by_output(targets)
    before = None if lif_before is None else _by_output(lif_before[0])
    inputs = None if inputs is None else _numpy(inputs)
    n_outputs = rate_readout.shape[1]
    n = len(names)
    n_cols = min(n, MAX_COLUMNS)
    n_rows = math.ceil(n / n_cols)
    readout_height = 2.6 if n_outputs == 1 else 1.6
    ratios = ([1.0] if inputs is not None else []) + [readout_height] * n_outputs
    rows_per_type = len(ratios)
    height = 1.8 if len(ratios) == 1 else 2.3 * sum(ratios) / 3.6  # one readout with inputs: 2.3
    fig = Figure(figsize=(1.75 * n_cols + 0.7, n_rows * height + 0.35))
    grid = fig.add_gridspec(n_rows * rows_per_type, n_cols, height_ratios=ratios * n_rows)
    t_target = np.arange(targets.shape[-1]) * rate_dt_ms
    t_rate = np.arange(rate_readout.shape[-1]) * rate_dt_ms
    t_lif = (np.arange(lif_readout.shape[-1]) + 1) * lif_dt_ms
    end_ms = max(t_target[-1] + rate_dt_ms, t_lif[-1])
    first_readout = first_input = None
    for i, name in enumerate(names):
        row, col = divmod(i, n_cols)
        top = row * rows_per_type + (inputs is not None)
        axes = []
        for o in range(n_outputs):
            ax = fig.add_subplot(grid[top + o, col], sharey=first_readout, sharex=axes[0] if axes else None)
            axes.append(ax)
            first_readout = first_readout or ax
            if scored_from_ms is not None:
                ax.axvspan(scored_from_ms, end_ms, color=WINDOW_COLOR, alpha=0.25, lw=0)
            ax.plot(t_target, targets[i, o], color=TARGET_COLOR, lw=1.2, ls="--", drawstyle="steps-post")
            ax.plot(t_rate, rate_readout[i, o], color=RATE_COLOR, lw=1.2)
            if before is not None:
                ax.plot(t_lif, before[i, o], color=BEFORE_COLOR, lw=0.8)
            ax.plot(t_lif, lif_readout[i, o], color=LIF_COLOR, lw=0.8)
            ax.set_xlim(0, end_ms)
            last = o == n_outputs - 1
            if row == n_rows - 1 and last:
                ax.set_xlabel("time (ms)")
            elif not last:
                ax.tick_params(labelbottom=False)
            if col == 0:
                ax.set_ylabel("readout (a.u.)" if n_outputs == 1 else f"output {o + 1}\n(a.u.)")
        if inputs is not None:
            ax_in = fig.add_subplot(grid[top - 1, col], sharex=axes[0], sharey=first_input)
            first_input = first_input or ax_in
            _draw_inputs(ax_in, inputs[i], rate_dt_ms)
            ax_in.set_title(name)
            ax_in.tick_params(labelbottom=False)
            if col == 0:
                ax_in.set_ylabel("input\n(a.u.)")
        else:
            axes[0].set_title(name)
    handles = [
        Line2D([], [], color=TARGET_COLOR, lw=1.2, ls="--", label="target"),
        Line2D([], [], color=RATE_COLOR, lw=1.2, label="rate RNN"),
        Line2D([], [], color=LIF_COLOR, lw=1.2, label=f"LIF RNN (s = {scaling_factor:g})"),
    ]
    if lif_before is not None:
        handles[-1].set_label(f"LIF RNN fine-tuned (s = {scaling_factor:g})")
        handles.append(Line2D([], [], color=BEFORE_COLOR, lw=1.2, label=f"LIF RNN before (s = {lif_before[1]:g})"))
    if scored_from_ms is not None:
        handles.append(Patch(color=WINDOW_COLOR, alpha=0.25, lw=0, label="LIF scoring window"))
    if inputs is not None and inputs.shape[-1] > 1:
        handles += [
            Line2D([], [], color=INPUT_COLORS[c % len(INPUT_COLORS)], lw=1, label=f"input {c + 1}")
            for c in range(inputs.shape[-1])
        ]
    wide = n_cols > 2 or len(handles) <= 4  # else the long labels of a two-column figure go in pairs
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 4 if wide else 2))
    return save(fig, path)


def _by_output(values: torch.Tensor) -> np.ndarray:
    """Readouts or targets [trial, T] (one output) or [trial, n_outputs, T] as [trial, n_outputs, T]."""
    values = _numpy(values)
    return values[:, None] if values.ndim == 2 else values


def _numpy(values: torch.Tensor) -> np.ndarray:
    """A tensor on any device as a NumPy array."""
    return values.detach().cpu().numpy()


def _draw_inputs(ax, inputs: np.ndarray, dt_ms: float) -> None:
    t = np.arange(inputs.shape[0]) * dt_ms
    for c in range(inputs.shape[-1]):
        ax.plot(t, inputs[:, c], color=INPUT_COLORS[c % len(INPUT_COLORS)], lw=0.9, drawstyle="steps-post")


@styled
def plot_raster(path: Path, spikes: torch.Tensor, inhibitory: torch.Tensor, dt_ms: float, title: str) -> SavedFigure:
    """Spike raster of one trial (``spikes`` [n_steps, N] bool, step k at (k + 1)·dt ms): excitatory
    units in the bottom rows, inhibitory above them, split by a line; under it the population
    firing rate (Hz) of each in ``RATE_BIN_MS`` bins."""
    inhibitory, spikes = _numpy(inhibitory).astype(bool), _numpy(spikes).astype(bool)
    exc_units = np.flatnonzero(~inhibitory).tolist()
    inh_units = np.flatnonzero(inhibitory).tolist()
    spike_times = [(np.flatnonzero(spikes[:, u]) + 1) * dt_ms for u in range(spikes.shape[1])]
    duration_ms = spikes.shape[0] * dt_ms
    n_exc, n_inh = len(exc_units), len(inh_units)
    fig = Figure(figsize=(5.0, 4.0))
    ax, ax_rate = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    rows = exc_units + inh_units
    ax.eventplot(
        [spike_times[u] for u in rows],
        lineoffsets=np.arange(len(rows)),
        linelengths=1.0,
        linewidths=1.0,
        colors=[EXC_COLOR] * n_exc + [INH_COLOR] * n_inh,
    )
    if n_exc and n_inh:
        ax.axhline(n_exc - 0.5, color="k", lw=0.6)
    ax.set_ylim(-0.5, len(rows) - 0.5)
    ax.set_xlim(0, duration_ms)
    blocks = [(n, (start + n / 2 - 0.5), name, color) for n, start, name, color in
              ((n_exc, 0, "E", EXC_COLOR), (n_inh, n_exc, "I", INH_COLOR)) if n]  # fmt: skip
    ax.set_yticks([b[1] for b in blocks], [b[2] for b in blocks], fontweight="bold")
    for label, block in zip(ax.get_yticklabels(), blocks, strict=True):
        label.set_color(block[3])
    ax.tick_params(axis="y", length=0)
    ax.set_ylabel(f"unit ({n_exc} E, {n_inh} I)")
    ax.set_title(title)

    edges = np.arange(0.0, duration_ms + RATE_BIN_MS, RATE_BIN_MS)
    for units, color, label in ((exc_units, EXC_COLOR, "E"), (inh_units, INH_COLOR, "I")):
        if not units:
            continue
        counts, _ = np.histogram(np.concatenate([spike_times[u] for u in units]), bins=edges)
        rate_hz = counts / (len(units) * RATE_BIN_MS / 1000.0)
        mean_hz = sum(len(spike_times[u]) for u in units) / (len(units) * duration_ms / 1000.0)
        ax_rate.stairs(rate_hz, edges, color=color, lw=1.0, label=f"{label} (mean {mean_hz:.1f} Hz)")
    ax_rate.set_xlabel("time (ms)")
    ax_rate.set_ylabel("rate (Hz)")
    ax_rate.set_ylim(bottom=0)
    ax_rate.legend(loc="upper right", ncols=2)
    return save(fig, path)


@styled
def plot_accuracy_by_factor(
    path: Path,
    factors: Sequence[float],
    accuracy: Sequence[float],
    best: float,
    *,
    trials: int | Sequence[int],
    chance: float = 0.5,
    criterion: float = 0.95,
) -> SavedFigure:
    """LIF accuracy (%) against the scaling factor s = 1/λ, each point with its Wilson 95 %
    interval over its ``trials`` (one number: the same at every factor; an adaptive search: one
    per factor); the chosen factor ``best`` marked, the chance level (a network that always gives
    the same answer: 50 % for the two balanced answers of every task here) and the conversion
    criterion (the paper's 95 %) drawn."""
    acc = np.asarray(accuracy, dtype=float)
    counts = [trials] * len(acc) if isinstance(trials, int) else list(trials)
    intervals = np.array([wilson_interval(round(a * n), n) for a, n in zip(acc, counts, strict=True)])
    fig = Figure(figsize=(3.6, 2.8))
    ax = fig.subplots()
    measured = ax.errorbar(
        factors,
        100 * acc,
        yerr=100 * np.abs(intervals.T - acc),
        fmt="o-",
        color=RATE_COLOR,
        ms=3.5,
        lw=1.0,
        elinewidth=0.8,
        capsize=2,
        label="LIF accuracy, Wilson 95 % CI",
    )
    chosen = list(factors).index(best)
    (marked,) = ax.plot(
        best, 100 * acc[chosen], "o", ms=9, mfc="none", mec=CHOSEN_COLOR, mew=1.6,
        label=f"chosen s = {best:g} ({100 * acc[chosen]:.0f} %)",
    )  # fmt: skip
    chance_line = ax.axhline(100 * chance, color=REFERENCE_COLOR, ls="--", lw=0.8, label=f"chance ({100 * chance:g} %)")
    criterion_line = ax.axhline(
        100 * criterion, color=REFERENCE_COLOR, ls=":", lw=0.8, label=f"criterion ({100 * criterion:g} %)"
    )
    ax.set_xlabel("scaling factor s (λ = 1/s)")
    ax.set_ylabel("LIF accuracy (%)")
    ax.set_ylim(0, 102)
    same = len(set(counts)) == 1
    ax.set_title(
        f"factor search, n = {counts[0]} trials per factor"
        if same
        else f"adaptive factor search, n = {min(counts)}–{max(counts)} trials per factor"
    )
    ax.legend(handles=[measured, marked, criterion_line, chance_line], loc="best")
    return save(fig, path)


def _log_loss_axis(ax) -> None:
    """A loss axis on a log scale, ticks at 1, 2 and 5 per decade written plainly."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("loss")


def _finish_accuracy_panel(fig: Figure, ax_acc, xlabel: str, handles: list, path: Path) -> SavedFigure:
    """The accuracy panel's axes (%, from 0), the shared legend below, and the files."""
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_ylim(0, 102)
    ax_acc.set_xlim(0, None)
    ax_acc.set_xlabel(xlabel)
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return save(fig, path)


@styled
def plot_training(
    path: Path,
    trials: Sequence[int],
    eval_loss: Sequence[float],
    eval_accuracy: Sequence[float],
    *,
    train_loss: Sequence[float] | None = None,
    loss_threshold: float | None = None,
    accuracy_threshold: float | None = None,
    min_trials: int = 0,
    trials_to_criterion: int | None = None,
) -> SavedFigure:
    """The rate network's training against trials seen: loss (log scale; on fresh evaluation
    trials and, if given, the mean training loss since the previous evaluation) above, accuracy
    on the evaluation trials (%) below; the stopping rule's thresholds, the trials before which it
    may not stop (``min_trials``, shaded) and the trial at which it was met."""
    fig = Figure(figsize=(3.6, 4.0))
    ax_loss, ax_acc = fig.subplots(2, 1, sharex=True)
    fig.suptitle("rate RNN training", fontsize=9)
    handles = []
    if train_loss is not None:
        handles += ax_loss.plot(trials, train_loss, ".-", color=REFERENCE_COLOR, lw=1.0, label="training trials (mean)")
    handles += ax_loss.plot(trials, eval_loss, ".-", color=RATE_COLOR, label="fresh evaluation trials")
    ax_acc.plot(trials, 100 * np.asarray(eval_accuracy, dtype=float), ".-", color=RATE_COLOR)
    criterion = []
    if loss_threshold is not None:
        ax_loss.axhline(loss_threshold, color=CHOSEN_COLOR, ls=":")
        criterion.append(f"loss < {loss_threshold:g}")
    if accuracy_threshold is not None:
        ax_acc.axhline(100 * accuracy_threshold, color=CHOSEN_COLOR, ls=":")
        criterion.append(f"accuracy > {100 * accuracy_threshold:g} %")
    if criterion:
        handles.append(Line2D([], [], color=CHOSEN_COLOR, ls=":", label=f"criterion: {', '.join(criterion)}"))
    if min_trials:
        for ax in (ax_loss, ax_acc):
            ax.axvspan(0, min_trials, color=REFERENCE_COLOR, alpha=0.15, lw=0)
        handles.append(Patch(color=REFERENCE_COLOR, alpha=0.15, lw=0, label=f"first {min_trials} trials: no stop"))
    if trials_to_criterion is not None:
        for ax in (ax_loss, ax_acc):
            ax.axvline(trials_to_criterion, color=CHOSEN_COLOR, lw=0.8)
        handles.append(Line2D([], [], color=CHOSEN_COLOR, lw=0.8, label=f"criterion met at {trials_to_criterion}"))
    _log_loss_axis(ax_loss)
    return _finish_accuracy_panel(fig, ax_acc, "training trials", handles, path)


@styled
def plot_finetuning(
    path: Path,
    history: FinetuneHistory,
    validation: ValidationHistory,
    best_batch: int,
    accuracy_before: float,
    accuracy_after: float,
    *,
    criterion: float = 0.95,
) -> SavedFigure:
    """Surrogate-gradient fine-tuning against batches: the training loss (log scale) above; below,
    the validation accuracy (%) at each check, the batch whose weights were kept, and the LIF
    accuracy on the run's fresh evaluation trials before and after fine-tuning; the conversion
    criterion (the paper's 95 %)."""
    fig = Figure(figsize=(3.6, 4.0))
    ax_loss, ax_acc = fig.subplots(2, 1, sharex=True)
    fig.suptitle("LIF RNN fine-tuning", fontsize=9)
    handles = ax_loss.plot(history.batch, history.loss, ".-", color=LIF_COLOR, ms=2, label="training loss")
    _log_loss_axis(ax_loss)
    handles += ax_acc.plot(
        validation.batch, 100 * np.asarray(validation.accuracy, dtype=float), "o-", color=LIF_COLOR, ms=3,
        label="validation accuracy",
    )  # fmt: skip
    handles.append(ax_acc.axvline(best_batch, color=CHOSEN_COLOR, lw=0.8, label=f"kept: batch {best_batch}"))
    for accuracy, color, when in ((accuracy_before, BEFORE_COLOR, "before"), (accuracy_after, LIF_COLOR, "after")):
        label = f"fresh trials, {when}: {100 * accuracy:.1f} %"
        handles.append(ax_acc.axhline(100 * accuracy, color=color, ls="--", lw=0.9, label=label))
    criterion_label = f"criterion ({100 * criterion:g} %)"
    handles.append(ax_acc.axhline(100 * criterion, color=REFERENCE_COLOR, ls=":", lw=0.8, label=criterion_label))
    return _finish_accuracy_panel(fig, ax_acc, "fine-tuning batches", handles, path)


@styled
def plot_condition(
    path: Path,
    lif_accuracy: Sequence[float],
    transfer_accuracy: Sequence[float],
    factors: Sequence[float],
    *,
    criterion: float = 0.95,
) -> SavedFigure:
    """A condition of many networks (a population launch): left, each network's LIF accuracy on
    fresh trials, networks sorted by it, with the accuracy right after the transfer where it was
    fine-tuned after (a line from it), against the conversion criterion; right, the chosen factors."""
    after, before = np.asarray(lif_accuracy, dtype=float), np.asarray(transfer_accuracy, dtype=float)
    order = np.argsort(after, kind="stable")
    rank = np.arange(1, len(after) + 1)
    converted = int((after >= criterion).sum())
    fig = Figure(figsize=(6.0, 2.8), layout="constrained")
    ax_acc, ax_s = fig.subplots(1, 2, width_ratios=(2, 1))
    tuned = np.flatnonzero(before[order] != after[order])
    for k in tuned:
        ax_acc.plot([rank[k]] * 2, [100 * before[order][k], 100 * after[order][k]], color=BEFORE_COLOR, lw=0.8)
    handles = [ax_acc.scatter(rank, 100 * after[order], s=9, color=LIF_COLOR, zorder=3, label="LIF accuracy")]
    if len(tuned):
        handles.append(
            ax_acc.scatter(rank[tuned], 100 * before[order][tuned], s=9, color=BEFORE_COLOR, zorder=3,
                           label=f"before fine-tuning ({len(tuned)})")
        )  # fmt: skip
    handles.append(
        ax_acc.axhline(100 * criterion, color=REFERENCE_COLOR, ls=":", lw=0.8, label=f"{100 * criterion:g} %")
    )
    low, high = wilson_interval(converted, len(after))
    ax_acc.set_title(f"converted {converted}/{len(after)} = {100 * converted / len(after):.0f} % "
                     f"[{100 * low:.0f}, {100 * high:.0f}]", fontsize=8)  # fmt: skip
    ax_acc.set_xlabel("network (sorted by LIF accuracy)")
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_s.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.set_ylabel("LIF accuracy on fresh trials (%)")
    ax_acc.set_ylim(0, 102)
    ax_acc.legend(handles=handles, loc="lower right")
    ax_s.hist(factors, bins=min(12, max(3, len(factors))), color=CHOSEN_COLOR)
    ax_s.set_xlabel("chosen scaling factor s")
    ax_s.set_ylabel("networks")
    return save(fig, path)
