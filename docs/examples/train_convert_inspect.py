"""Train a Go-NoGo rate RNN, convert it to a LIF RNN, and read both runs back from MLflow.

python docs/examples/train_convert_inspect.py          # N = 200, the paper's settings (about a minute)
python docs/examples/train_convert_inspect.py --tiny   # N = 30, a few trials: checks the plumbing
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
from example_tools import mlflow_client, parser, spikernn

from spikernn.io import load_rate_model

args = parser(__doc__).parse_args()
train_size = (
    ["model.n_units=30", "trainer.max_trials=200", "trainer.batch_size=20", "eval_trials=4"] if args.tiny else []
)
# --tiny: the network does not meet the training criterion; converting it must be asked for (allow_untrained)
search_size = [
    "transfer.trials_per_factor=4",
    "transfer.scaling_factors=[20,40]",
    "eval_trials=4",
    "allow_untrained=true",
]
search_size = search_size if args.tiny else []

# 1. Train (batch 1, Adam lr 0.01, until the paper's criterion or 6000 trials) and log the run.
(train_id,) = spikernn("train", "task=go_nogo", "seed=1", "trainer.progress_bar=false", *train_size)

# 2. Convert: the model is taken from the training run's artifacts by its run id; the scaling
#    factor s = 1/λ is searched over the reference grid (20, 25, …, 75), 100 trials per factor.
(convert_id,) = spikernn("convert", f"source={train_id}", *search_size)

# 3. Inspect the runs with MLflow's Python API.
client = mlflow_client()
train, convert = client.get_run(train_id), client.get_run(convert_id)
print(
    "trained:", train.data.tags["trained"], "| trials to criterion:", train.data.metrics.get("trials_to_criterion", "–")
)
print("rate accuracy:", train.data.metrics["rate_accuracy"], "| N =", train.data.params["model.n_units"])

# the learning curve: one point per evaluation of the stopping rule (step = trials seen)
for point in client.get_metric_history(train_id, "eval_accuracy"):
    print(f"  after {point.step:5d} trials: eval accuracy {point.value:.2f}")

# the factor search: a table with one row per s (and one metric lif_accuracy_s<s> each), then the
# chosen factor on fresh trials
with tempfile.TemporaryDirectory() as tmp:
    table_file = client.download_artifacts(convert_id, "lif_accuracy_by_scaling_factor.json", tmp)
    search = json.loads(Path(table_file).read_text())
print("LIF accuracy by s:", {s if s % 1 else int(s): accuracy for s, accuracy in search["data"]})
m = convert.data.metrics
print(f"chosen s = {m['scaling_factor']:g} (λ = 1/{m['scaling_factor']:g}): LIF accuracy {m['lif_accuracy']:.2f}")
print(f"spiking firing rates: E {m['lif_exc_hz']:.1f} Hz, I {m['lif_inh_hz']:.1f} Hz")

# every run of the experiment as a pandas table (params.*, metrics.*, tags.* columns)
mlflow.set_tracking_uri(client.tracking_uri)
table = mlflow.search_runs([convert.info.experiment_id], filter_string="tags.command = 'spikernn-convert'")
print(table[["run_id", "params.spiking.t_ref_ms", "metrics.scaling_factor", "metrics.lif_accuracy"]].to_string())

# the run's files are artifacts: download the converted model and its summary, and load them
with tempfile.TemporaryDirectory() as tmp:
    model_path = client.download_artifacts(convert_id, "converted_model.pt", tmp)
    model, stored = load_rate_model(model_path)
    summary = json.loads(Path(client.download_artifacts(convert_id, "summary.json", tmp)).read_text())
print("stored with the model: s =", stored["scaling_factor"], "| t_ref_ms =", stored["spiking"]["t_ref_ms"])
print("summary keys:", sorted(summary)[:8], "…")
