"""Readout traces (rate vs LIF), spike raster, accuracy against the scaling factor, training curve."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

EXC_COLOR, INH_COLOR = "tab:red", "tab:blue"


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_readouts(
    path: Path,
    names: list[str],
    rate_readout: torch.Tensor,
    rate_dt_ms: float,
    lif_readout: torch.Tensor,
    lif_dt_ms: float,
    targets: torch.Tensor,
    scaling_factor: float,
) -> Path:
    """One panel per trial type: rate output, LIF output and target against time (ms)."""
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), sharey=True, squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        t_lif = (np.arange(lif_readout.shape[-1]) + 1) * lif_dt_ms
        t_rate = np.arange(rate_readout.shape[-1]) * rate_dt_ms
        ax.plot(np.arange(targets.shape[-1]) * rate_dt_ms, targets[i], color="0.7", lw=3, label="target")
        ax.plot(t_rate, rate_readout[i], color="k", lw=1.5, label="rate")
        ax.plot(t_lif, lif_readout[i], color="tab:green", lw=1, label=f"LIF (s = {scaling_factor:g})")
        ax.set_title(name)
        ax.set_xlabel("time (ms)")
    axes[0, 0].set_ylabel("readout")
    axes[0, -1].legend(fontsize=7, loc="best")
    return _save(fig, path)


def plot_raster(path: Path, spikes: torch.Tensor, inhibitory: torch.Tensor, dt_ms: float, title: str) -> Path:
    """Spike raster of one trial ([n_steps, N] bool); excitatory red, inhibitory blue."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps, units = torch.nonzero(spikes, as_tuple=True)
    inh = inhibitory[units]
    for mask, color, label in ((~inh, EXC_COLOR, "exc"), (inh, INH_COLOR, "inh")):
        ax.scatter((steps[mask] + 1) * dt_ms, units[mask], s=1.5, color=color, label=label, marker="|")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("unit")
    ax.set_title(title)
    ax.set_ylim(-1, spikes.shape[1])
    ax.legend(fontsize=7, loc="upper right", markerscale=4)
    return _save(fig, path)


def plot_accuracy_by_factor(path: Path, factors: list[float], accuracy: list[float], best: float) -> Path:
    """LIF accuracy against the scaling factor s = 1/λ."""
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(factors, np.asarray(accuracy) * 100, "o-", color="k")
    ax.axvline(best, color="tab:green", ls="--", label=f"best s = {best:g}")
    ax.axhline(95, color="0.6", ls=":", lw=1)
    ax.set_xlabel("scaling factor s (= 1/λ)")
    ax.set_ylabel("LIF accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_training(path: Path, trials: list[int], eval_loss: list[float], eval_accuracy: list[float]) -> Path:
    """Eval loss and accuracy of the rate network against trials seen."""
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(trials, eval_loss, color="k", label="eval loss")
    ax.set_xlabel("trials")
    ax.set_ylabel("loss")
    ax2 = ax.twinx()
    ax2.plot(trials, np.asarray(eval_accuracy) * 100, color="tab:green", label="eval accuracy")
    ax2.set_ylabel("accuracy (%)")
    return _save(fig, path)
