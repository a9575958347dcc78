"""Hydra sweeper ``spikernn_optuna``: Hydra's Optuna sweeper made resumable, prunable and tracked."""
