"""Paper Fig. 2D/E: Go-NoGo, N = 250, τ_min 20 ms and τ_max from 20 ms (τ fixed, not trained) to
1000 ms — the tuned τ_d (2D) and the conversion (2E) against τ_max.

Reads the ``spikernn-run`` runs of MLflow experiment ``fig2de``
(``spikernn-run -m experiment=fig2de 'seed=range(0,K)' model.tau_max_ms=null,50,100,250,500,1000``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from common import (
    GRID_NOTE,
    Sample,
    finished_runs,
    grid_search_column,
    group,
    label_axes,
    param,
    save_figure,
    trained,
    write_table,
)

PAPER = {20.0: "93.91 ± 7.78 %, 65 % converted"}
PAPER_DEFAULT = "robust"


def tau_max(run) -> float:
    """τ_max in ms; a fixed τ (``null``) is τ_min."""
    value = param(run, "model.tau_max_ms")
    return float(param(run, "model.tau_min_ms") if value == "None" else value)


def main() -> None:
    by_tau = group(finished_runs("fig2de", "spikernn-run"), tau_max)
    taus = sorted(by_tau)
    rows, tau_d, tau_d_sd, converted, accuracy = [], [], [], [], []
    for t in taus:
        networks = trained(by_tau[t])
        lif = Sample([r.data.metrics["lif_accuracy"] for r in networks])
        means = Sample([r.data.metrics["tau_d_ms_mean"] for r in networks])
        tau_d.append(means.mean(1.0))
        tau_d_sd.append(means.sd(1.0))
        converted.append(lif.converted_percent())
        accuracy.append(lif.mean())
        rows.append(
            [
                f"{t:g}",
                PAPER.get(t, PAPER_DEFAULT),
                f"{len(networks)}/{len(by_tau[t])}",
                means.mean_sd(1.0, " ms"),
                lif.mean_sd(),
                lif.converted(),
                grid_search_column(networks),
            ]
        )
    fig, (ax_d, ax_e) = plt.subplots(1, 2, figsize=(8, 3))
    ax_d.errorbar(taus, tau_d, yerr=tau_d_sd, marker="o", capsize=2)
    ax_d.set_title("Fig. 2D")
    ax_e.plot(taus, converted, marker="o", label="converted")
    ax_e.plot(taus, accuracy, marker="s", label="LIF accuracy")
    ax_e.set_title("Fig. 2E")
    label_axes((ax_d, ax_e), "τ_max (ms)", ("mean τ_d (ms)", "%"))
    save_figure(fig, "fig2de")
    write_table(
        "fig2de",
        "Fig. 2D/E — Go-NoGo N = 250, τ_min 20 ms, τ_max 20 (fixed) … 1000 ms",
        [
            "τ_max (ms)",
            "paper",
            "ours: trained",
            "ours: mean τ_d",
            "ours: LIF accuracy",
            "ours: converted",
            "ours: best grid accuracy; converted by it",
        ],
        rows,
        "Paper 2D: the mean tuned τ_d grows sublinearly with τ_max. " + GRID_NOTE,
    )


if __name__ == "__main__":
    main()
