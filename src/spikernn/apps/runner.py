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
from spikernn.apps.identity import job_key
from spikernn.apps.progress import PhaseProgress
from spikernn.interrupts import Interrupted, acknowledge, interruptible
from spikernn.pipeline import score_rate_model, write_summary
from spikernn.results import FinetuneRecord, Result, SourceResult, metric, metrics_by_model_file, tracking_record
from spikernn.run_config import BOOKKEEPING, RunConfig
from spikernn.science_checks import warning_tags
from spikernn.sweeps import TrialLink
from spikernn.tracking import TrackedRun
from spikernn.tracking.models import MODEL_FILE_OF, log_run_models
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
    figures: bool = True  # logger.figures: draw the run's figures

    @property
    def monitor(self) -> Callable[[int, list[float]], bool] | None:
        """For the factor search: report the best accuracy so far; False when the pruner says stop."""
        if self.trial is None:
            return None
        return lambda trials_done, accuracy: self.trial.keep_going(trials_done, max(accuracy))


Work = Callable[[S, CommandContext], Result]


@dataclass
class RunLabel:
    """What names a command's run: the network's task, size and seed (and its source model)."""

    task: str
    n_units: int
    seed: int
    source: str | None = None
    label: str | None = None  # the task as run names show it (a NeuroGym task: its environment)

    def tags(self) -> dict[str, str]:
        tags = {"task": self.task, "seed": str(self.seed)}
        return tags if self.source is None else {**tags, "source": self.source}

    def name(self, command: str, trial: TrialLink | None) -> str:
        """e.g. ``go_nogo-N200-seed0`` (spikernn-run), ``go_nogo-N200-seed0-convert``, ``…-trial3``."""
        name = f"{self.label or self.task}-N{self.n_units}-seed{self.seed}"
        verb = command.removeprefix("spikernn-")
        name = name if verb == "run" else f"{name}-{verb}"
        return name if trial is None else f"{name}-trial{trial.number}"


def run_label(cfg: RunConfig) -> RunLabel:
    """A command that trains (``spikernn-train``, ``spikernn-run``)."""
    return RunLabel(cfg.task.name, cfg.model.n_units, cfg.seed, label=cfg.task.label)


def source_label(cfg: ConvertConfig | EvaluateConfig) -> RunLabel:
    """A command that starts from a trained model (``spikernn-convert``, ``-evaluate``, ``-finetune``)."""
    src = cfg.source
    return RunLabel(src.task.name, src.model.config.n_units, cfg.seed, src.source, src.task.config.label)


def source_result(cfg: ConvertConfig | EvaluateConfig) -> SourceResult:
    """The result's head for a command that starts from a trained model: the model, its source."""
    src = cfg.source
    return SourceResult(
        rate_model=score_rate_model(src.model, src.task, cfg.seed, cfg.eval_trials), source=src.source, seed=cfg.seed
    )


@dataclass
class CommandResult(Result):
    """A command's result as ``summary.json`` holds it: the work's result, its wall time (s) and run."""

    result: Result
    seconds: float = metric()
    mlflow_run_id: str = ""


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


# groups of an experiment preset that a command on a trained model (convert, evaluate, finetune) does
# not use: not its params (the model file holds what the network is)
TRAINING_GROUPS = ("model", "trainer")


def split_params(config: dict) -> tuple[dict, dict[str, str]]:
    """The experiment's parameters (nested) and the bookkeeping settings as tags (``a.b`` keys)."""
    params = json.loads(json.dumps(config))  # a deep copy of plain values
    tags: dict[str, str] = {}
    for key in BOOKKEEPING:
        *parents, last = key.split(".")
        node = params
        for part in parents:
            node = node.get(part) or {}
        if last in node:
            value = node.pop(last)
            flat = {f"{key}.{k}": v for k, v in value.items()} if isinstance(value, dict) else {key: value}
            tags |= {k: str(v) for k, v in flat.items() if v is not None}
    return params, tags


def _unused_settings(group: str, node: dict) -> set[str]:
    """The keys of config group ``group`` that the group's own selectors leave without effect."""
    if group == "finetune" and node.get("enabled") is False:
        return set(node) - {"enabled"}
    if group == "transfer":
        unused = set()
        if node.get("search") == "grid":
            unused |= {"round_trials", "race_z"}
        if node.get("rescore_best") == 0:
            unused.add("rescore_trials")
        if node.get("scaling_factor") is not None:  # one given factor: the grid is that factor
            unused.add("scaling_factors")
        return unused
    return set()


