"""Paper Fig. 6C (gain of the initial connectivity) and Fig. S7 (QIF units on Mante).

Reads MLflow experiments ``fig6c`` (``spikernn-run -m experiment=fig6c model.gain=0.5,1.0,…
'seed=range(0,K)'``) and ``figS7`` (``spikernn-convert -m source=<Fig. 4 run ids>
logger.experiment_name=figS7 spiking=qif``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from common import Sample, finished_runs, group, lif_accuracies, param, save_figure, trained, write_table
from scipy import stats


def main() -> None:
    by_gain = group(finished_runs("fig6c", "spikernn-run"), lambda r: float(param(r, "model.gain")))
    gains = sorted(by_gain)
    samples = [lif_accuracies(by_gain[g]) for g in gains]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.boxplot([[100 * v for v in s] for s in samples], tick_labels=[f"{g:g}" for g in gains])
    ax.set_xlabel("gain g")
    ax.set_ylabel("LIF accuracy (%)")
    ax.set_title("Fig. 6C")
    save_figure(fig, "fig6c")
    usable = [s for s in samples if len(s) > 1]
    test = f"Kruskal–Wallis p = {stats.kruskal(*usable).pvalue:.2f}" if len(usable) > 1 else "n too small"
    rows = [
        [f"{g:g}", f"{len(trained(by_gain[g]))}/{len(by_gain[g])}",
         Sample(s).mean_sd(), Sample(s).converted()]
        for g, s in zip(gains, samples, strict=True)
    ]  # fmt: skip
    rows.append(["test", "", test, "paper: no significant difference"])
    write_table(
        "fig6c",
        "Fig. 6C — Mante N = 250, τ 20–100 ms: initial gain g",
        ["g", "trained", "LIF accuracy", "converted"],
        rows,
    )
    qif = lif_accuracies(finished_runs("figS7", "spikernn-convert"))
    write_table(
        "figS7",
        "Fig. S7 — QIF units on Mante (the Fig. 4 networks)",
        ["quantity", "paper", "ours"],
        [["accuracy at the best λ", "task solved", Sample(qif).mean_sd()], ["converted", "–", Sample(qif).converted()]],
    )


if __name__ == "__main__":
    main()
