"""``hydra/launcher=population``: train a multirun's compatible jobs together, then run each job.

A user's sweep, e.g. ``spikernn-run -m experiment=gonogo_n250 'seed=range(0,100)'
model.activation=sigmoid,softplus,clipped_relu hydra/launcher=population``, is validated job by job
(a bad job stops the command with exit 2 before anything is trained), grouped into populations of
jobs that can share a training loop (same task, N, batch, budget, learning rate, stopping rule;
different seeds, activations, τ ranges, gains, noise are fine), and each population is trained by
``spikernn.rate.training.train_population``. Every job then runs as it would alone (its own run
folder, its own MLflow run with the same params, metrics and artifacts), skipping only the training
it was handed; the jobs' runs are nested under one MLflow parent run per launch. Populations larger
than ``max_members`` or than the memory budget are split. Trained networks are kept in
``<paths.output_dir>/populations`` under a hash of what decides them (task, model, seed, trainer
settings, code), so a launch interrupted after training, or the same sweep run again with other
spiking or conversion settings, reuses them instead of training again (jobs that differ only in
what comes after training share one network, trained once). A job that a FINISHED run
of its MLflow experiment already did (same command, experiment parameters and code: the run's tag
``job_key``) is not run again (``skip_finished``, on by default): a launch killed halfway, run
again, resumes with the jobs it had not finished.

Why our own launcher rather than joblib's: joblib runs each job in its own worker, so the jobs
cannot share a training loop; here they share one process and one kernel call per step.

``workers`` (default: one per core this process may use, at most one per job) splits the launch's
jobs over that many worker processes, each with an equal share of the cores' threads: each trains
its share as a population and runs its jobs. On 2 cores, two single-threaded populations of 5 train
1.5× faster than one two-threaded population of 10 (the Python work of a training step between the
kernel's calls runs on one core; `benchmarks/population_end_to_end.py`), and the conversions keep
both cores busy. The networks and every job's numbers are the same as in one process (members are
trained as alone; the kernels' numbers do not depend on their threads). The workers are spawned
(not forked: torch's and numba's thread pools are not fork-safe), get the launch's Hydra state by
pickle as joblib's launcher does, and end with the launch: SIGTERM or Ctrl-C to the launcher is passed
on to them, and a launcher killed outright (SIGKILL) sends them SIGTERM (Linux's parent-death signal).

Why spikernn is imported inside the functions below: Hydra imports every plugin module whenever any
command starts (its plugin discovery), so a top-level import here would be paid by every ``--help``
and every refused value. ``spikernn.apps.trained_networks`` with ``spikernn.rate.training`` alone
take ~7 s to import on the 2-core VM (torch, Lightning; ``python -X importtime``), against ~1.4 s for
a whole refused command (``benchmarks/command_start.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import shutil
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


@dataclass
class PopulationLauncherConf:
    """``max_members``: networks per population at most; ``memory_gb``: what the populations may
    hold (null = half the memory available when the launch starts); ``skip_finished``: leave out
    the jobs a FINISHED run of their experiment already did (false: run every job again).

    ``workers``: processes the jobs are split over (null = one per core this process may use, at
    most one per job; 1 = all in the launching process).

    ``member_figures`` / ``member_models``: each job's ``logger.figures`` / ``logger.log_models``
    unless its command line sets them. Off by default: a population is launched for its numbers
    (every job's metrics, ``summary.json`` and model files are kept all the same), and a hundred
    jobs' example figures and MLflow models cost ~5 s each (3.7 s of figures, 1.9 s of models
    measured on one conversion) for a hundred near-identical pages nobody opens; any one network
    is drawn or logged later by ``spikernn-evaluate source=<its run id>``."""

    _target_: str = "hydra_plugins.spikernn_population.launcher.PopulationLauncher"
    max_members: int = 100
    memory_gb: float | None = None
    skip_finished: bool = True
    member_figures: bool = False
    member_models: bool = False
    workers: int | None = None


ConfigStore.instance().store(
    group="hydra/launcher", name="population", node=PopulationLauncherConf, provider="spikernn"
)

TRAINING_COMMANDS = ("run", "train")


@dataclass
class _Job:
    num: int
    overrides: Sequence[str]
    config: DictConfig
    settings: object | None = None  # spikernn.pipeline.RunConfig of a training command


def available_bytes() -> int:
    """Memory available now (Linux: MemAvailable), else the physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (a taskset's, a cgroup's), and in a
    SLURM job at most the CPUs it was given (``SLURM_CPUS_PER_TASK``, set by ``--cpus-per-task``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    return min(cores, int(slurm)) if slurm.isdigit() and int(slurm) > 0 else cores


class PopulationLauncher(Launcher):
    def __init__(
        self,
        max_members: int = 100,
        memory_gb: float | None = None,
        skip_finished: bool = True,
        member_figures: bool = False,
        member_models: bool = False,
        workers: int | None = None,
    ) -> None:
        self.max_members = max_members
        self.memory_gb = memory_gb
        self.skip_finished = skip_finished
        self.member_settings = {"figures": member_figures, "log_models": member_models}
        self.workers = workers
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context
        self._check_settings(config.hydra.job.config_name)

    def _check_settings(self, name: str) -> None:
        """The launcher's own keys, at setup: before the sweeper writes anything."""
        from spikernn.apps.command import refuse
        from spikernn.validation import ConfigError, check_int, check_range

        try:
            check_int("hydra.launcher.max_members", self.max_members, 1)
            if self.workers is not None:
                check_int("hydra.launcher.workers", self.workers, 1)
            for key, value in self.member_settings.items():
                if not isinstance(value, bool):
                    name = "member_figures" if key == "figures" else "member_models"
                    raise ConfigError(f"hydra.launcher.{name} must be true or false, got {value!r}")
            if self.memory_gb is not None:
                check_range("hydra.launcher.memory_gb", self.memory_gb, 0.0, lo_open=True)
        except ConfigError as err:
            refuse(f"spikernn-{name}", err)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from spikernn.apps.command import refuse
        from spikernn.interrupts import acknowledge, deferred, interrupt_signal, interruptible
        from spikernn.validation import ConfigError

        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        self._configure_log()
        name = self.config.hydra.job.config_name
        try:
            jobs = [self._load(initial_job_idx + i, o, name) for i, o in enumerate(job_overrides)]
        except ConfigError as err:
            refuse(f"spikernn-{name}", err)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Population launcher: {len(jobs)} jobs")
        returns: dict[int, JobReturn] = self._finished(jobs, name) if self.skip_finished else {}
        todo = [job for job in jobs if job.num not in returns]
        if returns:
            log.info(
                f"{len(returns)} of {len(jobs)} jobs finished before (hydra.launcher.skip_finished=false runs "
                f"them again); {len(todo)} to run"
            )
        parent = _PopulationRun.open([job.config for job in todo]) if todo else None
        try:
            # SIGTERM / Ctrl-C while a population trains raise Interrupted here; Lightning's own
            # handler alone would end the launch with a bare SystemExit, i.e. exit code 0
            with interruptible():
                workers = min(self.workers or usable_cores(), len(todo))
                parent_run_id = parent.run_id if parent is not None else None
                if workers > 1:
                    self._run_in_workers(todo, workers, parent_run_id, returns)
                else:
                    self._run_jobs(todo, parent_run_id, returns.__setitem__)
        except BaseException as err:
            signum = interrupt_signal(err)
            if parent is not None:
                with deferred():  # a second signal must not leave the parent run open
                    parent.close("FAILED" if signum is None else "KILLED", returns)
            if signum is None:
                raise
            acknowledge()
            closed = "; parent MLflow run ended KILLED" if parent is not None else ""
            log.error(f"population launch: interrupted by {signal.Signals(signum).name}{closed}")
            sys.exit(128 + signum)
        if parent is not None:
            parent.close("FINISHED", returns)
        return [returns[job.num] for job in jobs]

    def _run_jobs(self, jobs: list[_Job], parent_run_id: str | None, done: Callable[[int, JobReturn], None]) -> None:
        """Train the jobs' populations and run the jobs, in this process; ``done(num, ret)`` as each ends."""
        finished = set()
        for group in self._populations(jobs):
            self._train(group)
            for job in group:
                done(job.num, self._run(job, parent_run_id))
                finished.add(job.num)
        for job in jobs:
            if job.num not in finished:
                done(job.num, self._run(job, parent_run_id))

    def _run_in_workers(self, jobs: list[_Job], n: int, parent_run_id: str | None, returns: dict) -> None:
        """Split ``jobs`` over ``n`` spawned worker processes (:func:`_work`; fewer when jobs share
        networks, none when they all do) and gather their returns as they come; an interruption is
        passed on to the workers, whose returns so far are kept."""
        import multiprocessing

        import cloudpickle  # the task function is wrapped by spikernn's command: pickled by value
        from hydra.core.singleton import Singleton

        from spikernn.interrupts import deferred, interrupt_signal

        shares = self._shares(jobs, n)
        n = len(shares)  # fewer than asked when jobs share networks
        if n == 1:
            self._run_jobs(jobs, parent_run_id, returns.__setitem__)
            return
        threads = max(1, usable_cores() // n)
        budget = self.memory_gb if self.memory_gb is not None else available_bytes() / 2 / 1e9
        settings = {
            "max_members": self.max_members,
            "memory_gb": budget / n,
            "skip_finished": False,
            "member_figures": self.member_settings["figures"],
            "member_models": self.member_settings["log_models"],
            "workers": 1,
        }
        context = multiprocessing.get_context("spawn")
        workers: list = []
        try:
            for i, share in enumerate(shares):
                payload = cloudpickle.dumps(
                    {
                        "settings": settings,
                        "singletons": Singleton.get_state(),
                        "hydra_context": self.hydra_context,
                        "task_function": self.task_function,
                        "config": self.config,
                        "jobs": [(job.num, list(job.overrides)) for job in share],
                        "parent_run_id": parent_run_id,
                        "threads": threads,
                        "label": f"worker {i + 1}/{n}",
                    }
                )
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_work, args=(payload, sender, os.getpid()), name=f"worker-{i + 1}")
                process.start()
                sender.close()
                workers.append((process, receiver))
                jobs_of = ", ".join(f"#{job.num}" for job in share)
                log.info(f"Worker {i + 1} of {n} (pid {process.pid}, {threads} thread(s)): jobs {jobs_of}")
            _gather(workers, returns)
        except BaseException as err:
            signum = interrupt_signal(err) or int(signal.SIGTERM)
            with deferred():  # the workers close their own runs KILLED; wait for them, and keep what they did
                for process, _ in workers:
                    if process.is_alive():
                        os.kill(process.pid, signum)
                _gather(workers, returns, WORKER_GRACE_S)
            raise
        failed = [f"worker {i + 1} (exit {p.exitcode})" for i, (p, _) in enumerate(workers) if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"population launch: {', '.join(failed)} failed; see its log above")

    def _shares(self, jobs: list[_Job], n: int) -> list[list[_Job]]:
        """``jobs`` dealt round-robin to ``n`` workers, jobs that share a trained network (the same
        member key) dealt together so that it is trained once."""
        from spikernn.apps.trained_networks import member_key

        together: dict[object, list[_Job]] = defaultdict(list)
        for job in jobs:
            s = job.settings
            key = job.num if s is None else member_key(s.task, s.model, s.seed, s.trainer)
            together[key].append(job)
        shares: list[list[_Job]] = [[] for _ in range(n)]
        for i, same in enumerate(together.values()):
            shares[i % n] += same
        return [sorted(share, key=lambda job: job.num) for share in shares if share]

    def _configure_log(self) -> None:
        configure_log(
            self.config.hydra.hydra_logging,
            self.config.hydra.verbose,
            execution_whitelist=getattr(self.hydra_context, "execution_whitelist", None),
        )

    def _load(self, num: int, overrides: Sequence[str], name: str) -> _Job:
        """The job's config, and for a training command its validated settings."""
        from spikernn.apps.command import job_config
        from spikernn.apps.config import build_run_config

        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
        with open_dict(config):
            config.hydra.job.id = f"{config.hydra.job.name}_{num}"
            config.hydra.job.num = num
            if "logger" in config:  # the launcher's defaults for its members, unless the job sets them
                for key, value in self.member_settings.items():
                    if f"logger.{key}" not in given:
                        config.logger[key] = value
        job = _Job(num, overrides, config)
        if name in TRAINING_COMMANDS:
            HydraConfig.instance().set_config(config)
            job.settings = build_run_config(job_config(config))
        return job

    def _finished(self, jobs: list[_Job], name: str) -> dict[int, JobReturn]:
        """Jobs a FINISHED run of their experiment already did (``spikernn.apps.finished_jobs``)."""
        from spikernn.apps.finished_jobs import finished_jobs

        return finished_jobs([(job.num, job.overrides, job.config) for job in jobs], name)

    def _populations(self, jobs: list[_Job]) -> list[list[_Job]]:
        """Jobs that can share a training loop, in groups that fit ``max_members`` and memory."""
        from spikernn.rate.training import member_bytes
        from spikernn.tasks import get_task

        shared: dict[tuple, list[_Job]] = defaultdict(list)
        for job in jobs:
            s = job.settings
            if s is None or s.trainer.resume_from is not None:  # resumes its own checkpoint alone
                continue
            t = s.trainer
            key = (s.task, s.model.n_units, t.batch_size, t.max_trials, t.learning_rate, repr(t.stopping), t.backend)
            shared[key].append(job)
        budget = self.memory_gb * 1e9 if self.memory_gb is not None else available_bytes() / 2
        groups = []
        for members in shared.values():
            s = members[0].settings
            per_member = member_bytes(s.model, get_task(s.task), s.trainer.batch_size)
            size = max(1, min(self.max_members, int(budget // per_member)))
            if size < len(members):
                log.info(
                    f"{len(members)} networks need {len(members) * per_member / 1e9:.2f} GB "
                    f"({per_member / 1e6:.1f} MB each): split into populations of {size}"
                )
            groups += [members[i : i + size] for i in range(0, len(members), size)]
        return groups

    def _train(self, group: list[_Job]) -> None:
        """Train the group's networks (those not kept by an earlier launch), keep them, hand them over."""
        from spikernn.apps.trained_networks import TrainedStore, hand_over, member_key
        from spikernn.rate.training import train_population
        from spikernn.tasks import get_task

        first = group[0].settings
        store = TrainedStore(Path(str(group[0].config.paths.output_dir)) / "populations")
        keys = {
            j.num: member_key(j.settings.task, j.settings.model, j.settings.seed, j.settings.trainer) for j in group
        }
        kept = {j.num: m for j in group if (m := store.load(keys[j.num])) is not None}
        if kept:
            log.info(
                f"{len(kept)} of {len(group)} networks reused: trained before with the same settings "
                f"(kept in {store.folder})"
            )
        trains: dict[str, _Job] = {}  # one network per key: the first job of those that share it trains it
        for job in group:
            if job.num not in kept:
                trains.setdefault(keys[job.num], job)
        todo = list(trains.values())
        if todo:
            log.info(f"Training a population of {len(todo)} networks (task {first.task}, N = {first.model.n_units})")
            # checkpointed after every evaluation: a launch killed while it trains resumes where it was
            folder = store.training_folder([keys[j.num] for j in todo])
            training = first.trainer
            if (resume := store.resumable(folder)) is not None:
                log.info(f"Resuming the population's training from {resume} (left by an interrupted launch)")
                training = dataclasses.replace(training, resume_from=str(resume))
            start = time.perf_counter()
            members = train_population(
                get_task(first.task),
                [(j.settings.model, j.settings.seed) for j in todo],
                training,
                checkpoint_dir=folder,
            )
            trained = sum(m.record.trained for m in members)
            failed = [(j.num, m.record.failure) for j, m in zip(todo, members, strict=True) if m.record.failure]
            log.info(
                f"Population of {len(todo)}: {trained} met the criterion, {len(failed)} failed, "
                f"{time.perf_counter() - start:.1f} s"
            )
            for num, why in failed:
                log.warning(f"job #{num}: {why}")
            for job, member in zip(todo, members, strict=True):
                store.save(keys[job.num], member)
                kept[job.num] = member
            shutil.rmtree(folder, ignore_errors=True)
        for job in group:
            # a job whose network another job of the group trained gets its own copy, from the store
            hand_over(job.num, kept[job.num] if job.num in kept else store.load(keys[job.num]))

    def _run(self, job: _Job, parent_run_id: str | None) -> JobReturn:
        log.info(f"\t#{job.num} : {' '.join(filter_overrides(job.overrides))}")
        if parent_run_id is not None and job.config.logger.get("parent_run_id") is None:
            with open_dict(job.config):
                job.config.logger.parent_run_id = parent_run_id
        HydraConfig.instance().set_config(job.config)
        ret = run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=job.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        self._configure_log()
        return ret


WORKER_GRACE_S = 120.0  # after an interruption, how long the workers get to close their runs


def _gather(workers: list, returns: dict[int, JobReturn], timeout_s: float | None = None) -> None:
    """Receive each worker's ``(job number, JobReturn)`` as its jobs end, until every worker has
    exited (killed once ``timeout_s`` has passed, if given)."""
    from multiprocessing.connection import wait

    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    open_ = {receiver: process for process, receiver in workers}
    while open_:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready = wait(list(open_), timeout=left)
        if not ready:  # the grace period is over
            for process in open_.values():
                process.kill()
            break
        for receiver in ready:
            try:
                num, ret = pickle.loads(receiver.recv_bytes())
                returns[num] = ret
            except EOFError:  # the worker has exited
                del open_[receiver]
    for process, _ in workers:
        process.join()


def _end_with(parent_pid: int) -> None:
    """Have this process sent SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG; elsewhere a
    no-op), so that a launcher killed outright does not leave its workers running."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the signal was set
        os.kill(os.getpid(), signal.SIGTERM)


def _label_log_records(label: str) -> None:
    """Begin every log message of this process with ``label`` ("worker 1/2: 100 trials: …"): the
    workers share the launch's console and log."""
    make_record = logging.getLogRecordFactory()

    def labelled(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = f"{label}: {record.msg}"
        return record

    logging.setLogRecordFactory(labelled)


def _work(payload: bytes, sender, parent_pid: int) -> None:
    """A worker process of a launch (:meth:`PopulationLauncher._run_in_workers`): its share of the
    jobs trained and run as in one process, each ``(num, JobReturn)`` sent back as the job ends."""
    _end_with(parent_pid)
    import cloudpickle
    from hydra.core.singleton import Singleton

    from spikernn.interrupts import acknowledge, interrupt_signal, interruptible

    state = pickle.loads(payload)
    Singleton.set_state(state["singletons"])
    setup_globals()
    import numba
    import torch

    numba.set_num_threads(state["threads"])
    torch.set_num_threads(state["threads"])
    launcher = PopulationLauncher(**state["settings"])
    launcher.setup(hydra_context=state["hydra_context"], task_function=state["task_function"], config=state["config"])
    launcher._configure_log()
    _label_log_records(state["label"])
    name = state["config"].hydra.job.config_name
    try:
        with interruptible():
            jobs = [launcher._load(num, overrides, name) for num, overrides in state["jobs"]]
            # by value: a job's config holds classes made at run time (structured configs' types.*)
            launcher._run_jobs(
                jobs, state["parent_run_id"], lambda num, ret: sender.send_bytes(cloudpickle.dumps((num, ret)))
            )
    except BaseException as err:
        signum = interrupt_signal(err)
        if signum is None:
            raise
        acknowledge()
        sys.exit(128 + signum)


class _PopulationRun:
    """The MLflow run the launch's jobs are nested under (a :class:`spikernn.tracking.parent_run.ParentRun`,
    imported when a launch starts: Hydra imports this plugin for every command); counts its jobs'
    outcomes and the condition they make when it ends."""

    def __init__(self, parent) -> None:
        self.parent = parent
        self.run_id: str = parent.run_id

    @classmethod
    def open(cls, configs: list[DictConfig]) -> _PopulationRun | None:
        """The parent run of the jobs of ``configs``: its params are the settings they share."""
        config, n_jobs = configs[0], len(configs)
        if "logger" not in config or config.logger.get("parent_run_id") is not None:
            return None  # a sweep's parent run nests the jobs already
        from spikernn.tracking.parent_run import ParentRun

        sweep_dir = Path(str(config.hydra.sweep.dir)).name
        task = OmegaConf.select(config, "task.env") or OmegaConf.select(config, "task.name")  # a NeuroGym env
        task, size = task and str(task).split("-v")[0], OmegaConf.select(config, "model.n_units")
        what = f"{n_jobs} × {task}-N{size}" if task and size else f"{n_jobs} jobs"
        tags = {"command": "population", "launcher": "population", "n_jobs": str(n_jobs)}
        parent = ParentRun.create(config, f"population {what} {sweep_dir}", tags)
        parent.log_params(_shared_settings(configs))
        return cls(parent)

    def close(self, status: str, returns: dict[int, JobReturn]) -> None:
        """Log the jobs' outcomes and the condition they make (``spikernn.condition``: trained and
        converted counts with the converted fraction's interval, accuracies, factors; a table of
        the networks; the run's description says it in one line), then end the run."""
        import math

        from hydra.core.utils import JobStatus

        from spikernn.condition import condition_metrics, network_table

        completed = [r for r in returns.values() if r.status == JobStatus.COMPLETED]
        summaries = [s for s in map(_summary_of, completed) if s is not None]
        metrics = {"jobs_completed": len(completed), "jobs_failed": len(returns) - len(completed)}
        metrics |= {k: v for k, v in condition_metrics(summaries).items() if math.isfinite(v)}
        tags = {"mlflow.note.content": _describe(metrics)} if summaries else {}
        self.parent.log(metrics, tags)
        if summaries:
            table = network_table(summaries)
            self.parent.log_table(table, "networks.json")
            self._log_figure(table)
        self.parent.end(status)

    def _log_figure(self, table: dict[str, list]) -> None:
        """``condition.png`` (and .svg): each network's LIF accuracy (before and after fine-tuning)
        against the criterion, and the chosen factors; nothing when no network was converted."""
        import tempfile

        from spikernn.plots.figures import plot_condition

        rows = [i for i, v in enumerate(table["lif_accuracy"]) if v is not None]
        if not rows:
            return
        with tempfile.TemporaryDirectory() as folder:
            saved = plot_condition(
                Path(folder) / "condition.png",
                [table["lif_accuracy"][i] for i in rows],
                [table["transfer_lif_accuracy"][i] for i in rows],
                [table["scaling_factor"][i] for i in rows if table["scaling_factor"][i] is not None],
            )
            self.parent.log_files([saved.png, saved.vector])


def _shared_settings(configs: list[DictConfig]) -> dict[str, str]:
    """The experiment's settings (``a.b`` → value, as a job logs its params) that every job has alike."""
    from spikernn.apps.runner import split_params, without_unused
    from spikernn.apps.schemas import without_unset_slots
    from spikernn.tracking import flatten

    def settings(config: DictConfig) -> dict[str, str]:
        tree = OmegaConf.to_container(config, resolve=False)
        tree.pop("hydra", None)
        tree = without_unset_slots(tree)
        return {k: v for k, v in flatten(without_unused(split_params(tree)[0])).items() if "${" not in v}

    first, *rest = map(settings, configs)
    return {k: v for k, v in first.items() if all(other.get(k) == v for other in rest)}


def _summary_of(ret: JobReturn) -> dict | None:
    """A completed job's ``summary.json`` (a job done before carries it as its return value)."""
    import json

    if isinstance(ret._return_value, dict):
        return ret._return_value
    folder = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir") if ret.hydra_cfg else None
    path = Path(str(folder or ret.working_dir)) / "summary.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning(f"no readable summary.json in {path.parent}: left out of the launch's numbers")
        return None


def _describe(metrics: dict[str, float]) -> str:
    """The condition in one line, e.g. ``10 networks, 10 trained; converted 8/10 = 80 % [49, 94];
    LIF accuracy 0.960 ± 0.051`` (and with fine-tuning ``; 6 converted by the transfer alone, 4
    fine-tuned after it``)."""
    parts = [f"{metrics['networks']:.0f} networks, {metrics['trained']:.0f} trained"]
    if "converted" in metrics:
        parts.append(
            f"converted (LIF ≥ 95 % on fresh trials) {metrics['converted']:.0f}/{metrics['evaluated']:.0f} = "
            f"{100 * metrics['converted_fraction']:.0f} % [{100 * metrics['converted_fraction_low']:.0f}, "
            f"{100 * metrics['converted_fraction_high']:.0f}]"
        )
        parts.append(f"LIF accuracy {metrics['lif_accuracy_mean']:.3f} ± {metrics['lif_accuracy_sd']:.3f}")
    if "finetuned" in metrics:
        parts.append(
            f"{metrics['converted_by_transfer']:.0f} converted by the transfer alone, "
            f"{metrics['finetuned']:.0f} fine-tuned after it"
        )
    return "; ".join(parts)
