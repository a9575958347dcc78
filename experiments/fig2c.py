"""Paper Fig. 2C: every trained Fig. 1C Go-NoGo network converted to LIF — fraction converted
(≥ 95 %) and average accuracy of rate and LIF networks, by network size.

Reads MLflow experiment ``fig2c``: ``spikernn-convert -m source=<ids> logger.experiment_name=fig2c``
with the ids of the trained ``fig1c`` networks (``python experiments/run_ids.py fig1c spikernn-train``).
Conversions of networks that are no longer the latest run of their (seed, N) are left out.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from common import (
    GRID_NOTE,
    Sample,
    constant,
    finished_runs,
    grid_search_column,
    group,
    label_axes,
    param,
    save_figure,
    trained,
    write_table,
)

PAPER = {10: "unreliable", 50: "unreliable", 250: "smallest rate–LIF gap"}


def main() -> None:
    networks = {r.info.run_id for r in trained(finished_runs("fig1c", "spikernn-train"))}
    converts = [r for r in finished_runs("fig2c", "spikernn-convert") if param(r, "source") in networks]
    by_n = group(converts, lambda r: int(constant(r, "N")))
    sizes = sorted(by_n)
    rows, converted, rate_mean, lif_mean = [], [], [], []
    for n in sizes:
        lif = Sample([r.data.metrics["lif_accuracy"] for r in by_n[n]])
        rate = Sample([r.data.metrics["rate_accuracy"] for r in by_n[n]])
        converted.append(lif.converted_percent())
        rate_mean.append(rate.mean())
        lif_mean.append(lif.mean())
        rows.append(
            [
                str(n),
                PAPER.get(n, ""),
                lif.converted(),
                rate.mean_sd(),
                lif.mean_sd(),
                f"{rate_mean[-1] - lif_mean[-1]:.1f} points",
                grid_search_column(by_n[n]),
            ]
        )
    fig, (ax_converted, ax_accuracy) = plt.subplots(1, 2, figsize=(8, 3))
    ax_converted.bar([str(n) for n in sizes], converted)
    ax_accuracy.plot(sizes, rate_mean, marker="o", label="rate")
    ax_accuracy.plot(sizes, lif_mean, marker="o", label="LIF")
    label_axes((ax_converted, ax_accuracy), "N", ("LIF networks ≥ 95 % (%)", "accuracy (%)"))
    fig.suptitle("Fig. 2C: Fig. 1C networks converted")
    save_figure(fig, "fig2c")
    write_table(
        "fig2c",
        "Fig. 2C — the trained Fig. 1C Go-NoGo networks converted to LIF (factor searched per network)",
        [
            "N",
            "paper",
            "ours: converted",
            "ours: rate accuracy",
            "ours: LIF accuracy",
            "ours: rate − LIF",
            "ours: best grid accuracy; converted by it",
        ],
        rows,
        "Only networks that met the training criterion are converted. " + GRID_NOTE,
    )


if __name__ == "__main__":
    main()
