"""``hydra/sweeper=spikernn_optuna``: Hydra's Optuna sweeper with what long sweeps need.

- **Resumable**: re-running the same command loads the study and runs only what is missing to
  reach ``n_trials`` finished (complete or pruned) trials. The study's name carries a hash of the
  command's non-swept overrides, so the same command with other settings starts its own study.
- **Recovering**: the sweeper records an Optuna heartbeat for its running trials (RDB storages,
  every ``heartbeat_interval`` s); a trial whose heartbeat stopped for ``grace_period`` s (its
  sweep died, on any machine) is marked FAIL and its parameters are queued again (Optuna's
  ``RetryHeartbeatStaleTrialCallback``, ``max_retry`` times). A trial of a dead sweep process on
  this host is recovered at once. A job that finished before its sweep died keeps its result.
- **Failing loudly**: a job that fails or returns a NaN/inf objective is a FAIL trial; after
  ``max_failures`` of them (per sweep command) the sweep stops with a message naming the first.
- **Shared**: any number of sweep processes (or machines, with a database URL as ``storage``)
  work on one study; each counts the others' finished and running trials against the budget.
  A seeded sampler draws trial ``n`` from seed (``seed``, ``n``), so a resumed or second worker
  never replays another's points.
- **Pruned**: each job learns its trial (``optuna.*`` overrides) and may report intermediate
  values and ask Optuna's pruner (see ``spikernn.sweeps``); a job that stopped early is told PRUNED.
- **Scored on several networks**: with ``networks_per_trial`` K > 1 each trial's settings are run
  on K networks (seeds ``seed``, ``seed`` + 1, …; the same seeds in every trial, so trials are
  compared on the same networks), launched together (``hydra/launcher=population`` trains them as
  one population); the trial's value is the fraction of them whose objective is ≥ ``converted_at``
  (e.g. converted networks: LIF accuracy ≥ 0.95), or their mean when that is null. Each network's
  value and MLflow run are kept on the trial (user attributes ``result.<k>``, ``mlflow_run_id.<k>``).
- **Tracked**: one MLflow parent run per study; every job's run is nested under it, and the best
  trial's parameters and value are put on the parent. Runs of killed trials and of an interrupted
  sweep are closed KILLED (at the latest when the study is resumed); SIGTERM or Ctrl-C end the
  sweep with exit code 128 + signal.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import os
import re
import socket
import sqlite3
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import DictConfig, OmegaConf
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

from spikernn.run_config import WHERE_AND_HOW

log = logging.getLogger(__name__)


def quiet_optuna() -> None:
    """The sweeper records heartbeats itself (ask/tell, not Study.optimize) and uses Optuna's stale-
    trial tools knowingly: no warnings about either. Installed when the sweep starts: Hydra imports
    plugins inside ``warnings.catch_warnings``, which drops filters set at import."""
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    warnings.filterwarnings("ignore", message=".*fail_stale_trials is experimental", category=ExperimentalWarning)
    warnings.filterwarnings("ignore", message="RetryHeartbeatStaleTrialCallback is experimental")


WORKER = f"{socket.gethostname()}:{os.getpid()}"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
RDB_SCHEMES = ("sqlite:", "postgresql", "mysql", "oracle", "mssql")
# overrides that do not change what a trial computes: not part of the study's identity (objective
# and allow_untrained do: another objective or allowing untrained networks is another study)
NOT_SETTINGS = ("hydra.", "+optuna.", *(key if "." in key else f"{key}." for key in WHERE_AND_HOW))


@dataclass
class SpikernnOptunaSweeperConf(OptunaSweeperConf):
    _target_: str = "hydra_plugins.spikernn_sweeper.sweeper.SpikernnOptunaSweeper"
    n_jobs: int = 1
    # Hydra's per-batch rule (stop when more than this fraction of a batch failed); 1.0 = off,
    # max_failures counts instead
    max_failure_rate: float = 1.0
    max_failures: int = 3  # failed trials (error, NaN objective) after which the sweep stops
    heartbeat_interval: int = 60  # s between heartbeats of running trials (RDB storages)
    grace_period: int | None = None  # s without heartbeat before a trial is stale (None: 2 × interval)
    max_retry: int = 3  # times a stale trial's parameters are queued again
    networks_per_trial: int = 1  # K networks (seeds seed … seed + K − 1) per trial; its value aggregates theirs
    converted_at: float | None = None  # K > 1: value = fraction of networks with objective ≥ this (null: mean)


ConfigStore.instance().store(
    group="hydra/sweeper", name="spikernn_optuna", node=SpikernnOptunaSweeperConf, provider="spikernn"
)


class SweepFailed(RuntimeError):
    """Too many trials of a sweep failed."""


def hydra_value(value: Any) -> str:
    """``value`` as an override value that Hydra's parser reads back unchanged (quotes, spaces,
    backslashes and ``${`` in strings included)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", str(value))  # \' is a quote; \\' a backslash
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text).replace("${", "\\${")
    return f"'{text}'"


