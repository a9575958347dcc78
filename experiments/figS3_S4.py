"""Paper Figs. S3 (SST motif) and S4 (no Dale's principle): Go-NoGo, N = 200, LIF at λ = 1/50.

Reads the ``spikernn-run`` runs of MLflow experiments ``figS3`` and ``figS4``
(``spikernn-run -m experiment=figS3 seed=range(0,K)``, same for figS4). For S3 the logged converted
model is simulated at s = 50 on 50 trials to get the rates of PYR (E), PV (I without the SST
motif) and SST units.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from common import Sample, accuracy_by_factor, finished_runs, load_model, save_figure, trained, write_table

from spikernn.tasks import get_task
from spikernn.transfer import to_spiking

S = 50.0


def class_rates(run) -> dict[str, float]:
    """Mean firing rate (Hz) of PYR, PV and SST units at s = 50 over 50 fresh trials."""
    model, stored = load_model(run)
    network = to_spiking(model, stored.spiking)
    trials = get_task("go_nogo").make_trials(50, torch.Generator().manual_seed(0))
    rates = network.simulate(trials.inputs, S, generator=torch.Generator().manual_seed(1)).firing_rates_hz().mean(0)
    inh = network.inhibitory
    sst = torch.zeros_like(inh)
    sst[network.sst_units] = True
    return {"PYR": rates[~inh].mean().item(), "PV": rates[inh & ~sst].mean().item(), "SST": rates[sst].mean().item()}


def main() -> None:
    s3 = trained(finished_runs("figS3", "spikernn-run"))
    s4 = trained(finished_runs("figS4", "spikernn-run"))
    rates = [class_rates(r) for r in s3]
    fig, ax = plt.subplots(figsize=(4, 3))
    for k, name in enumerate(("PYR", "PV", "SST")):
        ax.scatter([k] * len(rates), [r[name] for r in rates], color=("tab:red", "tab:blue", "tab:purple")[k])
    ax.set_xticks(range(3), ["PYR", "PV", "SST"])
    ax.set_ylabel("firing rate at λ = 1/50 (Hz)")
    ax.set_title("Fig. S3: SST motif")
    save_figure(fig, "figS3")
    rows = []
    for name, runs, paper in (("S3: SST motif", s3, "task solved"), ("S4: no Dale", s4, "task solved")):
        rows.append(
            [
                name,
                paper,
                Sample([accuracy_by_factor(r)[S] for r in runs]).mean_sd(),
                Sample([r.data.metrics["lif_accuracy"] for r in runs]).mean_sd(),
                Sample([r.data.metrics["lif_accuracy"] for r in runs]).converted(),
            ]
        )
    for name, paper in (("PYR", "3–5 Hz"), ("PV", "9–11 Hz"), ("SST", "25–27 Hz")):
        rows.append([f"S3 {name} rate", paper, Sample([r[name] for r in rates]).mean_sd(1.0, " Hz"), "", ""])
    write_table(
        "figS3_S4",
        "Figs. S3/S4 — Go-NoGo N = 200: SST motif, no Dale's principle",
        ["quantity", "paper", "ours: at λ = 1/50 (100 trials)", "ours: at the best λ (200 trials)", "converted"],
        rows,
    )


if __name__ == "__main__":
    main()
