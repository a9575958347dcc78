"""Throughput of population training against networks trained one after another (issue: train
populations of networks at once).

For one condition (task, N, τ range, batch, lr), it trains:

1. ``--alone`` networks one after another with the pre-population trainer (torch autograd, one
   network per Lightning run: ``trainer.backend=autograd``) — the baseline;
2. the same number one after another with the fused kernel (``trainer.backend=fused``, a population
   of one);
3. ``--members`` networks as one population (fused kernel, members spread over the cores).

Each prints wall time, seconds per network, networks per hour, trials to criterion and peak RSS;
the speed-up of (3) is its networks per hour over (1)'s. The baseline's per-network time is scaled
from its subset (trials to criterion vary by seed; the subset's mean is printed). Figures are
printed, never asserted; the load average is printed with them.

    python benchmarks/population_training.py                          # Go-NoGo N = 250, τ 20–50, batch 1, K = 100
    python benchmarks/population_training.py --task mante --batch 8 --lr 0.03 --budget 20000
    python benchmarks/population_training.py --members 20 --alone 2   # quicker
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time
import warnings

import torch

from spikernn.rate import RateRNNConfig
from spikernn.rate.training import TrainerConfig, member_bytes, train_population
from spikernn.tasks import get_task


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(label: str, wall: float, records: list, load_before: float) -> float:
    """Print one row; returns the wall time per network-trial (s): members need different numbers
    of trials, so networks per hour compare fairly only at equal trials."""
    n = len(records)
    trained = sum(r.trained for r in records)
    trials = [r.trials_to_criterion for r in records if r.trained]
    mean_trials = sum(trials) / len(trials) if trials else float("nan")
    per_trial = wall / max(1, sum(r.trials_seen[-1] for r in records if r.trials_seen))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{label:<34} {n:>4} {wall:>9.1f} {wall / n:>9.2f} {3600 * n / wall:>9.0f} {trained:>4}/{n:<4} "
        f"{mean_trials:>8.0f} {1000 * per_trial:>9.2f} {_peak_rss_mib():>9.0f}  {load_before:.2f} → {load}",
        flush=True,
    )
    return per_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="go_nogo", choices=["go_nogo", "mante", "xor"])
    parser.add_argument("--n-units", type=int, default=250)
    parser.add_argument("--tau-ms", type=float, nargs="+", default=[20.0, 50.0])
    parser.add_argument("--activation", default="sigmoid")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--budget", type=int, default=6000)
    parser.add_argument("--members", type=int, default=100, help="population size K")
    parser.add_argument("--alone", type=int, default=3, help="networks trained alone per baseline")
    parser.add_argument("--seed", type=int, default=0, help="first seed; members use seed … seed + K − 1")
    args = parser.parse_args()

    torch.set_num_threads(1)  # as the commands do; the fused kernel uses numba's threads
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    task = get_task(args.task)
    config = RateRNNConfig(
        n_units=args.n_units, n_inputs=task.n_inputs, taus_ms=args.tau_ms, activation=args.activation
    )

    def training(backend: str) -> TrainerConfig:
        return TrainerConfig(
            max_trials=args.budget, batch_size=args.batch, learning_rate=args.lr, backend=backend, progress_bar=False
        )

    print(
        f"{task.name}, N = {args.n_units}, τ {args.tau_ms} ms, {args.activation}, batch {args.batch}, lr {args.lr}, "
        f"budget {args.budget}; cpus {os.cpu_count()}; memory per member "
        f"{member_bytes(config, task, args.batch) / 2**20:.1f} MiB"
    )
    print(
        f"{'how':<34} {'nets':>4} {'wall s':>9} {'s / net':>9} {'nets / h':>9} {'trained':>9} "
        f"{'trials':>8} {'ms/trial':>9} {'RSS MiB':>9}  load average"
    )
    seeds = list(range(args.seed, args.seed + args.members))
    results, per_trial = {}, {}
    for label, backend in (("alone, autograd (baseline)", "autograd"), ("alone, fused kernel", "fused")):
        load = os.getloadavg()[0]
        start = time.perf_counter()
        records = [train_population(task, [(config, s)], training(backend))[0].record for s in seeds[: args.alone]]
        results[label] = time.perf_counter() - start
        per_trial[label] = _row(label, results[label], records, load)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    members = train_population(task, [(config, s) for s in seeds], training("fused"))
    wall = time.perf_counter() - start
    population = _row(f"population of {args.members}, fused kernel", wall, [m.record for m in members], load)
    baseline = results["alone, autograd (baseline)"] / args.alone
    base_trial = per_trial["alone, autograd (baseline)"]
    print(
        f"throughput: population {baseline * args.members / wall:.1f}× the baseline "
        f"(fused alone {baseline * args.alone / results['alone, fused kernel']:.1f}×); "
        "baseline seconds per network scaled from its subset\n"
        f"per network-trial: population {base_trial / population:.1f}× the baseline "
        f"(fused alone {base_trial / per_trial['alone, fused kernel']:.1f}×)"
    )


if __name__ == "__main__":
    main()