def fixed_lines(lines: list[str], fixed_params: dict[str, Any]) -> list[str]:
    """The non-swept overrides among ``lines`` as the user wrote them (Hydra parsed them once, so
    they parse again; re-writing their values could break quoting); the last one per key wins."""
    last: dict[str, str] = {}
    deletions = []
    for override in OverridesParser.create().parse_overrides(lines):
        if override.is_delete():
            deletions.append(override.input_line)
        elif override.get_key_element() in fixed_params:
            last[override.get_key_element()] = override.input_line
    return [*last.values(), *deletions]


def study_identity(name: str | None, lines: list[str]) -> tuple[str | None, list[str]]:
    """The study's name, ``<name> [<hash of the non-swept overrides>]``, and those overrides; the
    same command with other settings (``spiking.t_ref_ms=10``) gets its own study."""
    settings = sorted(line for line in lines if not line.lstrip("~+").startswith(NOT_SETTINGS))
    if name is None:
        return None, settings
    digest = hashlib.sha256("\n".join(settings).encode()).hexdigest()[:8]
    return f"{name} [{digest}]", settings


def seed_per_trial(sampler: Any, seed: int | None) -> None:
    """Make a seeded sampler draw trial ``n`` from seed (``seed``, ``n``): reproducible, and a
    resumed or second worker does not replay the points the first one drew from the same seed."""
    if seed is None or isinstance(sampler, optuna.samplers.GridSampler):
        return  # unseeded: draws from the OS; grid: takes the next point not yet run
    owners = (sampler, getattr(sampler, "_random_sampler", None))
    rngs = [owner._rng for owner in owners if hasattr(getattr(owner, "_rng", None), "rng")]
    if not rngs:
        sampler.reseed_rng()  # a sampler of unknown make: at least not the other workers' sequence
        return
    before_trial = sampler.before_trial

    def reseeded(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        for i, rng in enumerate(rngs):
            rng.rng.seed(np.random.SeedSequence([seed, trial.number, i]).generate_state(1)[0])
        before_trial(study, trial)

    sampler.before_trial = reseeded


def _sqlite_file(url: str | None) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url and url.startswith("sqlite:///") else None


def _optuna_store_complete(db: Path) -> bool | None:
    """True: an Optuna store; False: missing, or half-made without studies; None: anything else."""
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if {"studies", "trials", "version_info"} <= tables and conn.execute(
                "SELECT count(*) FROM version_info"
            ).fetchone()[0]:
                return True
            has_studies = "studies" in tables and conn.execute("SELECT count(*) FROM studies").fetchone()[0] > 0
    except sqlite3.DatabaseError:
        return False if db.stat().st_size == 0 else None
    return None if has_studies else False


def _create_optuna_store(tmp: Path) -> None:
    optuna.storages.RDBStorage(f"sqlite:///{tmp}").engine.dispose()


def make_storage(url: str | None, heartbeat_interval: int, grace_period: int | None, max_retry: int) -> Any:
    """Optuna's storage for ``url``: an RDB storage with heartbeats and the retry of stale trials;
    a new SQLite file is made under a lock, safe against interruption and concurrent sweeps."""
    if not url or not str(url).startswith(RDB_SCHEMES):
        return url
    from spikernn.tracking.store import ensure_sqlite_store

    db = _sqlite_file(url)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        ensure_sqlite_store(db, _create_optuna_store, _optuna_store_complete)
    return optuna.storages.RDBStorage(
        url,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
    )


def _heartbeat_storage(study: optuna.Study) -> Any:
    """The study's storage if it records heartbeats (an RDB storage with an interval), else None."""
    storage = study._storage
    interval = getattr(storage, "get_heartbeat_interval", None)
    return storage if interval is not None and interval() is not None else None


@contextlib.contextmanager
def heartbeats(study: optuna.Study, trials: list[optuna.Trial]) -> Any:
    """Record the trials' heartbeat every ``heartbeat_interval`` s while their jobs run."""
    storage = _heartbeat_storage(study)
    if storage is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(storage.get_heartbeat_interval()):
            for trial in trials:
                try:
                    storage.record_heartbeat(trial._trial_id)
                except Exception as err:  # a busy database: the next beat will do
                    log.warning(f"heartbeat of trial {trial.number} not recorded: {err}")

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _alive_here(worker: str | None) -> bool:
    """Whether the sweep process ``host:pid`` still runs (a worker on another host counts as alive:
    the heartbeat decides for those)."""
    if not worker or ":" not in worker:
        return True
    host, pid = worker.rsplit(":", 1)
    from spikernn.tracking.run import process_alive  # not at plugin discovery: it imports MLflow

    return host != socket.gethostname() or process_alive(pid)


def _finite(values: Any) -> list[float] | None:
    try:
        floats = [float(v) for v in (values if isinstance(values, list | tuple) else [values])]
    except (TypeError, ValueError):
        return None
    return floats if floats and all(math.isfinite(v) for v in floats) else None


def aggregate(values: list[float | None], converted_at: float | None) -> float | None:
    """A trial's value from its networks' objective values: the fraction ≥ ``converted_at`` (a
    network without a finite value, e.g. one that missed the training criterion, is not converted),
    or the mean (None if any value is missing or not finite)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if converted_at is not None:
        return sum(v >= converted_at for v in finite) / len(values)
    return sum(finite) / len(values) if len(finite) == len(values) else None


def _network_results(attrs: dict) -> list[float | None] | None:
    """The per-network values a K-network trial's jobs recorded, or None if one is missing."""
    k = attrs.get("networks_per_trial")
    results = [attrs.get(f"result.{i}") for i in range(k)]
    if any(r is None for r in results):
        return None
    return [r[0] if r and r[0] is not None else None for r in results]


def settle(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> str:
    """End a trial whose sweep is gone: with the result its job(s) recorded if they all finished,
    else FAIL with its parameters queued again (Optuna's retry callback, or a plain enqueue)."""
    attrs = trial.user_attrs
    values = _finite(attrs.get("result"))
    if attrs.get("networks_per_trial"):
        results = _network_results(attrs)
        values = None if results is None else _finite(aggregate(results, attrs.get("converted_at")))
    if attrs.get("pruned"):
        tell(study, trial.number, state=TrialState.PRUNED)
        return "PRUNED"
    if values is not None and len(values) == len(study.directions):
        tell(study, trial.number, values=values)
        return "COMPLETE"
    tell(study, trial.number, state=TrialState.FAIL)
    storage = _heartbeat_storage(study)
    callback = storage.get_heartbeat_stale_trial_callback() if storage is not None else None
    if callback is not None:
        callback(study, trial)
    else:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
    return "FAIL"


def recover_stale_trials(study: optuna.Study) -> list[int]:
    """Settle the RUNNING trials whose sweep died: at once for this host's dead processes, and on
    any machine once their heartbeat is older than the grace period (Optuna: FAIL and retried)."""
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _alive_here(trial.user_attrs.get("worker")):
            try:
                settle(study, trial)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker settled it first
            recovered.append(trial.number)
    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    optuna.storages.fail_stale_trials(study)
    still = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    return [*recovered, *sorted(running - still)]


def counted_trials(study: optuna.Study) -> int:
    """Trials that count against the budget: finished ones, and those other workers are running."""
    return len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))


