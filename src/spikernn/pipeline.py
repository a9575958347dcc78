"""The method's stages on one network, each writing its files into a run folder:

train (task → rate model) → convert (transfer + scaling-factor search) → evaluate (fresh trials).

Plain Python (no Hydra, no MLflow): ``apps/`` wires configs and tracking around it. Each stage
draws from its own seeded generator, so running the stages one by one (``spikernn-train``,
``spikernn-convert``, ``spikernn-evaluate``) gives the same numbers as ``spikernn-run``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from spikernn.finetune import FinetuneConfig, finetune_stage
from spikernn.io import export_mat, save_rate_model
from spikernn.plots import SavedFigure, plot_accuracy_by_factor, plot_raster, plot_readouts, plot_training
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.criterion import TrainingRecord
from spikernn.rate.model import trial_loss
from spikernn.rate.training import MemberResult, TrainerConfig, train_rate_model
from spikernn.science import flag_failures, json_safe, warn
from spikernn.spiking import SpikingParameters, SpikingRNN
from spikernn.tasks import GoNoGoConfig, Task, TaskConfig, condition_slug, get_task
from spikernn.transfer import TransferConfig, default_grid, search_scaling_factor, to_spiking
from spikernn.validation import ConfigError, check_int

Progress = Callable[[str, int, int], None]  # (phase, done, total)

RATE_MODEL_FILE = "rate_model.pt"
CONVERTED_MODEL_FILE = "converted_model.pt"  # rate model + chosen factor + spiking parameters
MAT_FILE = "rate_model.mat"
SUMMARY_FILE = "summary.json"

# offsets of each stage's generator from the run seed
_RATE_EVAL, _SEARCH, _EVALUATION, _EXAMPLES = 100, 200, 300, 400


@dataclass
class RunConfig:
    """Everything the main job needs; built (and so validated) before any work starts."""

    task: TaskConfig = field(default_factory=GoNoGoConfig)  # the task and its timing (reads as its name)
    model: RateRNNConfig = field(default_factory=RateRNNConfig)
    spiking: SpikingParameters = field(default_factory=SpikingParameters)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    seed: int = 0
    eval_trials: int = 200
    allow_untrained: bool = False  # convert a rate network that missed the training criterion

    def __post_init__(self) -> None:
        if not isinstance(self.allow_untrained, bool):
            raise ConfigError(f"allow_untrained must be true or false, got {self.allow_untrained!r}")
        if isinstance(self.finetune, dict):  # the ``finetune`` group of spikernn-run
            self.finetune = FinetuneConfig.from_dict(self.finetune)
        task = get_task(self.task)
        check_int("seed", self.seed, 0)
        check_int("eval_trials", self.eval_trials, 1)
        if self.model.n_inputs != task.n_inputs:
            self.model = RateRNNConfig(**{**self.model.to_dict(), "n_inputs": task.n_inputs})


def _phase(progress: Progress | None, phase: str) -> Callable[[int, int], None] | None:
    return None if progress is None else (lambda done, total: progress(phase, done, total))


def _generator(seed: int, offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed + offset)


@torch.no_grad()
def rate_accuracy(model: RateRNN, task: Task, n_trials: int, generator: torch.Generator) -> tuple[float, float]:
    """Accuracy and mean loss of the rate network on fresh trials (noise on)."""
    accuracy, loss, _ = _rate_evaluation(model, task, n_trials, generator)
    return accuracy, loss


def _rate_evaluation(model: RateRNN, task: Task, n_trials: int, generator: torch.Generator) -> tuple:
    """Accuracy, mean loss and the number of trials with a NaN readout."""
    trials = task.make_trials(n_trials, generator)
    out = model(trials.inputs, generator=generator)
    loss = trial_loss(out.readout, trials.targets, model.config.loss).mean().item()
    nan_trials = int(torch.isnan(out.readout).reshape(n_trials, -1).any(1).sum())
    return task.accuracy(out.readout, trials.labels, task.step_ms, "rate"), loss, nan_trials


def rate_model_summary(model: RateRNN, task: Task, seed: int, eval_trials: int) -> dict:
    """Size, E/I split, τ_d statistics and fresh-trial accuracy of a rate model."""
    with torch.no_grad():
        accuracy, loss, nan_trials = _rate_evaluation(model, task, eval_trials, _generator(seed, _RATE_EVAL))
    taus = model.taus_ms()
    return {
        "task": task.name,
        "N": model.config.n_units,
        "n_exc": int((~model.inhibitory).sum()),
        "n_inh": int(model.inhibitory.sum()),
        "rate_accuracy": accuracy,
        "rate_loss": loss,
        "rate_nan_readout_trials": nan_trials,
        "tau_d_ms_mean": taus.mean().item(),
        "tau_d_ms_sd": taus.std().item() if taus.numel() > 1 else 0.0,
    }


def train_stage(
    task: Task,
    model_config: RateRNNConfig,
    training: TrainerConfig,
    seed: int,
    eval_trials: int,
    out_dir: Path,
    callbacks: list | None = None,
    trained: MemberResult | None = None,
) -> tuple[RateRNN, dict]:
    """Train a rate model (checkpoints in ``checkpoints/``), or take the one a population trained
    (``trained``, see ``train_population``); write ``rate_model.pt``, ``rate_model.mat`` and
    ``training.png``."""
    if trained is None:
        start = time.perf_counter()
        model, record = train_rate_model(
            task,
            model_config,
            training,
            seed=seed,
            callbacks=callbacks,
            checkpoint_dir=out_dir / "checkpoints",
            default_root_dir=str(out_dir),
        )
        seconds, population = time.perf_counter() - start, 1
    else:
        model, record, seconds, population = trained.model, trained.record, trained.seconds, trained.population_size
    save_rate_model(out_dir / RATE_MODEL_FILE, model, {"task": task.name, "trained": record.trained})
    export_mat(out_dir / MAT_FILE, model)
    figures = []
    if record.trials_seen:
        figures.append(
            plot_training(
                out_dir / "training.png",
                record.trials_seen,
                record.eval_loss,
                record.eval_accuracy,
                train_loss=record.train_loss,
                loss_threshold=training.stopping.loss_threshold,
                accuracy_threshold=training.stopping.accuracy_threshold,
                min_trials=task.min_training_trials,
                trials_to_criterion=record.trials_to_criterion,
            )
        )
    summary = {
        **rate_model_summary(model, task, seed, eval_trials),
        "seed": seed,
        "trained": record.trained,
        "trials_to_criterion": record.trials_to_criterion,
        "training_seconds": round(seconds, 2),
        "population_size": population,
        "training_history": _history(record),
        "figures": [p.name for p in figures],
    }
    return model, summary


def _history(record: TrainingRecord) -> dict:
    return {
        "trials": record.trials_seen,
        "train_loss": record.train_loss,
        "eval_loss": record.eval_loss,
        "eval_accuracy": record.eval_accuracy,
    }


def evaluate_spiking(
    network: SpikingRNN,
    task: Task,
    factor: float,
    n_trials: int,
    generator: torch.Generator,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict:
    """LIF accuracy on fresh trials at one factor, and mean firing rates (Hz) of E and I units."""
    trials = task.make_trials(n_trials, generator)
    result = network.simulate(trials.inputs, factor, generator=generator, on_progress=on_progress)
    correct = task.score(result.readout, trials.labels, network.params.dt_ms, "spiking")
    rates = result.firing_rates_hz()
    inh = network.inhibitory
    by_condition = {
        name: correct[trials.conditions == c].double().mean().item()
        for c, name in enumerate(task.condition_names)
        if (trials.conditions == c).any()
    }
    return {
        "lif_accuracy": correct.double().mean().item(),
        "lif_nan_readout_trials": int(torch.isnan(result.readout).reshape(n_trials, -1).any(1).sum()),
        "lif_accuracy_by_condition": by_condition,
        "rate_exc_hz": rates[:, ~inh].mean().item(),
        "rate_inh_hz": rates[:, inh].mean().item() if inh.any() else None,
    }


def example_figures(
    out_dir: Path, model: RateRNN, network: SpikingRNN, task: Task, factor: float, generator: torch.Generator
) -> list[SavedFigure]:
    """One trial of each type: rate vs LIF readout, and a raster of the first two trial types."""
    trials = task.make_trials(len(task.condition_names), generator, conditions=torch.arange(len(task.condition_names)))
    with torch.no_grad():
        rate_out = model(trials.inputs, generator=generator).readout
    lif = network.simulate(trials.inputs, factor, generator=generator, record=("spikes",))
    paths = [
        plot_readouts(
            out_dir / "readout_rate_vs_lif.png",
            list(task.condition_names),
            rate_out,
            task.step_ms,
            lif.readout,
            network.params.dt_ms,
            trials.targets,
            factor,
            inputs=trials.inputs,
            scored_from_ms=task.scoring_window("spiking").from_ms,
        ),
    ]
    for c, name in enumerate(task.condition_names[:2]):
        paths.append(
            plot_raster(
                out_dir / f"raster_{condition_slug(name)}.png",
                lif.spikes[c],
                network.inhibitory,
                network.params.dt_ms,
                f"{task.name}: {name} trial, s = {factor:g}",
            )
        )
    return paths


def evaluate_stage(
    model: RateRNN,
    task: Task,
    spiking: SpikingParameters,
    factor: float,
    seed: int,
    n_trials: int,
    out_dir: Path,
    progress: Progress | None = None,
) -> dict:
    """Score the converted network at ``factor`` on fresh trials; write the example figures."""
    network = to_spiking(model, spiking, input_step_ms=task.step_ms)
    return _evaluate_converted(model, network, task, factor, seed, n_trials, out_dir, progress)


def _evaluate_converted(
    model: RateRNN,
    network: SpikingRNN,
    task: Task,
    factor: float,
    seed: int,
    n_trials: int,
    out_dir: Path,
    progress: Progress | None,
) -> dict:
    evaluation = evaluate_spiking(
        network, task, factor, n_trials, _generator(seed, _EVALUATION), _phase(progress, "evaluation")
    )
    figures = example_figures(out_dir, model, network, task, factor, _generator(seed, _EXAMPLES))
    return {
        "scaling_factor": factor,
        "lambda": 1.0 / factor,
        "eval_trials": n_trials,
        **evaluation,
        "figures": [p.name for p in figures],
    }


def convert_stage(
    model: RateRNN,
    task: Task,
    spiking: SpikingParameters,
    transfer: TransferConfig,
    seed: int,
    eval_trials: int,
    out_dir: Path,
    progress: Progress | None = None,
    monitor: Callable[[int, list[float]], bool] | None = None,
) -> dict:
    """Transfer, search the scaling factor, evaluate at the best one; write the converted model
    (``converted_model.pt``), its .mat export with the search results, and the figures.

    ``monitor`` (see ``search_scaling_factor``) may stop a hopeless search: then nothing is
    evaluated and the summary says ``pruned``."""
    network = to_spiking(model, spiking, input_step_ms=task.step_ms, use_initial_weights=transfer.use_initial_weights)
    factors = transfer.scaling_factors or default_grid(model.config.activation)
    search = search_scaling_factor(
        network,
        task,
        factors,
        transfer.n_trials,
        _generator(seed, _SEARCH),
        transfer.chunk_trials,
        on_progress=_phase(progress, "factor search"),
        report_every_trials=transfer.report_every_trials,
        monitor=monitor,
    )
    best = search.best_factor
    figure = plot_accuracy_by_factor(
        out_dir / "accuracy_by_factor.png", search.scaling_factors, search.accuracy, best, n_trials=search.n_trials
    )
    searched = {
        "spiking": spiking.to_dict(),
        "search_trials": search.n_trials,
        "search_accuracy": search.best_accuracy,
        "lif_accuracy_by_scaling_factor": dict(zip(map(str, search.scaling_factors), search.accuracy, strict=True)),
        "pruned": search.stopped_early,
    }
    if search.stopped_early:
        return {"scaling_factor": best, "lif_accuracy": None, **searched, "figures": [figure.name]}
    evaluation = _evaluate_converted(model, network, task, best, seed, eval_trials, out_dir, progress)
    extra = {"task": task.name, "scaling_factor": best, "spiking": spiking.to_dict()}
    save_rate_model(out_dir / CONVERTED_MODEL_FILE, model, extra)
    export_mat(
        out_dir / MAT_FILE,
        model,
        {"opt_scaling_factor": best, "all_perfs": search.accuracy, "scaling_factors": search.scaling_factors},
    )
    return {**evaluation, **searched, "figures": [*evaluation["figures"], figure.name]}


def write_summary(out_dir: Path, summary: dict) -> None:
    """Flag the scientific failures the summary shows (``science.flag_failures``: a logged warning
    each, codes in ``summary["warnings"]``), then write ``summary.json`` into the run folder with
    NaN/Inf as null."""
    flag_failures(summary)
    (out_dir / SUMMARY_FILE).write_text(json.dumps(json_safe(summary), indent=2, allow_nan=False))


def run_pipeline(
    cfg: RunConfig,
    out_dir: Path,
    progress: Progress | None = None,
    callbacks: list | None = None,
    monitor: Callable[[int, list[float]], bool] | None = None,
    trained: MemberResult | None = None,
) -> dict:
    """Train (or take the population-trained ``trained``), convert, search, evaluate; write models and
    figures into ``out_dir`` and return the summary (the command around it times it and writes
    ``summary.json``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    task = get_task(cfg.task)
    member = trained
    model, trained = train_stage(task, cfg.model, cfg.trainer, cfg.seed, cfg.eval_trials, out_dir, callbacks, member)
    if not trained["trained"] and not cfg.allow_untrained:
        warn(
            trained,
            "untrained",
            "the rate network did not meet the training criterion: it is not converted "
            "(allow_untrained=true converts it anyway)",
        )
        return {**trained, "scaling_factor": None, "lif_accuracy": None}
    converted = convert_stage(
        model, task, cfg.spiking, cfg.transfer, cfg.seed, cfg.eval_trials, out_dir, progress, monitor
    )
    summary = {**trained, **converted, "figures": [*trained["figures"], *converted["figures"]]}
    if cfg.finetune.enabled and converted["lif_accuracy"] is not None:
        tuned = finetune_stage(
            model, task, cfg.spiking, converted["scaling_factor"], cfg.finetune, cfg.seed, cfg.eval_trials, out_dir,
            progress=progress,
        )  # fmt: skip
        summary["finetune"] = tuned
        summary |= {f"finetuned_{k}": tuned[k] for k in FINETUNE_SUMMARY_KEYS}
    return summary


# what spikernn-run's summary (and MLflow metrics) take over from the fine-tuning stage, as finetuned_<key>
FINETUNE_SUMMARY_KEYS = (
    "lif_accuracy",
    "scaling_factor",
    "rate_exc_hz",
    "rate_inh_hz",
    "finetune_seconds",
    "peak_rss_mib",
)
