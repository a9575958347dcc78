"""``hydra/launcher=slurm``: hydra-submitit-launcher's Slurm launcher, plus ``skip_finished``.

A multirun on Slurm whose jobs were cancelled (``scancel``), hit their time limit or lost their node
is continued by running the same command again: a job that a FINISHED MLflow run already did (the
run's ``job_key``: same command, experiment parameters and code; :mod:`spikernn.apps.finished_jobs`)
is returned as that run instead of being submitted (``skip_finished``, on by default, as for
``hydra/launcher=population``); the rest are submitted as one job array, keeping their job numbers.
Everything else is submitit's launcher as it is (``hydra.launcher.*``: partition, time limit, memory …).

The time limit: submitit asks Slurm for SIGUSR2 ``signal_delay_s`` before it and, for a job it cannot
checkpoint, raises an error wherever the job is — the run would end FAILED, as if the code had
failed. Here that warning ends the job as SIGTERM does (Slurm's own signal at the limit, and
``scancel``'s): the run ends KILLED, the job exits 143, and the same command run again continues.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

log = logging.getLogger(__name__)


@dataclass
class SpikernnSlurmQueueConf(SlurmQueueConf):
    """submitit's Slurm settings and ``skip_finished``: leave out the jobs a FINISHED run of their
    experiment already did (false: submit every job again)."""

    _target_: str = "hydra_plugins.spikernn_slurm.launcher.SpikernnSlurmLauncher"
    skip_finished: bool = True


ConfigStore.instance().store(
    group="hydra/launcher", name="spikernn_slurm", node=SpikernnSlurmQueueConf, provider="spikernn"
)


class SpikernnSlurmLauncher(SlurmLauncher):
    def __init__(self, skip_finished: bool = True, **params: Any) -> None:
        super().__init__(**params)
        self.skip_finished = skip_finished
        self.job_numbers: dict[int, int] = {}  # submitted position → the job's number in the launch

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from spikernn.apps.command import refuse
        from spikernn.apps.finished_jobs import finished_jobs
        from spikernn.validation import ConfigError

        jobs = list(enumerate(job_overrides, initial_job_idx))
        name = self.config.hydra.job.config_name
        if not isinstance(self.skip_finished, bool):
            refuse(
                f"spikernn-{name}",
                ConfigError(f"hydra.launcher.skip_finished must be true or false, got {self.skip_finished!r}"),
            )
        done: dict[int, JobReturn] = {}
        if self.skip_finished:
            loader = self.hydra_context.config_loader
            state = Singleton.get_state()
            done = finished_jobs([(num, o, loader.load_sweep_config(self.config, list(o))) for num, o in jobs], name)
            Singleton.set_state(state)  # the lookup set each job's config as the current one
        todo = [(num, o) for num, o in jobs if num not in done]
        if done:
            log.info(
                f"{len(done)} of {len(jobs)} jobs finished before (hydra.launcher.skip_finished=false submits them "
                f"again); {len(todo)} to submit"
            )
        self.job_numbers = {initial_job_idx + i: num for i, (num, _) in enumerate(todo)}
        if todo:
            submitted = super().launch([o for _, o in todo], initial_job_idx)
            done |= {num: ret for (num, _), ret in zip(todo, submitted, strict=True)}
        return [done[num] for num, _ in jobs]

    def __call__(
        self,
        sweep_overrides: list[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: dict[type, Singleton],
    ) -> JobReturn:
        """On the node: the job under its number in the launch (not its place among those submitted);
        the time-limit warning taken as SIGTERM."""
        signal.signal(signal.SIGUSR2, _as_sigterm)
        number = self.job_numbers.get(job_num, job_num)
        return super().__call__(sweep_overrides, job_dir_key, number, job_id, singleton_state)


def _as_sigterm(signum: int, frame: object) -> None:
    """Slurm's time-limit warning (submitit's SIGUSR2): stop as SIGTERM stops a command."""
    log.warning(f"signal {signal.Signals(signum).name}: the job's time limit is near; stopping it as SIGTERM does")
    os.kill(os.getpid(), signal.SIGTERM)
