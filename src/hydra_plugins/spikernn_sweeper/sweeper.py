"""``hydra/sweeper=spikernn_optuna``: Hydra's Optuna sweeper with what long sweeps need.

- **Resumable**: re-running the same command loads the study and runs only what is missing to
  reach ``n_trials`` finished (complete or pruned) trials; a trial left RUNNING by a sweep on this
  machine that died is marked FAIL and its parameters are queued again.
- **Shared**: any number of sweep processes (or machines, with a database URL as ``storage``)
  work on one study; each counts the others' finished and running trials against the budget.
- **Pruned**: each job learns its trial (``optuna.*`` overrides) and may report intermediate
  values and ask Optuna's pruner (see ``spikernn.sweeps``); a job that stopped early is told PRUNED.
- **Tracked**: one MLflow parent run per study; every job's run is nested under it, and the best
  trial's parameters and value are put on the parent.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class SpikernnOptunaSweeperConf(OptunaSweeperConf):
    _target_: str = "hydra_plugins.spikernn_sweeper.sweeper.SpikernnOptunaSweeper"


ConfigStore.instance().store(
    group="hydra/sweeper", name="spikernn_optuna", node=SpikernnOptunaSweeperConf, provider="spikernn"
)


def _alive_here(worker: str | None) -> bool:
    """Whether the sweep process ``host:pid`` still runs (a worker on another host counts as alive)."""
    if not worker or ":" not in worker:
        return True
    host, pid = worker.rsplit(":", 1)
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale_trials(study: optuna.Study) -> list[int]:
    """Mark FAIL the RUNNING trials of dead sweep processes on this host; queue their parameters again."""
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _alive_here(trial.user_attrs.get("worker")):
            continue
        tell(study, trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        recovered.append(trial.number)
    return recovered


def _ask(study: optuna.Study) -> optuna.Trial:
    """A new trial, signed at once with this process (a RUNNING trial without a signature cannot be
    told from another machine's, so it is never recovered)."""
    trial = study.ask()
    trial.set_user_attr("worker", WORKER)
    return trial


def counted_trials(study: optuna.Study) -> int:
    """Trials that count against the budget: finished ones, and those other workers are running."""
    return len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))


def tell(study: optuna.Study, trial: optuna.Trial, **outcome: Any) -> None:
    """``study.tell``; the grid sampler asks the study to stop once its grid is covered, which
    raises outside an objective function (the trial is stored by then)."""
    try:
        study.tell(trial, **outcome)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise


def _create_or_load(name: str | None, storage: str | None, sampler: Any, directions: list[str]) -> optuna.Study:
    """The study, created if missing; workers starting together on a new SQLite file may race to
    create its schema, so that is retried."""
    for attempt in range(5):
        try:
            return optuna.create_study(
                study_name=name, storage=storage, sampler=sampler, directions=directions, load_if_exists=True
            )
        except SQLAlchemyError:
            if attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _sqlite_folder(storage: str | None) -> None:
    if storage and storage.startswith("sqlite:///"):
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


