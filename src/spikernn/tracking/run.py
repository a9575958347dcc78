"""One MLflow run per command: parameters, provenance tags, metrics, tables, artifacts, final status.

A crash ends the run FAILED (the error as tag ``error``), Ctrl-C or SIGTERM ends it KILLED (tag
``interrupted``); whatever the run folder holds by then is still logged, so nothing written before
is lost. A run records its host and process (tags ``host``, ``pid``, ``pid_start``): a run left
RUNNING by a process that is gone (SIGKILL, power cut) is closed KILLED by the next command on that
host.

Artifacts are stored once: on a local artifact store (the embedded SQLite store's ``mlartifacts/``)
the run folder's files are hard-linked into the run's artifact folder rather than copied; elsewhere
(a server, another file system) MLflow uploads them.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.file_utils import local_file_uri_to_path
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

import spikernn
from spikernn.interrupts import acknowledge, deferred, interrupt_signal
from spikernn.tracking.logger_config import LoggerConfig
from spikernn.tracking.store import ensure_experiment, open_tracking_store, retrying

MAX_ERROR_CHARS = 6000  # the error tag of a FAILED run: its closing must not fail on a long message


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    """``{"model": {"n_units": 200}}`` → ``{"model.n_units": "200"}``; lists and None as text."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def git_commit() -> tuple[str, bool]:
    """The commit of the source tree spikernn runs from, and whether it has local changes."""
    here = Path(spikernn.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit, bool(dirty)
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), "" where unknown or gone;
    tells a live process from a later one that reuses its id."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def process_tags() -> dict[str, str]:
    """Tags naming this process: ``host``, ``pid`` and ``pid_start``."""
    return {"host": socket.gethostname(), "pid": str(os.getpid()), "pid_start": process_start(os.getpid())}


def process_alive(pid: str, started: str = "") -> bool:
    """Whether process ``pid`` of this host still runs (and, given ``started``, is the same process)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return not started or process_start(int(pid)) in ("", started)


def close_orphaned_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Close KILLED the RUNNING runs of this host whose process is gone; returns their ids."""
    host = socket.gethostname().replace("'", "")
    running = retrying(
        lambda: client.search_runs(
            [experiment_id], f"attributes.status = 'RUNNING' and tags.host = '{host}'", max_results=1000
        )
    )
    closed = [
        run.info.run_id
        for run in running
        if "pid" in run.data.tags and not process_alive(run.data.tags["pid"], run.data.tags.get("pid_start", ""))
    ]
    for run_id in closed:
        close_run(client, run_id, "KILLED", {"interrupted": f"the process on {host} ended without closing the run"})
    if closed:
        print(f"spikernn: closed MLflow run(s) left RUNNING by a killed process: {closed}", file=sys.stderr)
    return closed


def close_run(client: MlflowClient, run_id: str, status: str, tags: dict[str, str]) -> None:
    """End run ``run_id`` with ``status`` and ``tags`` (a run another process left open)."""
    retrying(lambda: client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()]))
    retrying(lambda: client.set_terminated(run_id, status))


