"""Paper Figs. 1C (Go-NoGo) and 3B/C (Mante): how many rate networks of each size meet the training
criterion within the 6000-trial budget, how well they do the task, and after how many trials.

Reads the ``spikernn-train`` runs of MLflow experiments ``fig1c``
(``spikernn-train -m experiment=fig1c model.n_units=10,50,100,200,250,400 'seed=range(0,K)'``) and
``fig3`` (``spikernn-train -m experiment=fig3 model.n_units=10,50,100,250,500 'seed=range(0,K)'``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from common import Sample, finished_runs, group, label_axes, param, save_figure, trained, write_table

FIGURES = {
    "fig1c": (
        "Fig. 1C — Go-NoGo rate RNNs, τ 20–50 ms, batch 1, 6000-trial budget",
        {10: "69 % trained"},
        "trains reliably; trials fall with N",
    ),
    "fig3": (
        "Fig. 3B/C — Mante rate RNNs, τ 20–50 ms, batch 1, 6000-trial budget",
        {10: "never trains"},
        "trials fall with N",
    ),
}


def by_size(experiment: str) -> dict[int, list]:
    return group(finished_runs(experiment, "spikernn-train"), lambda r: int(param(r, "model.n_units")))


def table(experiment: str, ax_trained, ax_trials) -> None:
    title, paper, paper_default = FIGURES[experiment]
    runs = by_size(experiment)
    sizes = sorted(runs)
    rows, fractions, trials_mean = [], [], []
    for n in sizes:
        networks = trained(runs[n])
        fractions.append(100 * len(networks) / len(runs[n]))
        trials = Sample([r.data.metrics["trials_to_criterion"] for r in networks])
        trials_mean.append(trials.mean(1.0))
        rows.append(
            [
                str(n),
                paper.get(n, paper_default if n > 10 else ""),
                f"{len(networks)}/{len(runs[n])}",
                Sample([r.data.metrics["rate_accuracy"] for r in networks]).mean_sd(),
                trials.mean_sd(1.0, " trials"),
            ]
        )
    label = experiment.replace("fig", "Fig. ")
    ax_trained.plot(sizes, fractions, marker="o", label=label)
    ax_trials.plot(sizes, trials_mean, marker="o", label=label)
    write_table(
        experiment,
        title,
        ["N", "paper", "ours: trained", "ours: rate accuracy (trained, 200 fresh trials)", "ours: trials to criterion"],
        rows,
    )


def main() -> None:
    fig, (ax_trained, ax_trials) = plt.subplots(1, 2, figsize=(8, 3))
    for experiment in FIGURES:
        table(experiment, ax_trained, ax_trials)
    label_axes((ax_trained, ax_trials), "N", ("trained within 6000 trials (%)", "trials to criterion (mean)"))
    fig.suptitle("Figs. 1C and 3: rate RNNs by size")
    save_figure(fig, "fig1c_fig3")


if __name__ == "__main__":
    main()
