"""The whole method on one network: train → transfer → search the factor → evaluate → files.

Plain Python (no Hydra, no MLflow): ``apps/`` wires configs and tracking around it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from spikernn.io import export_mat, save_rate_model
from spikernn.plots import plot_accuracy_by_factor, plot_raster, plot_readouts, plot_training
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.model import trial_loss
from spikernn.rate.training import TrainingConfig, train_rate_model
from spikernn.spiking import SpikingParameters, SpikingRNN
from spikernn.tasks import Task, get_task
from spikernn.transfer import FactorSearch, default_grid, search_scaling_factor, to_spiking
from spikernn.validation import check_int

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class RunConfig:
    """Everything the main job needs; built (and so validated) before any work starts."""

    task: str = "go_nogo"
    model: RateRNNConfig = field(default_factory=RateRNNConfig)
    spiking: SpikingParameters = field(default_factory=SpikingParameters)
    transfer: FactorSearch = field(default_factory=FactorSearch)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    seed: int = 0
    eval_trials: int = 200

    def __post_init__(self) -> None:
        task = get_task(self.task)
        check_int("seed", self.seed, 0)
        check_int("eval_trials", self.eval_trials, 1)
        if self.model.n_inputs != task.n_inputs:
            self.model = RateRNNConfig(**{**self.model.to_dict(), "n_inputs": task.n_inputs})

    @property
    def scaling_factors(self) -> list[float]:
        return self.transfer.scaling_factors or default_grid(self.model.activation)


@torch.no_grad()
def rate_accuracy(model: RateRNN, task: Task, n_trials: int, generator: torch.Generator) -> tuple[float, float]:
    """Accuracy and mean loss of the rate network on fresh trials (noise on)."""
    trials = task.make_trials(n_trials, generator)
    out = model(trials.inputs, generator=generator)
    loss = trial_loss(out.readout, trials.targets, model.config.loss).mean().item()
    return task.accuracy(out.readout, trials.labels, task.step_ms, "rate"), loss


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
        "lif_accuracy_by_condition": by_condition,
        "rate_exc_hz": rates[:, ~inh].mean().item(),
        "rate_inh_hz": rates[:, inh].mean().item() if inh.any() else None,
    }


def example_figures(
    out_dir: Path, model: RateRNN, network: SpikingRNN, task: Task, factor: float, generator: torch.Generator
) -> list[Path]:
    """One trial of each type: rate vs LIF readout, and a raster of the first trial type's LIF trial."""
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
        ),
    ]
    for c, name in enumerate(task.condition_names[:2]):
        spelled = name.replace("+", "p").replace("-", "m")  # keep "ctx1 +-" and "ctx1 -+" apart
        slug = "".join(ch if ch.isalnum() else "_" for ch in spelled).strip("_")
        paths.append(
            plot_raster(
                out_dir / f"raster_{slug}.png",
                lif.spikes[c],
                network.inhibitory,
                network.params.dt_ms,
                f"{task.name}: {name} trial, s = {factor:g}",
            )
        )
    return paths


def run_pipeline(
    cfg: RunConfig, out_dir: Path, progress: Progress | None = None, callbacks: list | None = None, logger=None
) -> dict:
    """Train, convert, search, evaluate; write models, figures and ``summary.json`` into ``out_dir``."""
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    task = get_task(cfg.task)
    step = (lambda phase: lambda done, total: progress(phase, done, total)) if progress else (lambda phase: None)

    model, record = train_rate_model(
        task, cfg.model, cfg.training, seed=cfg.seed, callbacks=callbacks, logger=logger, default_root_dir=str(out_dir)
    )
    train_seconds = time.perf_counter() - start
    generator = torch.Generator().manual_seed(cfg.seed + 100)
    rate_acc, rate_loss = rate_accuracy(model, task, cfg.eval_trials, generator)
    save_rate_model(out_dir / "rate_model.pt", model, {"task": task.name, "trained": record.trained})

    network = to_spiking(model, cfg.spiking, input_step_ms=task.step_ms)
    search = search_scaling_factor(
        network,
        task,
        cfg.scaling_factors,
        cfg.transfer.n_trials,
        generator,
        cfg.transfer.chunk_trials,
        on_progress=step("factor search"),
    )
    best = search.best_factor
    evaluation = evaluate_spiking(network, task, best, cfg.eval_trials, generator, on_progress=step("evaluation"))

    extra = {"task": task.name, "trained": record.trained, "scaling_factor": best, "spiking": cfg.spiking.to_dict()}
    save_rate_model(out_dir / "rate_model.pt", model, extra)
    export_mat(
        out_dir / "rate_model.mat",
        model,
        {"opt_scaling_factor": best, "all_perfs": search.accuracy, "scaling_factors": search.scaling_factors},
    )
    figures = example_figures(out_dir, model, network, task, best, generator)
    figures.append(
        plot_accuracy_by_factor(out_dir / "accuracy_by_factor.png", search.scaling_factors, search.accuracy, best)
    )
    if record.trials_seen:
        figures.append(
            plot_training(out_dir / "training.png", record.trials_seen, record.eval_loss, record.eval_accuracy)
        )
    summary = {
        "task": task.name,
        "N": cfg.model.n_units,
        "n_exc": int((~model.inhibitory).sum()),
        "n_inh": int(model.inhibitory.sum()),
        "seed": cfg.seed,
        "trained": record.trained,
        "trials_to_criterion": record.trials_to_criterion,
        "training_seconds": round(train_seconds, 2),
        "rate_accuracy": rate_acc,
        "rate_loss": rate_loss,
        "scaling_factor": best,
        "lambda": 1.0 / best,
        **evaluation,
        "lif_accuracy_by_scaling_factor": dict(zip(map(str, search.scaling_factors), search.accuracy, strict=True)),
        "tau_d_ms_mean": model.taus_ms().mean().item(),
        "tau_d_ms_sd": model.taus_ms().std().item(),
        "training_history": {
            "trials": record.trials_seen,
            "eval_loss": record.eval_loss,
            "eval_accuracy": record.eval_accuracy,
        },
        "figures": [p.name for p in figures],
        "seconds": round(time.perf_counter() - start, 2),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