class TrackedRun:
    """Context manager around one MLflow run; ``out_dir`` is logged as the run's artifacts on exit."""

    def __init__(
        self,
        config: LoggerConfig,
        output_dir: str | Path,
        out_dir: Path,
        command: str,
        params: dict,
        tags: dict[str, str],
        run_name: str | None = None,
    ) -> None:
        """Open the run: ``params`` (nested, logged as ``a.b`` keys), ``tags``, and the run's name
        (``logger.run_name`` if set, else ``run_name``); MLflow adds the user and the source."""
        self.config = config
        self.out_dir = out_dir
        # stdout holds the command's JSON summary: MLflow must not print the run's address there
        os.environ.setdefault(MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.name, "true")
        self.tracking_uri = open_tracking_store(config.tracking_uri, output_dir)
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        self.experiment_id = ensure_experiment(self.client, config.experiment_name, output_dir, self.tracking_uri)
        close_orphaned_runs(self.client, self.experiment_id)
        commit, dirty = git_commit()
        all_tags = {
            **resolve_tags(),  # mlflow.user, mlflow.source.name and .type, as mlflow.start_run sets them
            "command": command,
            "git_commit": commit,
            "git_dirty": str(dirty),
            "spikernn_version": spikernn.__version__,
            "run_folder": str(out_dir.resolve()),
            MLFLOW_GIT_COMMIT: commit,
            **process_tags(),
            **tags,
        }
        name = config.run_name or run_name
        if name:
            all_tags[MLFLOW_RUN_NAME] = name
        if config.parent_run_id:
            all_tags[MLFLOW_PARENT_RUN_ID] = config.parent_run_id
        run = retrying(lambda: self.client.create_run(self.experiment_id, run_name=name, tags=all_tags))
        self.run_id = run.info.run_id
        self.artifact_uri = run.info.artifact_uri
        self.params = flatten(params)
        items = [Param(k, v) for k, v in self.params.items()]
        retrying(lambda: self.client.log_batch(self.run_id, params=items))

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        with deferred():  # a second Ctrl-C must not leave the run half-closed
            status = "FINISHED"
            signum = interrupt_signal(error)
            if signum is not None:
                acknowledge()
                status = "KILLED"
                self.set_tags({"interrupted": signal.Signals(signum).name})
            elif error is not None and not (isinstance(error, SystemExit) and error.code in (0, None)):
                status = "FAILED"
                self.set_tags({"error": f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]})
            try:
                self.log_folder()
            finally:
                retrying(lambda: self.client.set_terminated(self.run_id, status))

    def set_tags(self, tags: dict[str, str]) -> None:
        items = [RunTag(k, str(v)) for k, v in tags.items()]
        retrying(lambda: self.client.log_batch(self.run_id, tags=items))

    def log_metrics(self, metrics: dict[str, float | int | None], step: int = 0, model_id: str | None = None) -> None:
        """Log the finite numbers of ``metrics`` at ``step`` (None and NaN are skipped), linked to
        the logged model ``model_id`` if given (still metrics of the run)."""
        stamp = mlflow.utils.time.get_current_time_millis()
        items = [
            Metric(k, float(v), stamp, step, model_id=model_id)
            for k, v in metrics.items()
            if v is not None and not isinstance(v, bool) and math.isfinite(float(v))
        ]
        retrying(lambda: self.client.log_batch(self.run_id, metrics=items))

    def log_series(self, name: str, steps: list[int], values: list[float]) -> None:
        """One metric as a series over ``steps`` (e.g. accuracy per trials seen)."""
        stamp = mlflow.utils.time.get_current_time_millis()
        items = [Metric(name, float(v), stamp, int(s)) for s, v in zip(steps, values, strict=True) if v is not None]
        retrying(lambda: self.client.log_batch(self.run_id, metrics=items))

    def log_table(self, artifact_file: str, columns: dict[str, list]) -> None:
        """A table (column name → values) as MLflow's JSON table artifact ``artifact_file``."""
        retrying(lambda: self.client.log_table(self.run_id, data=columns, artifact_file=artifact_file))

    def log_folder(self) -> None:
        """Log every file of the run folder (config, models, summary, figures, checkpoints): hard
        links on a local artifact store on the same file system, else MLflow's upload."""
        if not (self.out_dir.is_dir() and any(self.out_dir.iterdir())):
            return
        if not link_tree(self.out_dir, self.artifact_uri):
            retrying(lambda: self.client.log_artifacts(self.run_id, str(self.out_dir)))


def link_tree(folder: Path, artifact_uri: str) -> bool:
    """Hard-link every file under ``folder`` into the local artifact folder ``artifact_uri``;
    False (nothing to rely on) when the store is not a local folder or a link cannot be made."""
    if not artifact_uri.startswith("file:"):
        return False
    target = Path(local_file_uri_to_path(artifact_uri))
    try:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            dest = target / path.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.unlink(missing_ok=True)
            os.link(path, dest)
    except OSError:  # another file system (EXDEV), links not allowed: MLflow copies instead
        return False
    return True
