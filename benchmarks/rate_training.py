"""Time rate-network training to the paper's criterion (SPEC §1) with ``train_rate_model``.

For each run (task:batch size:learning rate:trial budget): wall time, trials and parameter
updates until the stopping criterion was met (or the budget ran out), milliseconds per trial, and
the last evaluation. Default runs: Go-NoGo N = 200 (τ 20–100 ms) at batch 1 (the paper's mode and
our default) and batch 8, and Mante N = 250 (τ 20–50 ms) at batch 1, lr 0.01 (the paper's mode)
and at batch 8, lr 0.03 (``experiment=mante``). Figures are printed, never asserted; the
machine's load average is printed with them.

    python benchmarks/rate_training.py                          # the four default runs
    python benchmarks/rate_training.py --runs mante:8:0.03:20000  # one run
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import torch

from spikernn.rate import RateRNNConfig
from spikernn.rate.training import TrainerConfig, train_rate_model
from spikernn.tasks import get_task

DEFAULT_RUNS = ["go_nogo:1:0.01:6000", "go_nogo:8:0.01:6000", "mante:1:0.01:6000", "mante:8:0.03:20000"]
MODELS = {
    "go_nogo": RateRNNConfig(n_units=200),
    "mante": RateRNNConfig(n_units=250, n_inputs=4, taus_ms=[20.0, 50.0]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="task:batch:lr:budget")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these sizes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    header = f"{'task':>8} {'N':>4} {'batch':>5} {'lr':>5} {'budget':>6} {'trained':>7} {'trials':>7} {'updates':>7} "
    header += f"{'wall s':>8} "
    header += f"{'ms/trial':>8} {'eval loss':>9} {'eval acc':>8}  load average"
    print(header)
    for spec in args.runs:
        name, batch, lr, budget = spec.split(":")
        batch, lr, budget = int(batch), float(lr), int(budget)
        config = MODELS[name]
        training = TrainerConfig(max_trials=budget, batch_size=batch, learning_rate=lr, progress_bar=False)
        start = time.perf_counter()
        _, record = train_rate_model(get_task(name), config, training, seed=args.seed)
        wall = time.perf_counter() - start
        updates = -(-record.trials_to_criterion // batch) if record.trained else -(-budget // batch)
        trials = record.trials_to_criterion if record.trained else updates * batch
        loss = record.eval_loss[-1] if record.eval_loss else float("nan")
        accuracy = record.eval_accuracy[-1] if record.eval_accuracy else float("nan")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"{name:>8} {config.n_units:>4} {batch:>5} {lr:>5g} {budget:>6} {record.trained!s:>7} {trials:>7} "
            f"{updates:>7} {wall:>8.1f} {wall / trials * 1000:>8.1f} {loss:>9.3f} {accuracy:>8.2f}  {load}",
            flush=True,
        )
    print("trials: to criterion if trained, else seen when the budget ran out; updates = ⌈trials / batch⌉")


if __name__ == "__main__":
    main()
