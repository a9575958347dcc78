"""Paper Fig. 1C: how many Go-NoGo rate networks of each size meet the training criterion, and
after how many trials. Reads the ``spikernn-train`` runs of MLflow experiment ``fig1c``
(``spikernn-train -m experiment=fig1c model.n_units=10,50,100,200,400 'seed=range(0,K)'``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from common import Sample, finished_runs, group, param, save_figure, write_table

PAPER = {
    10: "69 % trained",
    50: "trains reliably",
    100: "trains reliably",
    200: "trains reliably",
    400: "trains reliably",
}


def main() -> None:
    by_n = group(finished_runs("fig1c", "spikernn-train"), lambda r: int(param(r, "model.n_units")))
    sizes = sorted(by_n)
    rows, fractions = [], []
    for n in sizes:
        runs = by_n[n]
        trained = [r for r in runs if r.data.metrics.get("trained") == 1]
        fractions.append(len(trained) / len(runs))
        trials = Sample([r.data.metrics["trials_to_criterion"] for r in trained])
        rows.append([str(n), PAPER.get(n, ""), f"{len(trained)}/{len(runs)}", trials.mean_sd(1.0, " trials")])
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(sizes, [100 * f for f in fractions], marker="o")
    ax.set_xlabel("N")
    ax.set_ylabel("trained (%)")
    ax.set_title("Fig. 1C: Go-NoGo rate RNNs")
    save_figure(fig, "fig1c")
    write_table(
        "fig1c",
        "Fig. 1C — Go-NoGo rate RNNs, τ 20–50 ms, batch 1, 6000-trial budget",
        ["N", "paper", "ours: trained", "ours: trials to criterion"],
        rows,
    )


if __name__ == "__main__":
    main()
