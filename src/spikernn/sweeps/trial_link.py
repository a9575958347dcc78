"""A job's handle on the Optuna trial it evaluates: intermediate reports, pruning, its MLflow run."""

from __future__ import annotations

import math
from dataclasses import dataclass

import optuna
from hydra.utils import instantiate

from spikernn.validation import ConfigError


@dataclass
class TrialLink:
    """Trial ``trial_number`` of study ``study_name`` in ``storage`` (set by the sweeper as
    ``optuna.*`` overrides); ``pruner`` decides from the reports whether to stop early.

    ``network``: this job is network ``optuna.network`` of a trial scored on several networks
    (``hydra.sweeper.networks_per_trial``): its run and result are recorded under that number, and it
    is never pruned (the trial's value is known only once every network has been scored)."""

    trial: optuna.Trial
    network: int | None = None

    @classmethod
    def from_config(cls, node: dict | None) -> TrialLink | None:
        """The link for an ``optuna`` config node, or None outside a sweep."""
        if not node or node.get("trial_number") is None:
            return None
        missing = [k for k in ("storage", "study_name") if not node.get(k)]
        if missing:
            raise ConfigError(f"optuna.{missing[0]} is required with optuna.trial_number")
        pruner = (
            instantiate(node["pruner"], _execution_whitelist_=("optuna.pruners.*",))
            if node.get("pruner")
            else optuna.pruners.NopPruner()
        )
        study = optuna.load_study(study_name=node["study_name"], storage=node["storage"], pruner=pruner)
        number = int(node["trial_number"])
        matches = [t for t in study.get_trials(deepcopy=False) if t.number == number]
        if not matches:
            raise ConfigError(f"optuna.trial_number: study {node['study_name']!r} has no trial {number}")
        network = node.get("network")
        return cls(optuna.Trial(study, matches[0]._trial_id), None if network is None else int(network))

    @property
    def number(self) -> int:
        return self.trial.number

    @property
    def study_name(self) -> str:
        return self.trial.study.study_name

    def _attr(self, name: str) -> str:
        return name if self.network is None else f"{name}.{self.network}"

    def attach_run(self, run_id: str) -> None:
        """Record the job's MLflow run on the trial, so that the sweeper can tag it with the outcome."""
        self.trial.set_user_attr(self._attr("mlflow_run_id"), run_id)

    def record_result(self, values: float | list[float]) -> None:
        """Record the job's objective value(s) on the trial (non-finite ones as None), so that a sweep
        killed between the job's end and telling Optuna keeps the result instead of re-running it."""
        items = values if isinstance(values, list) else [values]
        self.trial.set_user_attr(self._attr("result"), [v if math.isfinite(v) else None for v in items])

    def keep_going(self, step: int, value: float) -> bool:
        """Report ``value`` at ``step``; False (and the trial flagged ``pruned``) if the pruner says stop.
        One network of several is never pruned (nothing is reported)."""
        if self.network is not None:
            return True
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned", True)
            return False
        return True
