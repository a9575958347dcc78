"""``hydra/launcher=slurm``: the submitit Slurm launcher, resuming a launch from its finished jobs."""
