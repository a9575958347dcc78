"""What every command shares: validate first, then one tracked MLflow run around the work."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from spikernn.apps.config import ConvertConfig, EvaluateConfig, build_tracking, plain
from spikernn.apps.progress import PhaseProgress
from spikernn.pipeline import RunConfig, rate_model_summary, write_summary
from spikernn.science import warning_tags
from spikernn.sweeps import TrialLink
from spikernn.tasks import condition_slug
from spikernn.tracking import TrackedRun
from spikernn.tracking.models import log_run_models
from spikernn.tracking.signals import Interrupted, acknowledge, interruptible
from spikernn.validation import ConfigError

log = logging.getLogger(__name__)
S = TypeVar("S")


@dataclass
class CommandContext:
    """What a command's work gets besides its settings: its MLflow run, the progress display, and
    (inside a sweep) its Optuna trial."""

    out_dir: Path
    run: TrackedRun
    progress: PhaseProgress
    trial: TrialLink | None

    @property
    def monitor(self) -> Callable[[int, list[float]], bool] | None:
        """For the factor search: report the best accuracy so far; False when the pruner says stop."""
        if self.trial is None:
            return None
        return lambda trials_done, accuracy: self.trial.keep_going(trials_done, max(accuracy))


Work = Callable[[S, CommandContext], dict]


def run_tags(cfg: RunConfig) -> dict:
    """Tags of a command that trains (``spikernn-train``, ``spikernn-run``)."""
    return {"task": cfg.task.name, "seed": str(cfg.seed)}


def source_tags(cfg: ConvertConfig | EvaluateConfig) -> dict:
    """Tags of a command that starts from a trained model (``spikernn-convert``, ``spikernn-evaluate``)."""
    return {"task": cfg.source.task.name, "seed": str(cfg.seed), "source": cfg.source.source}


def source_summary(cfg: ConvertConfig | EvaluateConfig) -> dict:
    """The summary's head for a command that starts from a trained model: the model, its source."""
    src = cfg.source
    return {
        **rate_model_summary(src.model, src.task, cfg.seed, cfg.eval_trials),
        "source": src.source,
        "seed": cfg.seed,
    }


def objective_value(summary: dict, objective: str | list[str]) -> float | list[float]:
    """The summary value(s) a sweep optimises; NaN where the run produced none (e.g. pruned)."""
    if isinstance(objective, str):
        value = summary.get(objective)
        return float("nan") if value is None else float(value)
    return [objective_value(summary, name) for name in objective]


SUMMARY_KEYS = (
    "task",
    "N",
    "trained",
    "trials_to_criterion",
    "rate_accuracy",
    "scaling_factor",
    "lif_accuracy",
    "seconds",
)


def _discard_empty_run_dir(out_dir: Path) -> None:
    """Remove a run folder that holds nothing but Hydra's own bookkeeping."""
    if out_dir.is_dir() and all(p.name in {".hydra", "run.log"} for p in out_dir.iterdir()):
        shutil.rmtree(out_dir)


def log_summary(run: TrackedRun, summary: dict) -> None:
    """Numbers of a summary as metrics; per-factor accuracy as a series over s; trial types apart."""
    metrics = {
        k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed"
    }
    metrics |= {
        f"lif_accuracy.{condition_slug(name)}": value
        for name, value in (summary.get("lif_accuracy_by_condition") or {}).items()
    }
    if "trained" in summary:
        metrics["trained"] = int(summary["trained"])
        run.set_tags({"trained": str(summary["trained"])})
    run.log_metrics(metrics)
    if summary.get("warnings"):  # scientific failures flagged by write_summary (spikernn.science)
        run.set_tags(warning_tags(summary))
    by_factor = summary.get("lif_accuracy_by_scaling_factor")
    if by_factor:
        factors = [float(s) for s in by_factor]
        scale = 1 if all(s.is_integer() for s in factors) else 1000
        run.log_series("lif_accuracy_by_factor", [round(s * scale) for s in factors], list(by_factor.values()))
        run.set_tags({"lif_accuracy_by_factor.step": "s" if scale == 1 else "1000·s"})


def execute(
    cfg: DictConfig,
    command: str,
    build: Callable[[dict], S],
    work: Work,
    tags: Callable[[S], dict],
    effective: Callable[[S], dict] = lambda settings: {},
) -> dict:
    """Validate ``cfg`` (resolved once) with ``build`` (a bad value exits with code 2 before anything
    is written or tracked), then do ``work`` inside an MLflow run and log its summary.

    The run's params are the resolved config, with ``effective(settings)`` replacing the entries
    that the command resolves itself (e.g. values stored with a model)."""
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        raw = plain(cfg)
        settings = build(raw)
        tracking = build_tracking(raw)
        trial = TrialLink.from_config(raw.get("optuna"))
    except ConfigError as err:
        _discard_empty_run_dir(out_dir)
        print(f"{command}: invalid config: {err}", file=sys.stderr)
        sys.exit(2)
    # the rate net's matrices are small: one intra-op thread is faster, and much faster on a loaded machine
    torch.set_num_threads(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {**raw, **effective(settings)}
    all_tags = tags(settings)
    if trial is not None:
        all_tags |= {"optuna_study": trial.study_name, "optuna_trial": str(trial.number)}
    output_dir = raw["paths"]["output_dir"]
    try:
        with interruptible(), TrackedRun(tracking, output_dir, out_dir, command, params, all_tags) as run:
            log.info(f"{command}: run folder {out_dir}; MLflow run {run.run_id} ({run.tracking_uri})")
            if trial is not None:
                trial.attach_run(run.run_id)
            start = time.perf_counter()
            with PhaseProgress() as progress:
                summary = work(settings, CommandContext(out_dir, run, progress, trial))
            summary["seconds"] = round(time.perf_counter() - start, 2)
            summary["mlflow_run_id"] = run.run_id
            write_summary(out_dir, summary)
            log_summary(run, summary)
            if summary.get("task"):
                log_run_models(run.tracking_uri, run.run_id, out_dir, summary["task"], tracking.register_as)
            if trial is not None and raw.get("objective"):
                trial.record_result(objective_value(summary, raw["objective"]))
    except Interrupted as stop:  # SIGTERM / Ctrl-C: the run is closed KILLED, what was written is kept
        acknowledge()
        log.error(f"{command}: {stop}; MLflow run ended KILLED; what was written is in {out_dir}")
        sys.exit(stop.exit_code)
    # stdout: the summary alone (messages and progress bars go to stderr and the job log)
    shown = {k: summary[k] for k in SUMMARY_KEYS if k in summary}
    print(json.dumps({**shown, "mlflow_run_id": run.run_id, "run_folder": str(out_dir)}, indent=2))
    log.info(f"{command}: results in {out_dir}")
    return summary
