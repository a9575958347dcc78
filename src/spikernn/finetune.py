"""Surrogate-gradient fine-tuning of a converted spiking network (issue 13).

The one-to-one transfer leaves many networks short of the task (softplus and ReLU networks,
small networks, sigmoid networks with short τ). Here the converted LIF network itself is trained
by backpropagation through time with surrogate gradients (snnTorch's ``fire()``, see
:mod:`spikernn.spiking.differentiable`), starting from the transferred weights and factor:

* trainable: W (as the rate model's ``relu(W)·sign ⊙ mask``: Dale's signs and the connectivity
  mask are kept), W_out, optionally τ_d (the rate model's σ-parametrised τ, inside its range)
  and the scaling factor s (as log s); W_in, the neuron and the synapse's rise time stay fixed;
* loss: the squared error of the spiking readout against the task's target on the 5-ms grid
  (the rate model's target), plus ``window_loss`` × the scoring rule as a squared hinge in the
  task's scoring window (:func:`window_loss`: what the accuracy counts), plus ``rate_penalty``
  × the mean of relu(rate − ``max_rate_hz``)² over units, which keeps firing rates biological;
* memory: training runs at ``train_dt_ms`` (0.5 ms: 2 000 steps per Go-NoGo trial instead of
  20 000; activations ~15 [B, N] tensors per step) and, with ``checkpoint_steps``, recomputes
  chunks of the trial in the backward pass (:func:`torch.utils.checkpoint.checkpoint`);
* judged by the standard simulator only: every ``validate_every`` batches the network is
  simulated with the fused kernel at the evaluation dt (0.05 ms) on ``validation_trials`` fresh
  trials (a generator of its own), the best state is kept, and training stops once it reaches
  ``stop_accuracy``; before and after, :func:`spikernn.scoring.evaluate_spiking` scores the
  network on the run's ``eval_trials`` fresh trials (the same trials and noise seed both times).

The result is saved as a converted model file (the rate model's format with the fine-tuned W,
W_out, τ and the factor s), so ``spikernn-evaluate`` and ``spikernn-finetune`` read it back.
"""

from __future__ import annotations

import copy
import logging
import math
import resource
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from spikernn.finetune_config import FinetuneConfig
from spikernn.io import ModelInfo, save_rate_model
from spikernn.io.files import FINETUNED_MODEL_FILE
from spikernn.plots.figures import plot_finetuning, plot_readouts
from spikernn.plots.style import SavedFigure
from spikernn.rate import RateRNN
from spikernn.results import EvaluationResult, FinetuneHistory, FinetuneRecord, FinetuneResult, ValidationHistory
from spikernn.scoring import Stream, evaluate_spiking, phase
from spikernn.spiking import SpikingParameters
from spikernn.spiking.differentiable import simulate_surrogate
from spikernn.spiking.neurons import IntegrateAndFire
from spikernn.tasks import Task, Trials
from spikernn.transfer import to_spiking
from spikernn.transfer_config import check_factor
from spikernn.validation import ConfigError

log = logging.getLogger(__name__)


class TrialStream(IterableDataset):
    """An endless stream of batches of fresh trials from a seeded generator."""

    def __init__(self, task: Task, batch_size: int, seed: int) -> None:
        self.task, self.batch_size, self.seed = task, batch_size, seed

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            yield self.task.make_trials(self.batch_size, generator)


def training_parameters(spiking: SpikingParameters, train_dt_ms: float, input_step_ms: float) -> SpikingParameters:
    """The spiking parameters at the training step: same neuron and synapse, dt = ``train_dt_ms``,
    and per-step noise scaled by √(dt_train/dt) so that its diffusion per ms is unchanged."""
    ratio = input_step_ms / train_dt_ms
    if abs(ratio - round(ratio)) > 1e-6:
        raise ConfigError(f"finetune.train_dt_ms must divide the stimulus step ({input_step_ms} ms), got {train_dt_ms}")
    scale = math.sqrt(train_dt_ms / spiking.dt_ms)
    return replace(
        spiking,
        dt_ms=train_dt_ms,
        noise_std_mv=spiking.noise_std_mv * scale if spiking.noise_mode == "voltage" else spiking.noise_std_mv,
        current_noise_std_mv=spiking.current_noise_std_mv * scale
        if spiking.noise_mode == "current"
        else spiking.current_noise_std_mv,
    )