class ResumableStudySweep:
    """The sweep loop; the parsing of the search space and the launcher are Hydra's Optuna sweeper's."""

    def __init__(self, impl: OptunaSweeperImpl) -> None:
        self.impl = impl

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def _sampler(self, distributions: dict) -> tuple[Any, int]:
        """The sampler and the trial budget: a grid sampler's budget is at most its grid's size."""
        sampler = self.impl.sampler
        if isinstance(sampler, functools.partial) and sampler.func == optuna.samplers.GridSampler:
            grid = {name: self.impl._to_grid_sampler_choices(d) for name, d in distributions.items()}
            return sampler(grid), min(self.impl.n_trials, math.prod(len(choices) for choices in grid.values()))
        return sampler, self.impl.n_trials

    def sweep(self, arguments: list[str]) -> None:
        from spikernn.sweeps.parent_run import SweepParentRun  # the package, imported once Hydra runs

        impl = self.impl
        impl._process_searchspace_config()
        distributions, fixed_params, fixed_overrides = create_params_from_overrides(
            [*impl._parse_sweeper_params_config(), *arguments]
        )
        for name in fixed_params:
            distributions.pop(name, None)
        directions = impl._get_directions()
        _sqlite_folder(impl.storage)
        sampler, budget = self._sampler(distributions)
        study = _create_or_load(impl.study_name, impl.storage, sampler, directions)
        recovered = recover_stale_trials(study)
        done = len(study.get_trials(deepcopy=False, states=FINISHED))
        log.info(f"Study {study.study_name} ({impl.storage}): {done} finished trials, budget {budget}")
        if recovered:
            log.info(f"Trials {recovered} of an interrupted sweep were marked FAIL and queued again")
        parent = SweepParentRun.open(impl.config, study, distributions, budget)
        failures: list[BaseException] = []
        while (remaining := budget - counted_trials(study)) > 0:
            trials = [_ask(study) for _ in range(min(remaining, impl.n_jobs))]
            overrides = impl._configure_trials(trials, distributions, fixed_params, fixed_overrides)
            overrides = [
                (*o, *self._link_overrides(impl.storage, study, t, parent.run_id))
                for o, t in zip(overrides, trials, strict=True)
            ]
            returns = impl.launcher.launch(overrides, initial_job_idx=impl.job_idx)
            impl.job_idx += len(returns)
            for trial, ret in zip(trials, returns, strict=True):
                error = self._tell(study, trial, ret, len(directions), parent)
                if error is not None:
                    failures.append(error)
            if failures and len(failures) / len(returns) > impl.max_failure_rate:
                parent.finish(study, directions, failed=True)
                raise RuntimeError(f"{len(failures)} failed trial(s); first: {failures[0]!r}") from failures[0]
            failures.clear()
        parent.finish(study, directions, failed=False)
        self._save_results(study, directions)

    @staticmethod
    def _link_overrides(
        storage: str | None, study: optuna.Study, trial: optuna.Trial, parent_run_id: str
    ) -> Sequence[str]:
        """What a job needs to report to its trial (not possible with in-memory storage) and to
        nest its MLflow run."""
        link = (
            ()
            if storage is None
            else (
                f"+optuna.storage='{storage}'",
                f"+optuna.study_name='{study.study_name}'",
                f"+optuna.trial_number={trial.number}",
            )
        )
        return (*link, f"logger.parent_run_id={parent_run_id}")

    @staticmethod
    def _tell(
        study: optuna.Study, trial: optuna.Trial, ret: JobReturn, n_objectives: int, parent
    ) -> BaseException | None:
        """Tell Optuna how a job ended; returns the job's error if it failed."""
        attrs = study._storage.get_trial(trial._trial_id).user_attrs
        if ret.status != JobStatus.COMPLETED:
            tell(study, trial, state=TrialState.FAIL)
            parent.mark_child(attrs.get("mlflow_run_id"), "FAIL")
            return ret._return_value if isinstance(ret._return_value, BaseException) else RuntimeError("job failed")
        if attrs.get("pruned"):
            tell(study, trial, state=TrialState.PRUNED)
            parent.mark_child(attrs.get("mlflow_run_id"), "PRUNED")
            return None
        value = ret.return_value
        values = [float(v) for v in value] if n_objectives > 1 else [float(value)]
        tell(study, trial, values=values)
        parent.mark_child(attrs.get("mlflow_run_id"), "COMPLETE")
        return None

    def _save_results(self, study: optuna.Study, directions: list[str]) -> None:
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            results = {"name": "optuna", "best_params": None, "best_value": None}
            log.info("No trial completed (all pruned or failed)")
        elif len(directions) == 1:
            best = study.best_trial
            results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
            log.info(f"Best parameters: {best.params}; best value: {best.value}")
        else:
            results = {
                "name": "optuna",
                "solutions": [{"params": t.params, "values": t.values} for t in study.best_trials],
            }
            log.info(f"Pareto front: {len(study.best_trials)} trials")
        folder = Path(self.impl.config.hydra.sweep.dir)
        folder.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), folder / "optimization_results.yaml")


class SpikernnOptunaSweeper(OptunaSweeper):
    """Hydra's ``OptunaSweeper`` (same options) running :class:`ResumableStudySweep`."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sweeper = ResumableStudySweep(self.sweeper)
