"""Conversion at the paper's scale: how often a trained rate network works as a spiking network.

For each MLflow experiment given (and each condition in it: activation, τ range, training noise,
spiking noise mode), from its FINISHED ``spikernn-run`` / ``spikernn-convert`` runs:

- networks trained / runs;
- converted on fresh trials: LIF accuracy ≥ 95 % at the chosen factor on 200 new trials (our
  number), with a Wilson 95 % interval, and mean ± SD of that accuracy;
- converted by the reference's number: the best of the factor grid's 100-trial accuracies
  (``lambda_grid_search.m``), with its interval;
- how many best factors sit at the grid's smallest or largest value;
- for a search on a wider grid than the reference's (e.g. 10–75 for sigmoid): the reference's
  number restricted to the reference grid's factors (``lif_accuracy_s<s>``), i.e. what the reference
  grid alone would have reported, and how many networks' optimum lies outside it;
- the mean LIF accuracy per trial type (which trials fail: Go-NoGo's are NoGo false alarms).

    python experiments/conversion_study.py paper_fig7 paper_fig7_current   # table → results/conversion_study.md
    python experiments/conversion_study.py p7_sig_v p7_sig_n05 --name paper_fig7_sigmoid --figure  # + .png

Every network's own numbers go to ``results/<name>_networks.csv`` beside the table (seed, run id,
trials to criterion, factor, accuracies, rates), so that later comparisons need no MLflow store.

``--figure``: per condition, the fresh-trial LIF accuracy of every network (the 95 % line marks
"converted") and the distribution of the best factors.
"""

from __future__ import annotations

import argparse
import csv

import matplotlib.pyplot as plt
import numpy as np
from common import (
    CONVERTED,
    RESULTS,
    Sample,
    converted_fraction,
    finished_runs,
    group,
    save_figure,
    trained,
    write_table,
)

from spikernn.transfer_config import default_grid

KEYS = (
    "model.activation",
    "model.tau_min_ms",
    "model.tau_max_ms",
    "model.gain",
    "model.noise_std",
    "trainer.stopping.extra_trials",
    "spiking.noise_mode",
    "spiking.noise_std_mv",
    "spiking.current_noise_std_mv",
)


def fraction(values: list[float]) -> str:
    return converted_fraction(sum(v >= CONVERTED for v in values), len(values))


def searched_grid(run) -> list[float]:
    """The factors a run searched (one factor, its grid, or the reference grid)."""
    one = run.data.params.get("transfer.scaling_factor", "None")
    text = run.data.params.get("transfer.scaling_factors", "None")
    if one not in ("None", "null", ""):
        return [float(one)]
    if text in ("None", "null", ""):
        return reference_grid(run)
    return [float(v) for v in text.strip("[]").split(",")]


def reference_grid(run) -> list[float]:
    return default_grid(run.data.params.get("model.activation", "sigmoid"))


def at_edge(runs) -> str:
    """How many best factors are the grid's smallest / largest value."""
    low = high = 0
    for run in runs:
        grid, best = searched_grid(run), run.data.metrics.get("scaling_factor")
        low += best == min(grid)
        high += best == max(grid)
    return f"{low} / {high}"


def reference_grid_only(runs) -> list[str]:
    """For runs that searched a wider grid than the reference's: converted by the best accuracy over
    the reference grid's factors alone, and how many best factors lie outside that grid."""
    if not runs or any(not set(reference_grid(r)) < set(searched_grid(r)) for r in runs):
        return ["", ""]
    best = [max(r.data.metrics[f"lif_accuracy_s{s:g}"] for s in reference_grid(r)) for r in runs]
    outside = sum(r.data.metrics.get("scaling_factor") not in reference_grid(r) for r in runs)
    return [fraction(best), str(outside)]


