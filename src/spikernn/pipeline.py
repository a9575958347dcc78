"""The method's stages on one network, each writing its files into a run folder:

train (task → rate model) → convert (transfer + scaling-factor search) → evaluate (fresh trials).

Plain Python (no Hydra, no MLflow): ``apps/`` wires configs and tracking around it. Each stage
draws from its own seeded generator, so running the stages one by one (``spikernn-train``,
``spikernn-convert``, ``spikernn-evaluate``) gives the same numbers as ``spikernn-run``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch

from spikernn.finetune import finetune_stage
from spikernn.io import ModelInfo, export_mat, save_rate_model
from spikernn.io.files import CONVERTED_MODEL_FILE, MAT_FILE, RATE_MODEL_FILE, SUMMARY_FILE
from spikernn.plots import SavedFigure, plot_accuracy_by_factor, plot_raster, plot_readouts, plot_training
from spikernn.rate import RateRNN
from spikernn.rate.training import MemberResult, train_rate_model
from spikernn.results import (
    ConversionResult,
    EvaluationResult,
    RateModelResult,
    RunResult,
    TrainingHistory,
    TrainResult,
)
from spikernn.run_config import ConversionSettings, EvaluationSettings, RunConfig
from spikernn.science_checks import flag_failures, json_safe, warn
from spikernn.scoring import Progress, Stream, evaluate_rate, evaluate_spiking, phase
from spikernn.spiking import SpikingRNN, Stimulation
from spikernn.tasks import Task, condition_slug, get_task
from spikernn.transfer import search_scaling_factor, to_spiking
from spikernn.transfer_config import factor_grid_of

log = logging.getLogger(__name__)


def score_rate_model(model: RateRNN, task: Task, seed: int, eval_trials: int) -> RateModelResult:
    """Size, E/I split, τ_d statistics (ms) and fresh-trial score of a rate model."""
    score = evaluate_rate(model, task, eval_trials, Stream.RATE_EVALUATION.generator(seed))
    taus = model.taus_ms()
    return RateModelResult(
        task=task.name,
        N=model.config.n_units,
        n_exc=int((~model.inhibitory).sum()),
        n_inh=int(model.inhibitory.sum()),
        rate_accuracy=score.accuracy,
        rate_loss=score.loss,
        rate_nan_readout_trials=score.nan_trials,
        rate_eval_trials=eval_trials,
        chance_accuracy=task.chance_accuracy,
        tau_d_ms_mean=taus.mean().item(),
        tau_d_ms_sd=taus.std().item() if taus.numel() > 1 else 0.0,
    )


def train_stage(
    cfg: RunConfig,
    out_dir: Path,
    *,
    callbacks: list | None = None,
    trained: MemberResult | None = None,
    figures: bool = True,
) -> tuple[RateRNN, TrainResult]:
    """Train a rate model (checkpoints in ``checkpoints/``), or take the one a population trained
    (``trained``, see ``train_population``); write ``rate_model.pt``, ``rate_model.mat`` and
    (``figures``) ``training.png``."""
    task = get_task(cfg.task)
    if trained is None:
        start = time.perf_counter()
        model, record = train_rate_model(
            task,
            cfg.model,
            cfg.trainer,
            seed=cfg.seed,
            callbacks=callbacks,
            checkpoint_dir=out_dir / "checkpoints",
            default_root_dir=str(out_dir),
        )
        seconds, population = time.perf_counter() - start, 1
    else:
        model, record, seconds, population = trained.model, trained.record, trained.seconds, trained.population_size
    save_rate_model(
        out_dir / RATE_MODEL_FILE,
        model,
        ModelInfo(task=task.name, trained=record.trained, task_settings=task.config.settings()),
    )
    export_mat(out_dir / MAT_FILE, model)
    drawn = []
    if figures and record.trials_seen:
        rule = cfg.trainer.stopping
        drawn.append(
            plot_training(
                out_dir / "training.png",
                record.trials_seen,
                record.eval_loss,
                record.eval_accuracy,
                train_loss=record.train_loss,
                loss_threshold=rule.loss_threshold,
                accuracy_threshold=rule.accuracy_threshold,
                min_trials=task.min_training_trials,
                trials_to_criterion=record.trials_to_criterion,
            )
        )
    result = TrainResult(
        rate_model=score_rate_model(model, task, cfg.seed, cfg.eval_trials),
        seed=cfg.seed,
        trained=record.trained,
        trials_to_criterion=record.trials_to_criterion,
        training_seconds=round(seconds, 2),
        population_size=population,
        training_history=TrainingHistory(record.trials_seen, record.train_loss, record.eval_loss, record.eval_accuracy),
        figures=[p.name for p in drawn],
        models=[RATE_MODEL_FILE, MAT_FILE],
    )
    return model, result


def example_figures(
    out_dir: Path,
    model: RateRNN,
    network: SpikingRNN,
    task: Task,
    factor: float,
    generator: torch.Generator,
    stimulation: Stimulation | None = None,
) -> list[SavedFigure]:
    """One trial of each type: rate vs LIF readout, and a raster of the first two trial types."""
    trials = task.make_trials(len(task.condition_names), generator, conditions=torch.arange(len(task.condition_names)))
    with torch.no_grad():
        rate_out = model(trials.inputs, generator=generator).readout
    lif = network.simulate(trials.inputs, factor, generator=generator, record=("spikes",), stimulation=stimulation)
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
    settings: EvaluationSettings,
    factor: float,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    stimulation: Stimulation | None = None,
    figures: bool = True,
) -> EvaluationResult:
    """Score the converted network at ``factor`` on fresh trials (under optogenetic-style
    ``stimulation`` if given: the trials and the figures); write the example figures (``figures``)."""
    network = to_spiking(model, settings.spiking, input_step_ms=task.step_ms)
    return _evaluate_converted(model, network, task, factor, settings, out_dir, progress, stimulation, figures)


def _evaluate_converted(
    model: RateRNN,
    network: SpikingRNN,
    task: Task,
    factor: float,
    settings: EvaluationSettings,
    out_dir: Path,
    progress: Progress | None,
    stimulation: Stimulation | None = None,
    figures: bool = True,
) -> EvaluationResult:
    generator = Stream.EVALUATION.generator(settings.seed)
    score = evaluate_spiking(
        network, task, factor, settings.eval_trials, generator, phase(progress, "evaluation"), stimulation
    )
    drawn = []
    if figures:
        drawn = example_figures(
            out_dir, model, network, task, factor, Stream.EXAMPLES.generator(settings.seed), stimulation
        )
    return EvaluationResult(
        spiking=settings.spiking,
        scaling_factor=factor,
        lambda_=1.0 / factor,
        eval_trials=settings.eval_trials,
        score=score,
        figures=[p.name for p in drawn],
    )


def convert_stage(
    model: RateRNN,
    task: Task,
    settings: ConversionSettings,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    monitor: Callable[[int, list[float]], bool] | None = None,
    figures: bool = True,
) -> ConversionResult:
    """Transfer, search the scaling factor, evaluate at the best one; write the converted model
    (``converted_model.pt``), its .mat export with the search results, and (``figures``) the figures.

    ``monitor`` (see ``search_scaling_factor``) may stop a hopeless search: then nothing is
    evaluated and the result says ``pruned``."""
    spiking, transfer = settings.spiking, settings.transfer
    network = to_spiking(model, spiking, input_step_ms=task.step_ms, use_initial_weights=transfer.use_initial_weights)
    search = search_scaling_factor(
        network,
        task,
        factor_grid_of(transfer, model.config.activation),
        transfer.trials_per_factor,
        Stream.SEARCH.generator(settings.seed),
        transfer.chunk_trials,
        on_progress=phase(progress, "factor search"),
        report_every_trials=transfer.report_every_trials,
        monitor=monitor,
        rescore_best=transfer.rescore_best,
        rescore_trials=transfer.rescore_trials,
        search=transfer.search,
        round_trials=transfer.round_trials,
        race_z=transfer.race_z,
    )
    best = search.best_factor
    drawn = []
    if figures:
        drawn.append(
            plot_accuracy_by_factor(
                out_dir / "accuracy_by_factor.png",
                search.scaling_factors,
                search.accuracy,
                best,
                trials=search.trials_by_factor or search.trials_per_factor,
            )
        )
    result = ConversionResult(
        spiking=spiking,
        scaling_factor=best,
        search_trials_per_factor=search.trials_per_factor,
        search_trials=search.trials_simulated,
        search_accuracy=search.best_grid_accuracy,
        rescored_accuracy=search.rescored[search.best_index] if search.rescored else None,
        lif_accuracy_by_scaling_factor=dict(zip(map(str, search.scaling_factors), search.accuracy, strict=True)),
        pruned=search.stopped_early,
        figures=[p.name for p in drawn],
    )
    if search.stopped_early:
        return result
    result.evaluation = _evaluate_converted(model, network, task, best, settings, out_dir, progress, figures=figures)
    save_rate_model(
        out_dir / CONVERTED_MODEL_FILE,
        model,
        ModelInfo(task=task.name, scaling_factor=best, spiking=spiking, task_settings=task.config.settings()),
    )
    export_mat(
        out_dir / MAT_FILE,
        model,
        {"opt_scaling_factor": best, "all_perfs": search.accuracy, "scaling_factors": search.scaling_factors},
    )
    result.models = [CONVERTED_MODEL_FILE, MAT_FILE]
    return result


def write_summary(out_dir: Path, summary: dict) -> None:
    """Flag the scientific failures the summary shows (``science_checks.flag_failures``: a logged warning
    each, codes in ``summary["warnings"]``), then write ``summary.json`` into the run folder with
    NaN/Inf as null."""
    flag_failures(summary)
    (out_dir / SUMMARY_FILE).write_text(json.dumps(json_safe(summary), indent=2, allow_nan=False))


def run_pipeline(
    cfg: RunConfig,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    callbacks: list | None = None,
    monitor: Callable[[int, list[float]], bool] | None = None,
    trained: MemberResult | None = None,
    figures: bool = True,
) -> RunResult:
    """Train (or take the population-trained ``trained``), convert, search, evaluate, fine-tune if
    asked; write models and (``figures``) figures into ``out_dir`` and return the result (the
    command around it times it and writes ``summary.json``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    task = get_task(cfg.task)
    model, training = train_stage(cfg, out_dir, callbacks=callbacks, trained=trained, figures=figures)
    result = RunResult(train=training)
    if not training.trained and not cfg.allow_untrained:
        notes: dict = {}
        warn(
            notes,
            "untrained",
            "the rate network did not meet the training criterion: it is not converted "
            "(allow_untrained=true converts it anyway)",
        )
        result.warnings, result.warning_messages = notes["warnings"], notes["warning_messages"]
        return result
    conversion = convert_stage(model, task, cfg, out_dir, progress=progress, monitor=monitor, figures=figures)
    evaluation = conversion.evaluation if cfg.finetune.enabled else None
    if evaluation is not None and not cfg.finetune.wanted(evaluation.score.lif_accuracy):
        log.info(
            f"fine-tuning skipped: LIF accuracy {evaluation.score.lif_accuracy:.3f} is not below "
            f"finetune.below_accuracy = {cfg.finetune.below_accuracy}"
        )
    elif evaluation is not None:
        result.transfer = conversion
        result.finetune = finetune_stage(
            model, task, cfg.spiking, conversion.scaling_factor, cfg.finetune, cfg.seed, cfg.eval_trials,
            out_dir, progress=progress, figures=figures,
        )  # fmt: skip
        return result
    result.conversion = conversion
    return result
