"""What makes two jobs the same job: their command, their experiment parameters and the code.

A run is tagged with its ``job_key``; ``hydra/launcher=population`` skips a job whose key a
FINISHED run of the same MLflow experiment already carries (a launch resumed after an interrupt).
Trained networks kept by the launcher are keyed by the part of the code that decides them
(``spikernn.apps.trained_networks.member_key``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
from collections.abc import Iterable
from pathlib import Path

import torch

import spikernn

_ROOT = Path(spikernn.__file__).parent


def _digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256(torch.__version__.encode())
    for path in sorted(paths):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@functools.cache
def code_digest(*subpackages: str) -> str:
    """Hash of torch's version and the source of ``spikernn.<subpackage>`` for each name given, or of
    the whole package when none is (read once per process)."""
    if subpackages:
        return _digest(p for name in subpackages for p in (_ROOT / name).glob("*.py"))
    return _digest(_ROOT.rglob("*.py"))


def user_code_digest(module_name: str) -> str:
    """Hash of the source of a user's module (e.g. the module of a task named by ``task._target_``),
    "" for spikernn's own (covered by :func:`code_digest`): an edited task is trained and run again."""
    if module_name == "spikernn" or module_name.startswith("spikernn."):
        return ""
    return _digest([Path(inspect.getfile(importlib.import_module(module_name)))])


def job_key(command: str, params: dict) -> str:
    """The identity of a job: ``command`` (e.g. ``spikernn-run``), its experiment parameters (the
    resolved config without bookkeeping: ``apps.runner.split_params``), the package's code and that
    of a user's task (``task._target_``)."""
    target = (params.get("task") or {}).get("_target_")
    code = code_digest() + (user_code_digest(target.rpartition(".")[0]) if isinstance(target, str) else "")
    text = json.dumps({"command": command, "params": params, "code": code}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
