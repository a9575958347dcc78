"""Sweep the refractory period of one trained network (paper Fig. 6A) and read the sweep back.

    python docs/examples/refractory_sweep.py           # N = 200 Go-NoGo, the paper's 20 refractory periods
    python docs/examples/refractory_sweep.py --tiny    # N = 30, three refractory periods, a few trials

The sweep is an Optuna study run by the Hydra sweeper ``spikernn_optuna`` (grid sampler here):
one ``spikernn-convert`` job per refractory period, each searching the scaling factor again. The
study lives in ``<output dir>/optuna.db``; in MLflow it is one parent run with a nested run per job.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from example_tools import mlflow_client, output_dir, parser, spikernn

from spikernn.io import save_rate_model
from spikernn.rate import RateRNNConfig
from spikernn.rate.training import TrainerConfig, train_rate_model
from spikernn.tasks import get_task

args = parser(__doc__).parse_args()

# a trained network to sweep (any rate_model.pt, .mat file or MLflow run id would do)
task = get_task("go_nogo")
training = TrainerConfig(max_trials=100 if args.tiny else 6000, batch_size=8, progress_bar=False)
model, record = train_rate_model(task, RateRNNConfig(**({"n_units": 30} if args.tiny else {})), training, seed=2)
stored = {"task": task.name, "trained": record.trained}  # what spikernn-train stores with a model
source = save_rate_model(Path(output_dir()) / "examples" / "sweep_source.pt", model, stored)

# the sweep; --tiny replaces the paper's grid (conf/hparams_search/refractory.yaml) by three points
# and allows converting its untrained network
tiny = [
    "allow_untrained=true",
    "spiking.t_ref_ms=choice(0.0,2.0,10.0)",
    "transfer.trials_per_factor=4",
    "transfer.scaling_factors=[20,40]",
    "eval_trials=4",
]
spikernn("convert", "hparams_search=refractory", f"source={source}", *(tiny if args.tiny else []), multirun=True)

# 1. Optuna: the study, one trial per grid point; its name starts with "refractory <folder>/<model file>"
storage = f"sqlite:///{Path(output_dir()).resolve() / 'optuna.db'}"
label = f"{source.parent.name}/{source.name}"
(name,) = [n for n in optuna.get_all_study_names(storage) if n.startswith(f"refractory {label} [")]
study = optuna.load_study(study_name=name, storage=storage)
frame = study.trials_dataframe(attrs=("number", "params", "value", "state"))
print(frame.sort_values("params_spiking.t_ref_ms").to_string(index=False))
print(f"best: t_ref = {study.best_params['spiking.t_ref_ms']} ms, LIF accuracy {study.best_value:.2f}")
print(f"browse it: optuna-dashboard {storage}")

# 2. MLflow: the sweep's parent run holds the search space and the best trial; the jobs are nested
client = mlflow_client()
experiment = client.get_experiment_by_name("spikernn")
(parent,) = client.search_runs(
    [experiment.experiment_id], filter_string=f"tags.command = 'sweep' and tags.optuna_study = '{name}'"
)
best = {k: v for k, v in parent.data.tags.items() if k.startswith("best.")}
print(f"parent run {parent.info.run_id}: {best}, best_value {parent.data.metrics['best_value']:.2f}")
jobs = client.search_runs([experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
for job in sorted(jobs, key=lambda r: float(r.data.params["spiking.t_ref_ms"])):
    m = job.data.metrics
    print(
        f"t_ref {job.data.params['spiking.t_ref_ms']:>4} ms: s = {m['scaling_factor']:g}, "
        f"LIF accuracy {m['lif_accuracy']:.2f} ({job.data.tags['optuna_state']})"
    )
