"""Paper Figs. S1 and S2: the Fig. 2B network (Go-NoGo, N = 200) as rate RNN and as LIF RNN at its
best λ — unit rates side by side (S1) and the top three principal components of 50 Go + 50 NoGo
trials (S2).

Reads the ``spikernn-run`` of MLflow experiment ``fig2b`` (``spikernn-run experiment=fig2b``) and
re-simulates its logged converted model. LIF rates are the synaptically filtered spike trains r
(spikes/s, SPEC §3) sampled every 5 ms, so they sit on the rate model's time grid; the rate model's
r = φ(x) is dimensionless, and the transfer expects r_rate ≈ λ·r_LIF.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from common import finished_runs, load_model, save_figure, write_table
from scipy.spatial import procrustes

from spikernn.tasks import get_task
from spikernn.transfer import to_spiking

N_PER_TYPE = 50  # Go and NoGo trials each, as in the paper
CHUNK = 10  # trials per LIF simulation (the recorded rates take 16 MB per trial at N = 200)
GO, NOGO = 1, 0  # condition indices of the Go-NoGo task
HISTOGRAM_BINS_HZ = (0.0, 10.0, 20.0, 30.0, np.inf)  # the paper's S1B bins (centres 5, 15, 25 Hz), and above
CONTROL_S = 1.0  # λ = 1, the unscaled conversion of Fig. 2B, as a contrast for S2


def lif_rates(network, inputs: torch.Tensor, s: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """LIF filtered rates on the 5-ms grid [trials, T, N] (Hz) and mean firing rates [trials, N] (Hz)."""
    per_column = network.steps_per_column
    grid, mean = [], []
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, len(inputs), CHUNK):
        result = network.simulate(inputs[start : start + CHUNK], s, record=("rates",), generator=generator)
        grid.append(result.rates[:, per_column - 1 :: per_column].numpy())
        mean.append(result.firing_rates_hz().numpy())
    return np.concatenate(grid), np.concatenate(mean)


def pca(activity: np.ndarray, k: int = 3) -> tuple[np.ndarray, float]:
    """Project [trials, T, N] on its top k principal components → ([trials, T, k], variance fraction)."""
    flat = activity.reshape(-1, activity.shape[-1])
    flat = flat - flat.mean(0)
    _, singular, vt = np.linalg.svd(flat, full_matrices=False)
    explained = float((singular[:k] ** 2).sum() / (singular**2).sum())
    return (flat @ vt[:k].T).reshape(*activity.shape[:2], k), explained


def mean_trajectories(scores: np.ndarray, go: np.ndarray) -> np.ndarray:
    """Trial-averaged Go and NoGo trajectories, stacked [2·T, k]."""
    return np.concatenate(list(condition_means(scores, go)))


def quartiles(values: np.ndarray) -> str:
    low, mid, high = np.percentile(values, [25, 50, 75])
    return f"median {mid:.2f} (25–75 %: {low:.2f}–{high:.2f})"


def condition_means(activity: np.ndarray, go: np.ndarray) -> np.ndarray:
    """The Go and the NoGo trial average [2, T, N]."""
    return np.stack([activity[go].mean(0), activity[~go].mean(0)])


def unit_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation over time of each unit's trial-averaged activity, a and b [T, N]."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    denominator = np.sqrt((a**2).sum(0) * (b**2).sum(0))
    valid = denominator > 0
    return (a * b).sum(0)[valid] / denominator[valid]


def main() -> None:
    run = finished_runs("fig2b", "spikernn-run")[0]
    model, stored = load_model(run)
    s = float(run.data.metrics["scaling_factor"])
    task = get_task("go_nogo")
    network = to_spiking(model, stored.spiking)
    conditions = torch.tensor([GO] * N_PER_TYPE + [NOGO] * N_PER_TYPE)
    trials = task.make_trials(len(conditions), torch.Generator().manual_seed(0), conditions=conditions)
    go = (conditions == GO).numpy()
    with torch.no_grad():
        rate = model(trials.inputs, generator=torch.Generator().manual_seed(1), return_rates=True).rates.numpy()
    lif, lif_mean_hz = lif_rates(network, trials.inputs, s, seed=2)
    control, _ = lif_rates(network, trials.inputs, CONTROL_S, seed=3)
    rate, n_steps = rate[:, 1:], rate.shape[1] - 1  # r_1 … r_{T−1} at 5 … 995 ms, as the LIF grid
    lif, control = lif[:, :n_steps], control[:, :n_steps]
    inh = model.inhibitory.numpy()

    # S1: unit activity, rate vs LIF
    corr_go = unit_correlations(rate[go].mean(0), lif[go].mean(0))
    ratio = lif[go].mean((0, 1)) / (s * rate[go].mean((0, 1)))  # LIF Hz over s·r_rate, per unit
    t_ms = (np.arange(n_steps) + 1) * task.step_ms
    order = np.argsort(rate[go].mean(0).argmax(0))
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
    axes[0].imshow(rate[go][0][:, order].T, aspect="auto", extent=(t_ms[0], t_ms[-1], len(order), 0))
    axes[0].set_title("rate RNN, one Go trial: r")
    lif_trial = lif[go][0][:, order]
    span = lif_trial.max(0) - lif_trial.min(0)
    normalised = (lif_trial - lif_trial.min(0)) / np.where(span > 0, span, 1)
    axes[1].imshow(normalised.T, aspect="auto", extent=(t_ms[0], t_ms[-1], len(order), 0))
    axes[1].set_title(f"LIF RNN (λ = 1/{s:g}), same trial type: r normalised")
    for ax in axes[:2]:
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("unit")
    bins = np.linspace(0, max(30.0, float(lif_mean_hz.max())), 31)
    for ax, mask, name in ((axes[2], ~go, "NoGo"), (axes[3], go, "Go")):
        trial = np.flatnonzero(mask)[0]
        ax.hist(lif_mean_hz[trial][~inh], bins=bins, alpha=0.6, color="tab:red", label="excitatory", density=True)
        ax.hist(lif_mean_hz[trial][inh], bins=bins, alpha=0.6, color="tab:blue", label="inhibitory", density=True)
        ax.set_xlabel("LIF firing rate (Hz)")
        ax.set_ylabel("units (density per Hz)")
        ax.set_title(f"one {name} trial")
    axes[3].legend(fontsize=7)
    save_figure(fig, "figS1")

    # S2: top three PCs of each network's activity over the 100 trials
    rate_scores, rate_var = pca(rate)
    lif_scores, lif_var = pca(lif)
    control_scores, control_var = pca(control)
    disparity = procrustes(mean_trajectories(rate_scores, go), mean_trajectories(lif_scores, go))[2]
    control_disparity = procrustes(mean_trajectories(rate_scores, go), mean_trajectories(control_scores, go))[2]
    fig = plt.figure(figsize=(9, 4))
    for k, (scores, name) in enumerate(((rate_scores, "rate RNN"), (lif_scores, f"LIF RNN (λ = 1/{s:g})"))):
        ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        ax.set_box_aspect(None, zoom=0.85)  # room for the z label inside the figure
        for trial in range(len(scores)):
            color = "tab:red" if go[trial] else "tab:blue"
            ax.plot(*scores[trial].T, color=color, lw=0.4, alpha=0.5)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_zlabel("PC 3")
        ax.set_title(f"{name}: Go (red), NoGo (blue)")
    save_figure(fig, "figS2")

    def histogram(values: np.ndarray) -> str:
        """Fraction of units in the paper's histogram bins, and the median."""
        counts = np.histogram(values, bins=HISTOGRAM_BINS_HZ)[0] / len(values)
        shares = ", ".join(f"{100 * c:.0f}" for c in counts)
        return f"{shares} % (median {np.median(values):.1f} Hz)"

    go_trial, nogo_trial = np.flatnonzero(go)[0], np.flatnonzero(~go)[0]
    write_table(
        "figS1_S2",
        f"Figs. S1/S2 — the Fig. 2B network (N = 200) as rate RNN and as LIF RNN at λ = 1/{s:g}",
        ["quantity", "paper", "ours"],
        [
            [
                f"S1: LIF firing rates, one {name} trial, units in 0–10 / 10–20 / 20–30 / > 30 Hz",
                "~5–25 Hz",
                f"E {histogram(lif_mean_hz[trial][~inh])}; I {histogram(lif_mean_hz[trial][inh])}",
            ]
            for name, trial in (("Go", go_trial), ("NoGo", nogo_trial))
        ]
        + [
            [
                "S1: rate vs LIF time course per unit (Go average, Pearson r)",
                "LIF rates track the rate units",
                f"{quartiles(corr_go)}, {len(corr_go)} units",
            ],
            [
                "S1: LIF rate / (r_rate / λ) per unit (Go average)",
                "≈ 1 (the transfer's premise)",
                quartiles(ratio),
            ],
            ["S2: variance in the top 3 PCs, rate RNN", "99 %", f"{100 * rate_var:.1f} %"],
            ["S2: variance in the top 3 PCs, LIF RNN", "99 %", f"{100 * lif_var:.1f} %"],
            [
                "S2: same, PCA of the Go and NoGo trial averages (rate / LIF)",
                "",
                f"{100 * pca(condition_means(rate, go))[1]:.1f} % / {100 * pca(condition_means(lif, go))[1]:.1f} %",
            ],
            [
                "S2: Procrustes disparity, rate vs LIF mean trajectories (0 = same shape)",
                "trajectories alike",
                f"{disparity:.3f} (LIF at λ = 1 instead: {control_disparity:.3f}, {100 * control_var:.1f} % in 3 PCs)",
            ],
        ],
        f"{N_PER_TYPE} Go + {N_PER_TYPE} NoGo trials, noise on in both networks; MLflow run {run.info.run_id}.",
    )


if __name__ == "__main__":
    main()
