"""Optuna sweeps through Hydra: the job's link to its trial, the sweep's MLflow parent run, and names.

The sweeper itself is the Hydra plugin ``hydra/sweeper=spikernn_optuna``
(``hydra_plugins.spikernn_sweeper``); configs are in ``conf/hparams_search/``.
"""

from spikernn.sweeps.names import register_resolvers

register_resolvers()  # study names in conf/hparams_search/

__all__ = ["TrialLink"]


def __getattr__(name: str) -> object:
    """``TrialLink`` on first use: it imports Optuna (~1 s), which a command's start does not need."""
    if name == "TrialLink":
        from spikernn.sweeps.trial_link import TrialLink

        return TrialLink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
