"""The overrides of a tiny ``spikernn-run`` (N = 20, seconds), shared by the tests that launch one."""

TINY_RUN = [
    "model.n_units=20",
    "trainer.max_trials=200",
    "trainer.batch_size=20",
    "transfer.trials_per_factor=4",
    "eval_trials=4",
    "transfer.scaling_factors=[20,40]",
    "trainer.progress_bar=false",
]