def without_unused(params: dict) -> dict:
    """``params`` without the settings of stages and options that did not run: fine-tuning's with
    ``finetune.enabled=false``, the race's with the grid search, the grid with one given factor
    (a sweep's trials would each log their own one-element list). They would otherwise fill MLflow's
    Compare (its parallel-coordinates axes) with values that changed nothing; the full config stays
    in the run folder's ``.hydra/config.yaml``."""
    kept = dict(params)
    for group, node in params.items():
        if isinstance(node, dict) and (unused := _unused_settings(group, node)):
            kept[group] = {k: v for k, v in node.items() if k not in unused}
    return kept


def _merge(base: dict, update: dict) -> dict:
    """``base`` with ``update``'s values put in, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in update.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def _discard_empty_run_dir(out_dir: Path) -> None:
    """Remove a run folder that holds nothing but Hydra's own bookkeeping."""
    if out_dir.is_dir() and all(p.name in {".hydra", "run.log"} for p in out_dir.iterdir()):
        shutil.rmtree(out_dir)


def log_finetuning_curves(ctx: CommandContext, record: FinetuneRecord) -> None:
    """Fine-tuning's training loss and validation accuracy as MLflow metric histories (step = batch):
    ``finetune_loss``, ``finetune_validation_accuracy``."""
    ctx.run.log_series("finetune_loss", record.history.batch, record.history.loss)
    ctx.run.log_series("finetune_validation_accuracy", record.validation.batch, record.validation.accuracy)


def log_result(run: TrackedRun, result: Result, summary: dict, model_ids: dict[str, str] | None = None) -> None:
    """The result's metrics, tags and tables (``results.tracking_record``), and the flagged
    scientific failures of its summary as tags. A metric of a stage whose model file was logged as
    the MLflow model ``model_ids[file]`` is linked to it: the Models page shows each model with its
    own numbers (the rate model its rate accuracy, a spiking model its LIF accuracy)."""
    record = tracking_record(result)
    linked: set[str] = set()
    for file, metrics in metrics_by_model_file(result).items():
        if file in (model_ids or {}):
            run.log_metrics({k: v for k, v in metrics.items() if k in record.metrics}, model_id=model_ids[file])
            linked |= metrics.keys()
    run.log_metrics({k: v for k, v in record.metrics.items() if k not in linked})
    run.set_tags(record.tags | warning_tags(summary))
    for name, columns in record.tables.items():
        run.log_table(name, columns)


def execute(
    cfg: DictConfig,
    command: str,
    build: Callable[[dict], S],
    work: Work,
    label: Callable[[S], RunLabel],
    effective: Callable[[S], dict] = lambda settings: {},
) -> dict:
    """Validate ``cfg`` (resolved once) with ``build`` (a bad value exits with code 2 before anything
    is written or tracked), then do ``work`` inside an MLflow run and log its result.

    The run's params are the resolved config with ``effective(settings)`` put in where the command
    resolves values itself (e.g. the factor grid, values stored with a model); bookkeeping settings
    (``BOOKKEEPING``) are tags."""
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
    params, all_tags = split_params(_merge(raw, effective(settings)))
    params = {k: v for k, v in without_unused(params).items() if k not in TRAINING_GROUPS or hasattr(settings, k)}
    labels = label(settings)
    all_tags |= labels.tags() | {"job_key": job_key(command, split_params(raw)[0])}
    if trial is not None:
        all_tags |= {"optuna_study": trial.study_name, "optuna_trial": str(trial.number)}
        if trial.network is not None:
            all_tags["optuna_network"] = str(trial.network)
    output_dir = raw["paths"]["output_dir"]
    name = labels.name(command, trial)
    try:
        with interruptible(), TrackedRun(tracking, output_dir, out_dir, command, params, all_tags, name) as run:
            log.info(f"{command}: run folder {out_dir}; MLflow run {run.run_id} ({run.tracking_uri})")
            if trial is not None:
                trial.attach_run(run.run_id)
            start = time.perf_counter()
            with PhaseProgress() as progress:
                result = work(settings, CommandContext(out_dir, run, progress, trial, tracking.figures))
            outcome = CommandResult(result, round(time.perf_counter() - start, 2), run.run_id)
            summary = outcome.summary()
            write_summary(out_dir, summary)
            model_ids: dict[str, str] = {}
            try:  # the models first: MLflow gives a model logged later every metric the run has at step 0
                if summary.get("task") and tracking.log_models:
                    logged = log_run_models(
                        run.tracking_uri, run.run_id, out_dir, summary["task"], tracking.register_as
                    )
                    model_ids = {MODEL_FILE_OF[m.name]: m.model_id for m in logged}
            finally:
                log_result(run, outcome, summary, model_ids)
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
