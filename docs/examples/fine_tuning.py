"""Rescue a network that converts poorly: fine-tune the converted LIF network with surrogate gradients.

    python docs/examples/fine_tuning.py          # a softplus Go-NoGo network, N = 250 (the longest example)
    python docs/examples/fine_tuning.py --tiny   # N = 30, two fine-tuning batches: checks that it runs

Softplus networks convert worse than sigmoid ones (paper Fig. 7: 55/100 against 94/100). Here one is
trained, converted and then fine-tuned in one ``spikernn-run`` (``finetune.enabled=true``); the run's
numbers are its final, fine-tuned network's (``lif_accuracy``, ``scaling_factor``, the rates), with
the accuracy before fine-tuning on the same fresh trials (``lif_accuracy_before``) and the
conversion's own numbers (``transfer_lif_accuracy``, ``transfer_scaling_factor``, …).
``spikernn-finetune source=<run id>`` fine-tunes any converted model the same way.
"""

from __future__ import annotations

from example_tools import mlflow_client, parser, spikernn

args = parser(__doc__).parse_args()
tiny = [
    "model.n_units=30",
    "trainer.max_trials=40",
    "trainer.batch_size=20",
    "allow_untrained=true",  # the tiny network is not trained
    "transfer.trials_per_factor=4",
    "transfer.scaling_factors=[4,8]",
    "eval_trials=4",
    "finetune.n_batches=2",
    "finetune.batch_size=2",
    "finetune.validate_every=1",
    "finetune.validation_trials=4",
]
(run_id,) = spikernn(
    "run",
    "experiment=gonogo_n250",  # N = 250, τ 20–50 ms (paper Fig. 7)
    "model.activation=softplus",
    "finetune.enabled=true",  # after the factor search: BPTT through the LIF network (conf/finetune/default.yaml)
    "trainer.progress_bar=false",
    *(tiny if args.tiny else []),
)

run = mlflow_client().get_run(run_id)
m = run.data.metrics
print(f"converted:   s = {m['transfer_scaling_factor']:g}, LIF accuracy {m['transfer_lif_accuracy']:.2f}")
print(f"fine-tuned:  s = {m['scaling_factor']:.1f}, LIF accuracy {m['lif_accuracy']:.2f}", end=" ")
print(f"(before it, on the same trials: {m['lif_accuracy_before']:.2f})")
print(f"firing rates after: E {m['lif_exc_hz']:.1f} Hz, I {m['lif_inh_hz']:.1f} Hz")
print(f"fine-tuning took {m['finetune_seconds']:.0f} s, peak memory {m['peak_rss_mib']:.0f} MiB")
artifacts = sorted(a.path for a in mlflow_client().list_artifacts(run_id))
print("model files:", [a for a in artifacts if a.endswith(".pt")])
print("fine-tuning figures:", [a for a in artifacts if a.startswith(("finetuning", "readout")) and a.endswith(".png")])
losses = mlflow_client().get_metric_history(run_id, "finetune_loss")
print(f"fine-tuning curve: {len(losses)} batches, loss {losses[0].value:.3g} → {losses[-1].value:.3g}")
models = mlflow_client().search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'")
print("logged models:", sorted(m.name for m in models))
