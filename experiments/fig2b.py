"""Paper Fig. 2B: one Go-NoGo network (N = 200) converted at λ = 1, 1/10 and 1/25.

Reads the ``spikernn-run`` of MLflow experiment ``fig2b`` (``spikernn-run experiment=fig2b``),
simulates one Go and one NoGo trial at each λ from the logged converted model, and tabulates the
accuracy of the logged factor search at those λ.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from common import accuracy_by_factor, constant, finished_runs, load_model, save_figure, write_table

from spikernn.tasks import get_task
from spikernn.transfer import to_spiking

FACTORS = (1.0, 10.0, 25.0)
PAPER = {1.0: "wild fluctuation", 10.0: "insufficient", 25.0: "correct"}


def main() -> None:
    run = finished_runs("fig2b", "spikernn-run")[0]
    model, stored = load_model(run)
    task = get_task("go_nogo")
    network = to_spiking(model, stored.spiking)
    trials = task.make_trials(2, torch.Generator().manual_seed(0), conditions=torch.tensor([1, 0]))
    with torch.no_grad():
        rate = model(trials.inputs, generator=torch.Generator().manual_seed(0)).readout
    result = network.simulate(trials.inputs, torch.tensor(FACTORS), generator=torch.Generator().manual_seed(1))
    fig, axes = plt.subplots(1, 3, figsize=(10, 3), sharey=False)
    t_lif = (np.arange(result.readout.shape[-1]) + 1) * network.params.dt_ms
    t_rate = np.arange(rate.shape[-1]) * task.step_ms
    for ax, s, readout in zip(axes, FACTORS, result.readout, strict=True):
        for trial, (name, color) in enumerate((("Go", "tab:green"), ("NoGo", "tab:red"))):
            ax.plot(t_lif, readout[trial], color=color, lw=0.8, label=f"LIF {name}")
            ax.plot(t_rate, rate[trial], color=color, lw=2, alpha=0.4, ls="--", label=f"rate {name}")
        ax.set_title(f"λ = 1/{s:g}" if s != 1 else "λ = 1")
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel("output")
    axes[-1].legend(fontsize=7)
    save_figure(fig, "fig2b")
    search = accuracy_by_factor(run)
    rows = [
        [
            f"1/{s:g}" if s != 1 else "1",
            PAPER[s],
            f"{100 * search[s]:.0f} % (100 trials)",
            f"{result.readout[i].abs().max():.1f}",
        ]
        for i, s in enumerate(FACTORS)
    ]
    write_table(
        "fig2b",
        "Fig. 2B — Go-NoGo N = 200, one network, LIF at three λ",
        ["λ", "paper", "ours: accuracy", "ours: max |output| (example trials)"],
        rows,
        f"Network: {int(constant(run, 'n_exc'))} E / {int(constant(run, 'n_inh'))} I "
        f"(paper 169 E / 31 I); best s = {run.data.metrics['scaling_factor']:g}; MLflow run {run.info.run_id}.",
    )


if __name__ == "__main__":
    main()
