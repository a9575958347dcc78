"""Optuna sweeps through Hydra: the job's link to its trial, and the sweep's MLflow parent run.

The sweeper itself is the Hydra plugin ``hydra/sweeper=spikernn_optuna``
(``hydra_plugins.spikernn_sweeper``); configs are in ``conf/hparams_search/``.
"""

from spikernn.sweeps.trial_link import TrialLink

__all__ = ["TrialLink"]
