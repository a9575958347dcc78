"""Paper Fig. 4: Mante, N = 250, τ 20–50 ms: LIF accuracy at λ = 1/60 and at the best λ, τ_d.

Reads the ``spikernn-run`` runs of MLflow experiment ``fig4``
(``spikernn-run -m experiment=fig4 seed=range(0,K)``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from common import Sample, accuracy_by_factor, finished_runs, save_figure, trained, write_table


def main() -> None:
    runs = finished_runs("fig4", "spikernn-run")
    networks = trained(runs)
    at_60 = Sample([accuracy_by_factor(r)[60.0] for r in networks])
    best = Sample([r.data.metrics["lif_accuracy"] for r in networks])
    tau_mean = Sample([r.data.metrics["tau_d_ms_mean"] for r in networks])
    tau_sd = Sample([r.data.metrics["tau_d_ms_sd"] for r in networks])
    fig, ax = plt.subplots(figsize=(4.5, 3))
    for r in networks:
        series = accuracy_by_factor(r)
        ax.plot(list(series), [100 * v for v in series.values()], marker="o", ms=3)
    ax.axvline(60, color="0.6", ls=":")
    ax.set_xlabel("scaling factor s = 1/λ")
    ax.set_ylabel("LIF accuracy (%)")
    ax.set_title(f"Mante N = 250, {len(networks)} networks")
    save_figure(fig, "fig4")
    write_table(
        "fig4",
        "Fig. 4 — Mante, N = 250, τ 20–50 ms",
        ["quantity", "paper", "ours"],
        [
            ["trained (criterion met)", "–", f"{len(networks)}/{len(runs)}"],
            ["LIF accuracy at λ = 1/60 (100 trials)", "98 % (one network)", at_60.mean_sd()],
            ["LIF accuracy at the best λ (200 fresh trials)", "–", best.mean_sd()],
            ["converted (≥ 95 % at the best λ)", "–", best.converted()],
            ["τ_d mean over units (ms)", "38.9", tau_mean.mean_sd(1.0, " ms")],
            ["τ_d SD over units (ms)", "9.3", tau_sd.mean_sd(1.0, " ms")],
        ],
    )


if __name__ == "__main__":
    main()