class TrainableSpikingRNN(nn.Module):
    """The converted network with its trainable weights: a copy of the rate model (W, W_out, τ
    parametrised as there) and log s; ``forward`` simulates it with surrogate gradients at the
    training step."""

    def __init__(
        self,
        model: RateRNN,
        scaling_factor: float,
        params: SpikingParameters,
        input_step_ms: float,
        train_tau: bool = False,
        train_scaling_factor: bool = True,
        checkpoint_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.rate = copy.deepcopy(model).float()
        for name, tensor in self.rate.named_parameters():
            tensor.requires_grad_(name in ("w", "w_out") or (name == "tau_raw" and train_tau))
        log_s = torch.tensor(math.log(scaling_factor))
        self.log_s = nn.Parameter(log_s) if train_scaling_factor else nn.Buffer(log_s)
        self.params = params
        self.neuron = IntegrateAndFire(params)
        self.steps_per_column = round(input_step_ms / params.dt_ms)
        self.checkpoint_steps = checkpoint_steps

    @property
    def scaling_factor(self) -> float:
        return float(self.log_s.detach().exp())

    def forward(self, inputs: torch.Tensor, generator: torch.Generator | None = None, noise: bool = True):
        return simulate_surrogate(
            self.neuron,
            self.rate.effective_weights(),
            self.rate.w_in,
            self.rate.w_out,
            self.rate.taus_ms(),
            torch.exp(-self.log_s),
            inputs,
            self.steps_per_column,
            generator=generator,
            noise=noise,
            sample_every=self.steps_per_column,
            checkpoint_steps=self.checkpoint_steps,
            exact=False,
        )

    def export(self) -> tuple[RateRNN, float]:
        """The fine-tuned weights as a rate-model copy (converted-model file format) and s."""
        model = copy.deepcopy(self.rate).eval()
        for tensor in model.parameters():
            tensor.requires_grad_(False)
        return model, self.scaling_factor


def readout_loss(readout: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of readout samples at (m + 1)·5 ms against ``targets[..., m + 1]`` (every
    output's against its own target where there are several)."""
    n = min(readout.shape[-1], targets.shape[-1] - 1)
    return (readout[..., :n] - targets[..., 1 : n + 1]).square().mean()


def window_loss(readout: torch.Tensor, targets: torch.Tensor, task: Task, margin: float = 0.1) -> torch.Tensor:
    """The scoring rule as a squared hinge on the readout samples in the task's spiking window:
    a trial whose target there is +1 (−1) must reach threshold + margin (−threshold − margin),
    a trial whose target is 0 must stay under quiet_threshold − margin (each output on its own where
    there are several: the chosen one must respond, the others stay quiet)."""
    window = task.scoring_window("spiking")
    first = max(0, round(window.from_ms / task.step_ms) - 1)  # sample m lies at (m + 1)·step
    n = min(readout.shape[-1], targets.shape[-1] - 1)
    part, goal = readout[..., first:n], targets[..., first + 1 : n + 1]
    positive, negative = goal.amax(-1) > 0.5, goal.amin(-1) < -0.5
    quiet = ~(positive | negative)
    loss = torch.where(positive, torch.relu(window.threshold + margin - part.amax(-1)).square(), 0.0)
    loss = loss + torch.where(negative, torch.relu(part.amin(-1) + window.threshold + margin).square(), 0.0)
    level = part.abs() if window.quiet_uses_abs else part
    quiet_loss = torch.relu(level.amax(-1) - window.quiet_threshold + margin).square()
    return (loss + torch.where(quiet, quiet_loss, 0.0)).mean()


class SpikingFinetuneModule(pl.LightningModule):
    """BPTT on fresh trials; validation with the fused kernel at the evaluation dt (best kept)."""

    def __init__(
        self, net: TrainableSpikingRNN, task: Task, cfg: FinetuneConfig, eval_params: SpikingParameters, seed: int
    ) -> None:
        super().__init__()
        self.net = net
        self.task = task
        self.cfg = cfg
        self.eval_params = eval_params
        self.noise_generator = Stream.FINETUNE_NOISE.generator(seed)
        self.validation_seed = seed + Stream.FINETUNE_VALIDATION
        self.history = FinetuneHistory()
        self.validation = ValidationHistory()
        self.best: tuple[float, int, dict] | None = None

    def training_step(self, batch: Trials, batch_idx: int) -> torch.Tensor:
        out = self.net(batch.inputs, self.noise_generator, noise=self.cfg.noise)
        task_loss = readout_loss(out.readout, batch.targets)
        if self.cfg.window_loss:
            task_loss = task_loss + self.cfg.window_loss * window_loss(out.readout, batch.targets, self.task)
        rates = out.firing_rates_hz()
        penalty = torch.relu(rates - self.cfg.max_rate_hz).square().mean()
        loss = task_loss + self.cfg.rate_penalty * penalty
        self.history.batch.append(batch_idx + 1)
        self.history.loss.append(loss.item())
        self.history.task_loss.append(task_loss.item())
        self.history.rate_hz.append(rates.mean().item())
        self.history.scaling_factor.append(self.net.scaling_factor)
        return loss

    def validate(self, batches_done: int) -> float:
        """Fused-kernel accuracy at the evaluation dt on fresh validation trials; keeps the best."""
        model, factor = self.net.export()
        network = to_spiking(model, self.eval_params, input_step_ms=self.task.step_ms)
        generator = torch.Generator().manual_seed(self.validation_seed)
        trials = self.task.make_trials(self.cfg.validation_trials, generator)
        result = network.simulate(trials.inputs, factor, generator=generator)
        accuracy = self.task.accuracy(result.readout, trials.labels, self.eval_params.dt_ms, "spiking")
        self.validation.batch.append(batches_done)
        self.validation.accuracy.append(accuracy)
        loss = f", loss {self.history.loss[-1]:.4f}" if self.history.loss else ""
        log.info(f"fine-tuning: batch {batches_done}: validation accuracy {accuracy:.3f}, s {factor:.3f}{loss}")
        if self.best is None or accuracy > self.best[0]:
            self.best = (accuracy, batches_done, copy.deepcopy(self.net.state_dict()))
        return accuracy

    def on_train_start(self) -> None:
        self.validate(0)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        done = batch_idx + 1
        if done % self.cfg.validate_every == 0 or done == self.trainer.max_steps:
            if self.validate(done) >= self.cfg.stop_accuracy:
                self.trainer.should_stop = True

    def configure_optimizers(self):
        """Adam; with ``lr_schedule`` cosine, Lightning steps a cosine annealing after every batch."""
        optimizer = torch.optim.Adam([p for p in self.net.parameters() if p.requires_grad], lr=self.cfg.learning_rate)
        if self.cfg.lr_schedule == "constant":
            return optimizer
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=self.cfg.n_batches, eta_min=0.01 * self.cfg.learning_rate
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}


@dataclass
class FinetunedNetwork:
    """What :func:`finetune_network` returns: the kept network (a rate model's format), its factor
    s, how training went, and the training's wall time (s)."""

    model: RateRNN
    scaling_factor: float
    record: FinetuneRecord
    seconds: float


def finetune_network(
    model: RateRNN,
    task: Task,
    spiking: SpikingParameters,
    factor: float,
    cfg: FinetuneConfig,
    seed: int,
    callbacks: list | None = None,
) -> FinetunedNetwork:
    """Fine-tune the converted ``model`` at ``factor``; returns the best fine-tuned model (by the
    fused-kernel validation accuracy), its factor and how training went."""
    check_factor("scaling_factor", factor)
    pl.seed_everything(seed, workers=True, verbose=False)
    params = training_parameters(spiking, cfg.train_dt_ms, task.step_ms)
    net = TrainableSpikingRNN(
        model, factor, params, task.step_ms, cfg.train_tau, cfg.train_scaling_factor, cfg.checkpoint_steps
    )
    module = SpikingFinetuneModule(net, task, cfg, spiking, seed)
    loader = DataLoader(
        TrialStream(task, cfg.batch_size, seed + Stream.FINETUNE_TRIALS),
        batch_size=None,
        generator=torch.Generator().manual_seed(seed),
    )
    trainer = pl.Trainer(
        max_steps=cfg.n_batches,
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=callbacks or [],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=cfg.gradient_clip or None,
        deterministic=False,  # index_add_ in the recurrent input has no deterministic CPU kernel flag
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*IterableDataset.*")
        trainer.fit(module, train_dataloaders=loader)
    seconds = time.perf_counter() - start
    best_accuracy, best_batch, state = module.best
    net.load_state_dict(state)
    finetuned, new_factor = net.export()
    record = FinetuneRecord(
        cfg.train_dt_ms, len(module.history.batch), best_batch, best_accuracy, module.history, module.validation
    )
    return FinetunedNetwork(finetuned, new_factor, record, round(seconds, 2))


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def finetune_stage(
    model: RateRNN,
    task: Task,
    spiking: SpikingParameters,
    factor: float,
    cfg: FinetuneConfig,
    seed: int,
    eval_trials: int,
    out_dir: Path,
    model_file: str = FINETUNED_MODEL_FILE,
    progress=None,
    callbacks: list | None = None,
    figures: bool = True,
) -> FinetuneResult:
    """Score the converted network, fine-tune it, score it again on the same fresh trials (fused
    kernel, ``spiking.dt_ms``, the task's scoring); write ``model_file`` and (``figures``) the
    fine-tuning curve and the readouts before and after; return the result."""
    start = time.perf_counter()
    before = evaluate_spiking(
        to_spiking(model, spiking, input_step_ms=task.step_ms),
        task,
        factor,
        eval_trials,
        Stream.EVALUATION.generator(seed),
        phase(progress, "evaluation before fine-tuning"),
    )
    tuned = finetune_network(model, task, spiking, factor, cfg, seed, callbacks)
    finetuned, new_factor, record = tuned.model, tuned.scaling_factor, tuned.record
    after = evaluate_spiking(
        to_spiking(finetuned, spiking, input_step_ms=task.step_ms),
        task,
        new_factor,
        eval_trials,
        Stream.EVALUATION.generator(seed),
        phase(progress, "evaluation after fine-tuning"),
    )
    info = ModelInfo(
        task=task.name, scaling_factor=new_factor, spiking=spiking, finetuned=True, task_settings=task.config.settings()
    )
    save_rate_model(out_dir / model_file, finetuned, info)
    drawn = []
    if figures:
        drawn = [
            plot_finetuning(
                out_dir / "finetuning.png", record.history, record.validation, record.best_batch,
                before.lif_accuracy, after.lif_accuracy,
            ),
            readouts_before_after(out_dir, model, finetuned, task, spiking, (factor, new_factor), seed),
        ]  # fmt: skip
    return FinetuneResult(
        finetune=cfg,
        spiking=spiking,
        scaling_factor_before=factor,
        before=before,
        evaluation=EvaluationResult(
            spiking=spiking,
            scaling_factor=new_factor,
            lambda_=1.0 / new_factor,
            eval_trials=eval_trials,
            score=after,
        ),  # fmt: skip
        tau_d_ms_mean_after=finetuned.taus_ms().mean().item(),
        finetune_seconds=round(time.perf_counter() - start, 2),
        finetune_training_seconds=tuned.seconds,
        peak_rss_mib=round(peak_rss_mib(), 1),
        finetune_record=record,
        figures=[figure.name for figure in drawn],
        models=[model_file],
    )


def readouts_before_after(
    out_dir: Path,
    model: RateRNN,
    finetuned: RateRNN,
    task: Task,
    spiking: SpikingParameters,
    factors: tuple[float, float],
    seed: int,
) -> SavedFigure:
    """One trial of each type read out by the rate network and by the LIF network before and after
    fine-tuning (at their factors ``factors``), ``readout_rate_vs_lif_finetuned.png``: the trials of
    the run's example figures, the same spiking noise for both networks."""
    generator = Stream.EXAMPLES.generator(seed)
    conditions = torch.arange(len(task.condition_names))
    trials = task.make_trials(len(task.condition_names), generator, conditions=conditions)
    with torch.no_grad():
        rate_out = model(trials.inputs, generator=generator).readout
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    readouts = [
        to_spiking(net, spiking, input_step_ms=task.step_ms)
        .simulate(trials.inputs, s, generator=torch.Generator().manual_seed(noise_seed))
        .readout
        for net, s in ((model, factors[0]), (finetuned, factors[1]))
    ]
    return plot_readouts(
        out_dir / "readout_rate_vs_lif_finetuned.png", list(task.condition_names), rate_out, task.step_ms,
        readouts[1], spiking.dt_ms, trials.targets, factors[1], inputs=trials.inputs,
        scored_from_ms=task.scoring_window("spiking").from_ms, lif_before=(readouts[0], factors[0]),
    )  # fmt: skip
