"""What the worked examples share: running spikernn's commands and finding their MLflow runs.

The examples run the installed commands (``spikernn-train``, ``spikernn-convert``, ``spikernn-run``)
exactly as one would type them, through the Python that runs the example, so they work from the
project's ``.venv`` without activating it. Everything goes where the commands put it: the folder
``$SPIKERNN_OUTPUT_DIR`` (default ``outputs/``) and the MLflow store in it, or the MLflow server
of ``$MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys

from mlflow.tracking import MlflowClient

from spikernn.tracking.store import resolve_tracking_uri

COMMANDS = {"run": "spikernn.apps.run", "train": "spikernn.apps.train", "convert": "spikernn.apps.convert"}
RUN_LINE = re.compile(r"MLflow run ([0-9a-f]{32})")


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The example's command line; ``--tiny``: a size that only checks that it runs (the docs test's)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny networks and trial counts (seconds, not minutes)")
    return parser


def output_dir() -> str:
    """Where the commands write: ``$SPIKERNN_OUTPUT_DIR``, else ``outputs`` (as ``paths.output_dir``)."""
    return os.environ.get("SPIKERNN_OUTPUT_DIR", "outputs")


def spikernn(command: str, *overrides: str, multirun: bool = False) -> list[str]:
    """Run ``spikernn-<command> [-m] overrides…``; return the MLflow run ids it printed (one per job)."""
    argv = [sys.executable, "-m", COMMANDS[command], *(["-m"] if multirun else []), *overrides]
    print(f"$ spikernn-{command} {'-m ' if multirun else ''}{shlex.join(overrides)}", flush=True)
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"spikernn-{command} failed (exit code {proc.returncode}):\n{proc.stderr[-3000:]}")
    return RUN_LINE.findall(proc.stderr)  # the commands' messages; stdout holds their JSON summaries


def mlflow_client() -> MlflowClient:
    """A client on the store the commands logged to (``MLFLOW_TRACKING_URI`` or the local SQLite file)."""
    return MlflowClient(resolve_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI"), output_dir()))
