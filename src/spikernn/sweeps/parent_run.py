"""The MLflow parent run of a sweep: one per Optuna study, reused when the sweep is resumed; it
closes the runs of its trials that were killed (at the latest when the study is resumed)."""

from __future__ import annotations

import optuna
from mlflow.entities import Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from spikernn.tracking.parent_run import ParentRun, tracking_store
from spikernn.tracking.run import close_run, flatten, process_tags
from spikernn.tracking.store import retrying

PARENT_ATTR = "mlflow_parent_run_id"


def _exists(client: MlflowClient, run_id: str) -> bool:
    """Whether this store holds run ``run_id`` (a study may have moved to another store)."""
    try:
        client.get_run(run_id)
    except MlflowException:
        return False
    return True


def trial_runs(attrs: dict) -> list[str]:
    """The MLflow runs of a trial's job(s): ``mlflow_run_id``, or ``mlflow_run_id.<k>`` per network."""
    return [v for k, v in sorted(attrs.items()) if k.split(".")[0] == "mlflow_run_id" and v]


class SweepParentRun(ParentRun):
    """A sweep's parent run (:class:`spikernn.tracking.parent_run.ParentRun`): one per study."""

    @classmethod
    def open(cls, config: DictConfig, study: optuna.Study, distributions: dict, n_trials: int) -> SweepParentRun:
        """The study's parent run if this store has it (resumed sweep), else a new one."""
        client, experiment_id = tracking_store(config)
        known = study.user_attrs.get(PARENT_ATTR)
        # n_trials is a tag, not a param: a resumed sweep may ask for more trials (params are immutable)
        current = {**process_tags(), "n_trials": str(n_trials)}  # this sweep process holds it now
        if known and _exists(client, known):
            retrying(lambda: client.update_run(known, status="RUNNING"))
            retrying(lambda: client.log_batch(known, tags=[RunTag(k, v) for k, v in current.items()]))
            return cls(client, known, experiment_id)
        tags = {**current, "command": "sweep", "optuna_study": study.study_name}
        parent = cls.create(config, f"sweep {study.study_name}", tags)
        params = {
            "search_space": {name: repr(d) for name, d in distributions.items()},
            "directions": [d.name for d in study.directions],
            "objective": OmegaConf.select(config, "objective", default=None),
            "sweeper": {"sampler": type(study.sampler).__name__, "storage": config.hydra.sweeper.storage},
        }
        items = [Param(k, v) for k, v in flatten(params).items()]
        retrying(lambda: client.log_batch(parent.run_id, params=items))
        study.set_user_attr(PARENT_ATTR, parent.run_id)
        return parent

    def mark_child(self, child_run_id: str | None, state: str) -> None:
        """Tag a trial's run with how Optuna counted it (COMPLETE, PRUNED, FAIL)."""
        if child_run_id:
            retrying(lambda: self.client.set_tag(child_run_id, "optuna_state", state))

    def close_children(self, study: optuna.Study) -> list[str]:
        """Close KILLED the RUNNING runs of this sweep whose trial Optuna no longer counts as running
        (its job or sweep was killed); each gets its trial's state as ``optuna_state``."""
        running = retrying(
            lambda: self.client.search_runs(
                [self.experiment_id],
                f"tags.`mlflow.parentRunId` = '{self.run_id}' and attributes.status = 'RUNNING'",
                max_results=1000,
            )
        )
        states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
        closed = []
        for run in running:
            number = run.data.tags.get("optuna_trial", "")
            state = states.get(int(number)) if number.isdigit() else None
            if state == TrialState.RUNNING:
                continue
            tags = {"optuna_state": state.name if state else "FAIL", "interrupted": "its sweep or job was killed"}
            close_run(self.client, run.info.run_id, "KILLED", tags)
            closed.append(run.info.run_id)
        return closed

    def _trials_task(self) -> dict[str, str]:
        """``{"task": …}`` from a trial's run when the parent has no task yet (a sweep of a trained
        model's factor reads the task from the model, not from its config), else nothing. Called
        through ``retrying`` as a whole."""
        if self.client.get_run(self.run_id).data.tags.get("task"):
            return {}
        children = self.client.search_runs(
            [self.experiment_id], f"tags.`mlflow.parentRunId` = '{self.run_id}' and tags.task != ''", max_results=1
        )
        return {"task": children[0].data.tags["task"]} if children else {}

    def log_trials_table(self, study: optuna.Study) -> None:
        """``trials.json`` (MLflow's Evaluation/table view, ``MlflowClient.load_table``): one row per
        trial — number, state, each swept parameter, each objective value (named as the study names
        them), and its run(s) — replaced whenever the sweep finishes or is stopped, so a resumed sweep's
        table holds every trial."""
        trials = study.get_trials(deepcopy=False)
        names = study.metric_names or [f"value_{i}" for i in range(len(study.directions))]
        params = sorted({name for t in trials for name in t.params})
        table: dict[str, list] = {"trial": [t.number for t in trials], "state": [t.state.name for t in trials]}
        table |= {name: [t.params.get(name) for t in trials] for name in params}
        for i, name in enumerate(names):
            table[name] = [t.values[i] if t.values else None for t in trials]
        table["mlflow_run_ids"] = [" ".join(trial_runs(t.user_attrs)) for t in trials]
        self.log_table(table, "trials.json")

    def finish(self, study: optuna.Study, directions: list[str], status: str) -> None:
        """Counts of trials by state, the best trial's params (tags ``best.*``) and value, the task
        (from a trial's run if not known), the table of trials, final status."""
        counts = {state.name.lower(): 0 for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
        for trial in study.get_trials(deepcopy=False):
            if trial.state.name.lower() in counts:
                counts[trial.state.name.lower()] += 1
        metrics = {f"trials_{name}": float(count) for name, count in counts.items()}
        tags: dict[str, str] = {}
        if counts["complete"] and len(directions) == 1:
            best = study.best_trial
            metrics["best_value"] = float(best.value)
            tags = {"best.trial": str(best.number), **{f"best.{n}": str(v) for n, v in best.params.items()}}
        elif counts["complete"]:
            tags = {"pareto_trials": str([t.number for t in study.best_trials])}
        tags |= retrying(self._trials_task)
        self.log_trials_table(study)
        self.log(metrics, tags)
        self.end(status)
