"""The adaptive factor search against the full grid, on the same networks (issue 30).

For each seed a ``experiment=gonogo_n250_robust`` network (the Fig. 7 sigmoid networks trained for
robust conversion) is trained — by population training, ``--piece`` seeds at a time — and converted
twice, as ``spikernn-run`` converts it: the search draws from the run's search generator (seed + 200)
on the wide grid (10–75, 16 factors), once with every factor at 100 trials
(``transfer=factor_search_wide``) and once raced (``transfer=adaptive_wide``); each choice is then
scored on the same 200 fresh trials (seed + 300, the run's evaluation generator: the same factor
gives the same number). A network that misses the training criterion is recorded and not converted
(as ``spikernn-run`` refuses it).

Every network's row is appended to ``results/<name>_networks.csv`` as soon as it is done, and seeds
already there are skipped: an interrupted run loses only the piece it was in. ``--report`` writes
the paired comparison ``results/<name>.md`` and its figure from the CSV alone:

- converted (LIF accuracy ≥ 95 % on the fresh trials) by each search, Wilson intervals, McNemar's
  exact test on the discordant networks;
- the LIF accuracy of the two choices, paired (Wilcoxon signed-rank);
- the trials each search simulated, and how often both chose the same factor.

    python experiments/adaptive_vs_grid.py --seeds 1000 1100 --piece 20   # train + convert, resumable
    python experiments/adaptive_vs_grid.py --report                        # table + figure from the CSV
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from common import (
    CONVERTED,
    NetworkTable,
    converted_fraction,
    paired_comparison,
    run_config,
    save_figure,
    trained_in_pieces,
    write_table,
)

from spikernn.scoring import evaluate_spiking
from spikernn.tasks import get_task
from spikernn.transfer import search_scaling_factor, to_spiking

SEARCH_OFFSET, EVALUATION_OFFSET = 200, 300  # spikernn-run's search and evaluation generators: seed + these
FIELDS = [
    "seed", "trained", "trials_to_criterion",
    "grid_factor", "grid_trials", "grid_best_grid_accuracy", "grid_lif_accuracy", "grid_seconds",
    "adaptive_factor", "adaptive_trials", "adaptive_lif_accuracy", "adaptive_seconds",
]  # fmt: skip


def convert(network, task, factors, seed: int, search: str) -> tuple[float, int, float, float, float]:
    """(factor, trials simulated, best grid accuracy, fresh-trial LIF accuracy, seconds of the search)."""
    start = time.perf_counter()
    result = search_scaling_factor(
        network, task, factors, 100, torch.Generator().manual_seed(seed + SEARCH_OFFSET), search=search
    )
    seconds = time.perf_counter() - start
    score = evaluate_spiking(
        network, task, result.best_factor, 200, torch.Generator().manual_seed(seed + EVALUATION_OFFSET)
    )
    return result.best_factor, result.trials_simulated, result.best_grid_accuracy, score.lif_accuracy, seconds


def run(seeds: list[int], piece: int, name: str, experiment: str) -> None:
    table = NetworkTable(name, FIELDS)
    todo = [s for s in seeds if s not in table.done_seeds()]
    print(f"{len(seeds) - len(todo)} of {len(seeds)} seeds already in {table.path}; {len(todo)} to do", flush=True)
    base = run_config([f"experiment={experiment}"])
    task = get_task(base.task)
    factors = list(base.transfer.scaling_factors)
    torch.set_num_threads(1)
    for seed, member in trained_in_pieces(base, task, todo, piece):
        row = {"seed": seed, "trained": member.record.trained,
               "trials_to_criterion": member.record.trials_to_criterion}  # fmt: skip
        if member.record.trained:
            network = to_spiking(member.model, base.spiking, input_step_ms=task.step_ms)
            for search in ("grid", "adaptive"):
                factor, trials, best_grid, accuracy, seconds = convert(network, task, factors, seed, search)
                row |= {f"{search}_factor": factor, f"{search}_trials": trials, f"{search}_lif_accuracy": accuracy,
                        f"{search}_seconds": round(seconds, 2)}  # fmt: skip
                if search == "grid":
                    row["grid_best_grid_accuracy"] = best_grid
        table.append(row)
        print({k: row.get(k) for k in FIELDS}, flush=True)


def _float(value: str) -> float | None:
    return float(value) if value not in ("", None) else None


def report(name: str) -> None:
    table = NetworkTable(name, FIELDS)
    rows = table.rows()
    converted = [r for r in rows if r["trained"] == "True"]
    n = len(converted)
    grid = [float(r["grid_lif_accuracy"]) for r in converted]
    race = [float(r["adaptive_lif_accuracy"]) for r in converted]
    paired = paired_comparison(grid, race)
    trials_g = [int(r["grid_trials"]) for r in converted]
    trials_r = [int(r["adaptive_trials"]) for r in converted]
    secs_g = [float(r["grid_seconds"]) for r in converted]
    secs_r = [float(r["adaptive_seconds"]) for r in converted]
    same = sum(float(r["grid_factor"]) == float(r["adaptive_factor"]) for r in converted)
    seeds = sorted(int(r["seed"]) for r in rows)

    def mean_sd(values: list[float], scale: float = 1.0, unit: str = "") -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{scale * statistics.mean(values):.1f} ± {scale * sd:.1f}{unit}"

    write_table(
        name,
        f"Adaptive factor search vs the full wide grid on the same {n} trained networks",
        ["quantity", "full grid (transfer=factor_search_wide)", "adaptive (transfer=adaptive_wide)", "paired test"],
        [
            [
                "converted, 200 fresh trials",
                converted_fraction(paired.converted_a, n),
                converted_fraction(paired.converted_b, n),
                f"discordant: {paired.only_a} only grid, {paired.only_b} only adaptive; "
                f"McNemar exact p = {paired.mcnemar_p:.3g}",
            ],
            [
                "LIF accuracy, mean ± SD",
                mean_sd(grid, 100, " %"),
                mean_sd(race, 100, " %"),
                f"adaptive − grid = {100 * statistics.mean(paired.diffs):+.2f} points; "
                f"Wilcoxon signed-rank p = {paired.wilcoxon_p:.3g}",
            ],
            [
                "trials simulated per network",
                mean_sd(trials_g),
                mean_sd(trials_r),
                f"{statistics.mean(trials_g) / statistics.mean(trials_r):.2f}× fewer",
            ],
            [
                "search wall time per network (s), median",
                f"{statistics.median(secs_g):.1f}",
                f"{statistics.median(secs_r):.1f}",
                f"{statistics.median(secs_g) / statistics.median(secs_r):.2f}× faster (on a shared machine)",
            ],
            ["same factor chosen", f"{same}/{n}", "", ""],
        ],  # fmt: skip
        notes=(
            f"`experiment=gonogo_n250_robust`, seeds {seeds[0]}–{seeds[-1]} ({len(rows)} networks, {n} met the "
            "training criterion and were converted). Both searches draw from spikernn-run's search generator and "
            "each choice is scored on the same 200 fresh trials (voltage noise on); converted = LIF accuracy ≥ 95 %. "
            "Per-network numbers: "
            f"`results/{table.path.name}`. Made by `python experiments/adaptive_vs_grid.py --report`."
        ),
    )
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.2))
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=(2, n))  # 200 trials: steps of 0.5 points
    left.plot([40, 101], [40, 101], color="0.6", lw=0.8, ls="--", label="same accuracy")
    left.scatter(100 * np.array(grid) + jitter[0], 100 * np.array(race) + jitter[1], s=9, color="C0",
                 label=f"one network (n = {n}; jittered ± 0.15 points)")  # fmt: skip
    for axis in (left.axvline, left.axhline):
        axis(100 * CONVERTED, color="0.4", lw=0.8, ls=":")
    left.set_xlabel("LIF accuracy, full grid's choice (%)")
    left.set_ylabel("LIF accuracy, adaptive's choice (%)")
    low = min(100 * min(grid + race) - 2, 90)
    left.set_xlim(low, 101)
    left.set_ylim(low, 101)
    left.legend(loc="lower right", fontsize=7)
    left.set_title("fresh-trial accuracy (dotted: 95 %)", fontsize=8)
    bins = np.arange(0, max(trials_g) + 100, 50)
    right.hist(trials_g, bins=bins, color="0.5", label="full grid (16 × 100)")
    right.hist(trials_r, bins=bins, color="C1", label="adaptive")
    right.set_xlabel("trials simulated per network")
    right.set_ylabel("networks")
    right.legend(fontsize=7)
    right.set_title("cost of the search", fontsize=8)
    fig.tight_layout()
    save_figure(fig, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs=2, type=int, metavar=("FIRST", "STOP"), help="seeds FIRST … STOP − 1")
    parser.add_argument("--piece", type=int, default=20, help="networks trained together (one population)")
    parser.add_argument("--experiment", default="gonogo_n250_robust")
    parser.add_argument("--name", default="adaptive_vs_grid", help="results/<name>.md and <name>_networks.csv")
    parser.add_argument("--report", action="store_true", help="write the table and figure from the CSV")
    args = parser.parse_args()
    if args.seeds:
        run(list(range(*args.seeds)), args.piece, args.name, args.experiment)
    if args.report:
        report(args.name)


if __name__ == "__main__":
    main()
