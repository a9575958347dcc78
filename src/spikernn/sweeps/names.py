"""Names people read in optuna-dashboard and MLflow: the study's metric names (its objectives) and a
short label of the swept model (``${spikernn.source_label:${source}}`` in ``conf/hparams_search/``).

The study's identity does not depend on the label: the sweeper appends a hash of the command's
settings, ``source`` included, so two models with the same label get two studies.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import OmegaConf

if TYPE_CHECKING:
    import optuna

RESOLVER = "spikernn.source_label"
RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})(?:/(.*))?$")


def source_label(source: object) -> str:
    """``models:/gonogo/3`` → ``gonogo/3``; a run id (or ``runs:/<id>/…``) → ``run 1a2b3c4d``; a file →
    ``<its folder>/<its name>`` (a run folder's name says when it was made), not the absolute path."""
    text = str(source or "").strip()
    if text.startswith("models:/"):
        return text.removeprefix("models:/").strip("/")
    if match := RUN_ID.match(text):
        return f"run {match.group(1)[:8]}" + (f"/{match.group(2)}" if match.group(2) else "")
    path = Path(text)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def name_metrics(study: optuna.Study, objective: object) -> None:
    """Name the study's objective values after the summary keys they are (``lif_accuracy``, ``N``),
    so that optuna-dashboard and Optuna's plots say so instead of "Objective 0"."""
    import optuna  # here: this module registers the study-name resolver for every command, before Optuna is needed

    names = [objective] if isinstance(objective, str) else list(objective or [])
    if names and len(names) == len(study.directions) and study.metric_names != names:
        with warnings.catch_warnings():  # experimental since Optuna 3.2, and what optuna-dashboard reads
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([str(n) for n in names])


def register_resolvers() -> None:
    """``${spikernn.source_label:…}``: every command registers it before Hydra composes (the sweeper
    resolves ``hydra.sweeper.study_name`` before any of the command's own code runs)."""
    if not OmegaConf.has_resolver(RESOLVER):
        register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver  # 2.4 | 2.3
        register(RESOLVER, source_label)
