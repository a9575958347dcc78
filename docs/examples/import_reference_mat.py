"""Convert a rate network trained by the original code (rkim35/spikeRNN), saved in its .mat layout.

    python docs/examples/import_reference_mat.py path/to/model.mat   # a Go-NoGo network of the original code
    python docs/examples/import_reference_mat.py                     # no file: make a stand-in first
    python docs/examples/import_reference_mat.py --tiny              # stand-in of N = 30, a few trials

Without a file, a network is trained with spikernn and written in the original code's layout by
``spikernn.io.export_mat``, to stand in for one from the original code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from example_tools import output_dir, parser, spikernn

from spikernn.io import export_mat, import_mat
from spikernn.rate import RateRNNConfig
from spikernn.rate.training import TrainerConfig, train_rate_model
from spikernn.tasks import get_task
from spikernn.transfer import search_scaling_factor, to_spiking
from spikernn.transfer_config import default_grid

cli = parser(__doc__)
cli.add_argument("mat", nargs="?", help="a .mat file saved by the original code's rate/main.py")
args = cli.parse_args()
task = get_task("go_nogo")

if args.mat:
    mat = Path(args.mat)
else:  # the stand-in: train (batch 8: a few seconds at N = 200) and export in the reference layout
    size = {"n_units": 30} if args.tiny else {}
    training = TrainerConfig(max_trials=100 if args.tiny else 6000, batch_size=8, progress_bar=False)
    model, record = train_rate_model(task, RateRNNConfig(**size), training, seed=0)
    mat = export_mat(Path(output_dir()) / "examples" / "reference_go_nogo.mat", model)
    print(f"stand-in written to {mat} (trained: {record.trained})")

# 1. The command: a .mat file carries no task, so name it. The factor search, the files and the
#    MLflow run are those of any conversion.
search_size = ["transfer.trials_per_factor=4", "transfer.scaling_factors=[20,40]", "eval_trials=4"] if args.tiny else []
spikernn("convert", f"source={mat}", "task=go_nogo", *search_size)

# 2. The same in Python. The original code's files have no activation key: spikernn assumes
#    sigmoid unless told (import_mat(path, activation="softplus")).
model = import_mat(mat)
n_inh = int(model.inhibitory.sum())
print(
    f"imported: N = {model.n_units} ({model.n_units - n_inh} E / {n_inh} I), τ_d {model.taus_ms().mean():.1f} ms mean"
)
network = to_spiking(model)  # W_eff, W_in, W_out and τ_d copied; b_out dropped
factors = [20.0, 40.0] if args.tiny else default_grid(model.config.activation)
result = search_scaling_factor(
    network, task, factors, trials_per_factor=4 if args.tiny else 100, generator=torch.Generator().manual_seed(0)
)
print(f"best s = {result.best_factor:g}: {result.best_accuracy:.2f} on {result.trials_per_factor} trials per factor")
