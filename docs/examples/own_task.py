"""Train and convert a task of one's own: delayed Go-NoGo, defined in docs/examples/delayed_go.py.

    python docs/examples/own_task.py           # N = 200, trained to the criterion, the reference grid
    python docs/examples/own_task.py --tiny    # N = 20, a few trials: checks the plumbing

The task is not part of spikernn: its module only has to be importable (here: its folder on
PYTHONPATH) and a ``task`` group file has to name its class (``_target_``); ``hydra.searchpath``
adds that file to spikernn's configs. The commands then check its timing, train, convert, search the
scaling factor and score it as they do the paper's tasks, and log it to MLflow under its name.
"""

from __future__ import annotations

import os
from pathlib import Path

from example_tools import mlflow_client, parser, spikernn

args = parser(__doc__).parse_args()
here = Path(__file__).resolve().parent
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")]))

tiny = [
    "model.n_units=20",
    "trainer.max_trials=200",
    "transfer.trials_per_factor=4",
    "transfer.scaling_factors=[20,40]",
    "eval_trials=4",
    "allow_untrained=true",
]
(run_id,) = spikernn(
    "run",
    f"hydra.searchpath=[file://{here / 'conf'}]",  # conf/task/delayed_go.yaml: _target_: delayed_go.DelayedGo
    "task=delayed_go",
    "task.delay_ms=300",  # its timing is overridden like any task's (ms)
    "trainer.progress_bar=false",
    *(tiny if args.tiny else []),
)

run = mlflow_client().get_run(run_id)
metrics = run.data.metrics
print(f"MLflow run {run_id} ({run.data.tags['mlflow.runName']}), task {run.data.tags['task']}")
print(f"rate network: trained {run.data.tags['trained']}, accuracy {metrics['rate_accuracy']:.3f}")
print(f"LIF network: s = {metrics['scaling_factor']:g}, accuracy {metrics['lif_accuracy']:.3f} on fresh trials")
for name in ("NoGo", "Go"):
    print(f"  {name}: {metrics[f'lif_accuracy.{name}']:.3f}")