def by_trial_type(runs) -> str:
    """Mean fresh-trial LIF accuracy per trial type (metrics ``lif_accuracy.<type>``): which trials fail."""
    kinds = sorted({k.split(".", 1)[1] for r in runs for k in r.data.metrics if k.startswith("lif_accuracy.")})
    means = []
    for kind in kinds:
        values = [r.data.metrics[f"lif_accuracy.{kind}"] for r in runs if f"lif_accuracy.{kind}" in r.data.metrics]
        means.append(f"{kind} {100 * sum(values) / len(values):.1f} %")
    return ", ".join(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="+", help="MLflow experiment names")
    parser.add_argument("--name", default="conversion_study", help="results/<name>.md")
    parser.add_argument("--figure", action="store_true", help="also results/<name>.png")
    args = parser.parse_args()
    rows = []
    panels: list[tuple[str, list]] = []  # (label, converted runs) per condition, for the figure
    networks: list[dict] = []  # one row per run, for the CSV
    for experiment in args.experiments:
        runs = finished_runs(experiment, "spikernn-run") if _has(experiment, "spikernn-run") else []
        runs += finished_runs(experiment, "spikernn-convert") if _has(experiment, "spikernn-convert") else []
        for condition, members in sorted(group(runs, _condition).items(), key=lambda kv: str(kv[0])):
            ok = [r for r in trained(members) if r.data.metrics.get("lif_accuracy") is not None]
            fresh = [r.data.metrics["lif_accuracy"] for r in ok]
            panels.append((f"{experiment}\n{_short(condition)}", ok))
            networks += [network_row(experiment, condition, r) for r in members]
            grid = [r.data.metrics["search_accuracy"] for r in ok if "search_accuracy" in r.data.metrics]
            rows.append(
                [
                    experiment,
                    _label(condition),
                    f"{len(trained(members))}/{len(members)}",
                    fraction(fresh),
                    Sample(fresh).mean_sd(),
                    fraction(grid),
                    *reference_grid_only(ok),
                    at_edge(ok),
                    by_trial_type(ok),
                ]
            )
    wide = any(row[6] for row in rows)  # the reference grid's columns, where some run searched a wider grid
    if not wide:
        rows = [[*row[:6], *row[8:]] for row in rows]
    write_table(
        args.name,
        "Conversion: networks converted (≥ 95 %), Wilson 95 % intervals",
        [
            "experiment",
            "condition",
            "trained",
            "converted, fresh trials",
            "LIF accuracy (fresh)",
            "converted, best grid accuracy",
            *(
                ["converted, best accuracy on the reference grid's factors", "optima outside the reference grid"]
                if wide
                else []
            ),
            "best s at grid low / high edge",
            "LIF accuracy by trial type (fresh)",
        ],
        rows,
        "Fresh trials: the chosen factor scored on 200 new trials. Best grid accuracy: the highest of the "
        "search's 100-trial accuracies (the reference code's per-network number; a maximum over the grid's "
        "12 or more factors, biased up).",
    )
    write_networks(args.name, networks)
    if args.figure:
        figure(args.name, panels)


NETWORK_METRICS = (
    "trials_to_criterion",
    "rate_accuracy",
    "scaling_factor",
    "lif_accuracy",
    "search_accuracy",
    "lif_accuracy.Go",
    "lif_accuracy.NoGo",
    "lif_exc_hz",
    "lif_inh_hz",
)


def network_row(experiment: str, condition: tuple, run) -> dict:
    """One network's numbers (empty where a run has no such metric, e.g. an untrained network's LIF accuracy)."""
    row = {"experiment": experiment, "condition": _label(condition), "seed": run.data.params.get("seed", "")}
    row |= {"run_id": run.info.run_id, "trained": run.data.tags.get("trained", "True")}
    return row | {name: run.data.metrics.get(name, "") for name in NETWORK_METRICS}


def write_networks(name: str, networks: list[dict]) -> None:
    """``results/<name>_networks.csv``: every network of the table, sorted by experiment and seed."""
    path = RESULTS / f"{name}_networks.csv"
    networks = sorted(networks, key=lambda r: (r["experiment"], r["condition"], int(r["seed"] or -1)))
    with path.open("w", newline="") as f:
        fields = ["experiment", "condition", "seed", "run_id", "trained", *NETWORK_METRICS]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(networks)
    print(f"wrote {path} ({len(networks)} networks)")


def figure(name: str, panels: list[tuple[str, list]]) -> None:
    """LIF accuracy per network (jittered points over a box) and the best factors, per condition."""
    fig, (acc, fac) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=[1.2, 1])
    rng = np.random.default_rng(0)
    for i, (label, runs) in enumerate(panels):
        values = [100 * r.data.metrics["lif_accuracy"] for r in runs]
        acc.boxplot([values], positions=[i], widths=0.5, showfliers=False)
        acc.plot(i + rng.uniform(-0.18, 0.18, len(values)), values, ".", alpha=0.5, color=f"C{i}")
        factors = [r.data.metrics["scaling_factor"] for r in runs]
        grid = sorted({s for r in runs for s in searched_grid(r)})
        counts = [factors.count(s) for s in grid]
        fac.plot(grid, counts, "o-", color=f"C{i}", label=label.replace("\n", ": "))
    acc.axhline(100 * CONVERTED, color="0.4", linestyle="--", linewidth=1)
    acc.set_xticks(range(len(panels)), [label for label, _ in panels], fontsize=7)
    acc.set_ylabel("LIF accuracy, 200 fresh trials (%)")
    acc.set_title("networks at ≥ 95 %: converted")
    fac.set_xlabel("best scaling factor s = 1/λ")
    fac.set_ylabel("networks")
    fac.set_title("where the search's optimum lies")
    fac.legend(fontsize=6)
    save_figure(fig, name)


def _label(condition: tuple) -> str:
    """A condition's settings as ``name=value, …`` (the ones it has)."""
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(KEYS, condition, strict=True) if v)


def _short(condition: tuple) -> str:
    """The condition's settings that usually differ between experiments (training noise, noise mode)."""
    values = dict(zip(KEYS, condition, strict=True))
    return f"noise {values['model.noise_std']}, {values['spiking.noise_mode'] or 'voltage'}"


def _has(experiment: str, command: str) -> bool:
    try:
        return bool(finished_runs(experiment, command))
    except SystemExit:
        return False


def _condition(run) -> tuple:
    return tuple(run.data.params.get(k, "") for k in KEYS)


if __name__ == "__main__":
    main()