def tell(study: optuna.Study, trial: optuna.Trial | int, **outcome: Any) -> None:
    """``study.tell``; the grid sampler asks the study to stop once its grid is covered, which
    raises outside an objective function (the trial is stored by then)."""
    try:
        study.tell(trial, **outcome)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise


def _create_or_load(name: str | None, storage: Any, sampler: Any, directions: list[str]) -> optuna.Study:
    """The study, created if missing; concurrent workers may race on the database, so that is retried."""
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


class ResumableStudySweep:
    """The sweep loop; the parsing of the search space and the launcher are Hydra's Optuna sweeper's."""

    def __init__(
        self, impl: OptunaSweeperImpl, max_failures: int, heartbeat_interval: int, grace_period: int | None,
        max_retry: int, networks_per_trial: int = 1, converted_at: float | None = None,
    ) -> None:  # fmt: skip
        self.impl = impl
        self.max_failures = max_failures
        self.heartbeat = (heartbeat_interval, grace_period, max_retry)
        self.networks = networks_per_trial
        self.converted_at = converted_at

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
        from spikernn.interrupts import Interrupted, acknowledge, deferred, interrupt_signal, interruptible
        from spikernn.sweeps.names import name_metrics  # the package, imported once Hydra runs
        from spikernn.sweeps.parent_run import SweepParentRun, trial_runs

        quiet_optuna()
        impl = self.impl
        impl._process_searchspace_config()
        lines = [*impl._parse_sweeper_params_config(), *arguments]
        distributions, fixed_params, _ = create_params_from_overrides(lines)
        for name in fixed_params:
            distributions.pop(name, None)
        fixed = fixed_lines(lines, fixed_params)
        name, settings = study_identity(impl.study_name, fixed)
        directions = impl._get_directions()
        if self.networks > 1:
            fixed = self._seeds_per_network(distributions, fixed_params, fixed, len(directions))
        storage = make_storage(impl.storage, *self.heartbeat)
        sampler, budget = self._sampler(distributions)
        study = _create_or_load(name, storage, sampler, directions)
        objective = OmegaConf.select(impl.config, "objective", default=None)
        if self.networks > 1 and self.converted_at is not None:
            objective = f"fraction with {objective} ≥ {self.converted_at:g}"
        name_metrics(study, objective)
        seed_per_trial(study.sampler, OmegaConf.select(impl.config, "hydra.sweeper.sampler.seed", default=None))
        if "settings" not in study.user_attrs:
            study.set_user_attr("settings", settings)
        with interruptible():
            recovered = recover_stale_trials(study)
            done = len(study.get_trials(deepcopy=False, states=FINISHED))
            log.info(f"Study {study.study_name} ({impl.storage}): {done} finished trials, budget {budget}")
            if recovered:
                log.info(f"Trials {recovered} of an interrupted sweep were settled (FAIL ones are queued again)")
            parent = SweepParentRun.open(impl.config, study, distributions, budget)
            parent.close_children(study)
            in_flight: list[optuna.Trial] = []
            failures: list[BaseException] = []
            try:
                while (remaining := budget - counted_trials(study)) > 0:
                    recover_stale_trials(study)
                    in_flight = [self._ask(study) for _ in range(min(remaining, impl.n_jobs))]
                    overrides = self._overrides(study, in_flight, distributions, fixed_params, fixed, parent.run_id)
                    with heartbeats(study, in_flight):
                        returns = impl.launcher.launch(overrides, initial_job_idx=impl.job_idx)
                    impl.job_idx += len(returns)
                    k = self.networks
                    batch = [
                        self._tell(study, t, returns[i * k : (i + 1) * k], len(directions), parent)
                        for i, t in enumerate(in_flight)
                    ]
                    in_flight = []
                    batch = [error for error in batch if error is not None]
                    failures += batch
                    rate = len(batch) / len(returns)
                    if len(failures) >= self.max_failures or (batch and rate > impl.max_failure_rate):
                        raise SweepFailed(
                            f"sweep stopped: {len(failures)} trial(s) failed (hydra.sweeper.max_failures="
                            f"{self.max_failures}, max_failure_rate={impl.max_failure_rate}); first: {failures[0]}"
                        ) from failures[0]
            except BaseException as err:
                with deferred():
                    signum = interrupt_signal(err)
                    if signum is not None:
                        acknowledge()
                    for trial in in_flight:  # cut off: FAIL and queued again, or kept if its job finished
                        frozen = study._storage.get_trial(trial._trial_id)
                        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                            state = settle(study, frozen)
                            for run in trial_runs(frozen.user_attrs):
                                parent.mark_child(run, state)
                    parent.close_children(study)
                    parent.finish(study, directions, "KILLED" if signum is not None else "FAILED")
                if isinstance(err, Interrupted):
                    log.error(f"Sweep {err}; its MLflow run ended KILLED; re-run the command to resume")
                    raise SystemExit(err.exit_code) from None
                raise
        parent.finish(study, directions, "FINISHED")
        self._save_results(study, directions)

    def _seeds_per_network(
        self, distributions: dict, fixed_params: dict, fixed: list[str], n_objectives: int
    ) -> list[str]:
        """K networks per trial: the first network's seed (``seed``, fixed or the config's); the
        non-swept overrides without it (each network gets its own)."""
        if n_objectives != 1 or "seed" in distributions:
            raise ValueError(
                "hydra.sweeper.networks_per_trial > 1 needs one objective and sets each network's seed "
                "itself: do not sweep seed"
            )
        self.first_seed = int(fixed_params.get("seed", OmegaConf.select(self.impl.config, "seed", default=0)))
        return [line for line in fixed if not line.lstrip("+").startswith("seed=")]

    def _ask(self, study: optuna.Study) -> optuna.Trial:
        """A new trial, at once with a heartbeat and signed with this process; what a retried
        trial copied from the failed one (its MLflow runs, results) is cleared."""
        trial = study.ask()
        storage = _heartbeat_storage(study)
        if storage is not None:
            storage.record_heartbeat(trial._trial_id)
        trial.set_user_attr("worker", WORKER)
        for copied in list(trial.user_attrs):
            if copied.split(".")[0] in ("mlflow_run_id", "pruned", "result") and trial.user_attrs[copied] is not None:
                trial.set_user_attr(copied, None)
        if self.networks > 1:
            trial.set_user_attr("networks_per_trial", self.networks)
            trial.set_user_attr("converted_at", self.converted_at)
            trial.set_user_attr("seeds", [self.first_seed + i for i in range(self.networks)])
        return trial

    def _overrides(
        self, study: optuna.Study, trials: list[optuna.Trial], distributions: dict, fixed_params: dict,
        fixed: list[str], parent_run_id: str,
    ) -> list[tuple[str, ...]]:  # fmt: skip
        """Each job's overrides: its sampled values (quoted for Hydra), the non-swept overrides as
        given, and its link to the trial and to the parent run; K jobs per trial (its networks, each
        with its seed and number) when ``networks_per_trial`` is K > 1."""
        self.impl._configure_trials(trials, distributions, fixed_params, [])  # samples; checks overlaps
        storage = self.impl.storage
        networks = [()] if self.networks == 1 else [
            (f"seed={self.first_seed + i}", f"+optuna.network={i}") for i in range(self.networks)
        ]  # fmt: skip
        return [
            (
                *(f"{name}={hydra_value(value)}" for name, value in trial.params.items()),
                *fixed,
                *(network if storage is not None else network[:1]),
                *(
                    ()
                    if storage is None
                    else (
                        f"+optuna.storage={hydra_value(storage)}",
                        f"+optuna.study_name={hydra_value(study.study_name)}",
                        f"+optuna.trial_number={trial.number}",
                    )
                ),
                f"logger.parent_run_id={parent_run_id}",
            )
            for trial in trials
            for network in networks
        ]

    def _tell(
        self, study: optuna.Study, trial: optuna.Trial, rets: list[JobReturn], n_objectives: int, parent
    ) -> BaseException | None:
        """Tell Optuna how a trial's job(s) ended; returns the error if one failed (an exception, or
        an objective that is not a finite number)."""
        if self.networks > 1:
            return self._tell_networks(study, trial, rets, parent)
        (ret,) = rets
        attrs = study._storage.get_trial(trial._trial_id).user_attrs
        if ret.status != JobStatus.COMPLETED:
            tell(study, trial, state=TrialState.FAIL)
            parent.mark_child(attrs.get("mlflow_run_id"), "FAIL")
            error = ret._return_value
            return error if isinstance(error, BaseException) else RuntimeError(f"trial {trial.number}: job failed")
        if attrs.get("pruned"):
            tell(study, trial, state=TrialState.PRUNED)
            parent.mark_child(attrs.get("mlflow_run_id"), "PRUNED")
            return None
        values = _finite(ret.return_value)
        if values is None or len(values) != n_objectives:
            tell(study, trial, state=TrialState.FAIL)
            parent.mark_child(attrs.get("mlflow_run_id"), "FAIL")
            return ValueError(
                f"trial {trial.number}: objective {ret.return_value!r} is not {n_objectives} finite number(s)"
            )
        tell(study, trial, values=values)
        parent.mark_child(attrs.get("mlflow_run_id"), "COMPLETE")
        return None

    def _tell_networks(
        self, study: optuna.Study, trial: optuna.Trial, rets: list[JobReturn], parent
    ) -> BaseException | None:
        """A K-network trial: FAIL if a network's job failed, else the aggregate of their values
        (recorded on the trial as ``network_values``)."""
        from spikernn.sweeps.parent_run import trial_runs

        attrs = study._storage.get_trial(trial._trial_id).user_attrs
        runs = trial_runs(attrs)
        failed = [i for i, ret in enumerate(rets) if ret.status != JobStatus.COMPLETED]
        values = [] if failed else [(_finite(ret.return_value) or [None])[0] for ret in rets]
        value = None if failed else aggregate(values, self.converted_at)
        if value is None:
            tell(study, trial, state=TrialState.FAIL)
            for run in runs:
                parent.mark_child(run, "FAIL")
            if failed:
                error = rets[failed[0]]._return_value
                return error if isinstance(error, BaseException) else RuntimeError(f"trial {trial.number}: job failed")
            return ValueError(f"trial {trial.number}: a network's objective is not a finite number: {values}")
        trial.set_user_attr("network_values", values)
        tell(study, trial, values=[value])
        for run in runs:
            parent.mark_child(run, "COMPLETE")
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
    """Hydra's ``OptunaSweeper`` (same options, and ``max_failures`` and the heartbeat's) running
    :class:`ResumableStudySweep`."""

    def __init__(
        self, max_failures: int = 3, heartbeat_interval: int = 60, grace_period: int | None = None,
        max_retry: int = 3, networks_per_trial: int = 1, converted_at: float | None = None, **options: Any,
    ) -> None:  # fmt: skip
        super().__init__(**options)
        if max_failures < 1 or heartbeat_interval < 1 or max_retry < 0 or networks_per_trial < 1:
            raise ValueError(
                "hydra.sweeper.max_failures, hydra.sweeper.heartbeat_interval and hydra.sweeper.networks_per_trial "
                f"must be ≥ 1, hydra.sweeper.max_retry ≥ 0; got {max_failures}, {heartbeat_interval}, "
                f"{networks_per_trial}, {max_retry}"
            )
        if converted_at is not None and not math.isfinite(converted_at):
            raise ValueError(f"hydra.sweeper.converted_at must be a finite number or null, got {converted_at}")
        self.sweeper = ResumableStudySweep(
            self.sweeper, max_failures, heartbeat_interval, grace_period, max_retry, networks_per_trial, converted_at
        )
