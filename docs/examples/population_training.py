"""Paper Fig. 7 in one population: sigmoid, softplus and clipped-ReLU Go-NoGo networks trained together.

    python docs/examples/population_training.py          # N = 250, τ 20–50 ms, 3 activations × 2 seeds
    python docs/examples/population_training.py --tiny   # N = 30, a few trials: checks that it runs

``train_population`` trains K networks of the same size in one loop (one numba kernel call per
step for all of them); each member ends exactly as if trained alone with its seed.
"""

from __future__ import annotations

import torch
from example_tools import parser

from spikernn.rate import RateRNNConfig
from spikernn.rate.training import TrainerConfig, train_population
from spikernn.tasks import get_task
from spikernn.transfer import search_scaling_factor, to_spiking
from spikernn.transfer_config import default_grid

args = parser(__doc__).parse_args()
task = get_task("go_nogo")
n_units, seeds = (30, [0]) if args.tiny else (250, [0, 1])
activations = ["sigmoid", "softplus", "clipped_relu"]

# the members: (config, seed) pairs; they must share N, anything else in the config may differ
members = [
    (RateRNNConfig(n_units=n_units, activation=phi, taus_ms=[20.0, 50.0]), seed)
    for phi in activations
    for seed in seeds
]
training = TrainerConfig(max_trials=40, batch_size=20, progress_bar=False) if args.tiny else TrainerConfig()
results = train_population(task, members, training)  # the paper's mode: batch 1, Adam lr 0.01

print("| φ | seed | trained | trials to criterion | best s | LIF accuracy (search) |")
print("|---|---|---|---|---|---|")
trials_per_factor = 4 if args.tiny else 100
for (config, seed), member in zip(members, results, strict=True):
    record = member.record  # the member's own stopping-rule history; record.failure if it was dropped
    # each network is converted on its activation's reference grid (sigmoid: 20–75; others: 4–26)
    grid = default_grid(config.activation)[:2] if args.tiny else default_grid(config.activation)
    search = search_scaling_factor(
        to_spiking(member.model), task, grid, trials_per_factor, generator=torch.Generator().manual_seed(seed)
    )
    print(
        f"| {config.activation} | {seed} | {record.trained} | {record.trials_to_criterion or '–'} | "
        f"{search.best_factor:g} | {search.best_accuracy:.0%} |"
    )
print(f"population of {results[0].population_size}: {results[0].seconds:.1f} s of training per member")
