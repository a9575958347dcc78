"""Paper Figs. 5 and 7: Go-NoGo, N = 250 — fixed τ = 35 ms vs tuned 20–50 ms (Fig. 5), and the
activation function (Fig. 7: sigmoid, softplus, clipped ReLU).

Reads the ``spikernn-run`` runs of MLflow experiment ``gonogo_n250``:
    spikernn-run -m experiment=gonogo_n250 seed=range(0,K) model.activation=sigmoid,softplus,clipped_relu
    spikernn-run -m experiment=gonogo_n250 seed=range(0,K) model.tau_min_ms=35 model.tau_max_ms=null
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from common import (
    GRID_NOTE,
    Sample,
    finished_runs,
    grid_search_column,
    group,
    lif_accuracies,
    no_difference_test,
    param,
    save_figure,
    trained,
    write_table,
)

PAPER_FIG7 = {
    "sigmoid": ("94/100", "98.8 ± 4.7 %"),
    "softplus": ("55/100", "88.3 ± 15.8 %"),
    "clipped_relu": ("0/100", "59.7 ± 9.5 %"),
}


def main() -> None:
    runs = finished_runs("gonogo_n250", "spikernn-run")
    by = group(runs, lambda r: (param(r, "model.activation"), param(r, "model.tau_max_ms")))
    fixed, tuned = lif_accuracies(by.get(("sigmoid", "None"), [])), lif_accuracies(by.get(("sigmoid", "50.0"), []))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].boxplot([[100 * v for v in fixed], [100 * v for v in tuned]], tick_labels=["τ = 35 ms", "τ 20–50 ms"])
    axes[0].set_ylabel("LIF accuracy (%)")
    axes[0].set_title("Fig. 5: fixed vs tuned τ")
    names = list(PAPER_FIG7)
    samples = [lif_accuracies(by.get((name, "50.0"), [])) for name in names]
    axes[1].boxplot([[100 * v for v in s] for s in samples], tick_labels=names)
    axes[1].set_title("Fig. 7: activation")
    save_figure(fig, "fig5_fig7")
    write_table(
        "fig5",
        "Fig. 5 — Go-NoGo N = 250: τ fixed 35 ms vs tuned 20–50 ms",
        ["condition", "paper", "ours: LIF accuracy", "ours: converted"],
        [
            ["τ fixed 35 ms", "no significant difference", Sample(fixed).mean_sd(), Sample(fixed).converted()],
            ["τ tuned 20–50 ms", "", Sample(tuned).mean_sd(), Sample(tuned).converted()],
            ["test", "n.s.", no_difference_test(fixed, tuned), ""],
        ],
    )
    rows = []
    for name, sample in zip(names, samples, strict=True):
        all_runs = by.get((name, "50.0"), [])
        rows.append(
            [
                name,
                *PAPER_FIG7[name],
                f"{len(sample)}/{len(all_runs)}",
                Sample(sample).converted(),
                Sample(sample).mean_sd(),
                grid_search_column(trained(all_runs)),
            ]
        )
    softplus = trained(by.get(("softplus", "50.0"), []))
    write_table(
        "figS6",
        "Fig. S6 — softplus Go-NoGo networks (the Fig. 7 runs)",
        ["quantity", "paper", "ours"],
        [
            ["best λ", "1/10", ", ".join(f"1/{r.data.metrics['scaling_factor']:g}" for r in softplus)],
            [
                "LIF accuracy at the best λ",
                "78 %",
                Sample([r.data.metrics["lif_accuracy"] for r in softplus]).mean_sd(),
            ],
        ],
    )
    write_table(
        "fig7",
        "Fig. 7 — Go-NoGo N = 250, τ_max 50 ms: activation function",
        [
            "φ",
            "paper: converted",
            "paper: LIF accuracy",
            "ours: trained",
            "ours: converted",
            "ours: LIF accuracy",
            "ours: best grid accuracy; converted by it",
        ],
        rows,
        GRID_NOTE,
    )


if __name__ == "__main__":
    main()
