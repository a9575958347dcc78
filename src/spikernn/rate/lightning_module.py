"""LightningModule that trains a population of K independent rate RNNs on fresh trials (SPEC §1).

A population of one is the paper's single network. Each member is trained exactly as if alone:
its own initialisation seed, its own trial stream (seed + 2) and state-noise stream (seed), its
own Adam state (Adam keeps it per tensor), its own stopping rule (a member that
stops gets no gradient, so Adam leaves it untouched). The members' losses are summed, so each
member's gradient is its own loss's gradient, bit for bit.

Trials are drawn here rather than by a DataLoader because each member draws from its own
generator and the set of members still training changes as they stop; the DataLoader only
ticks (one tick = one optimizer step), Lightning runs the loop, checkpoints and callbacks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import IterableDataset

from spikernn.rate.fused_op import stacked_readout
from spikernn.rate.model import RateRNN, trial_loss
from spikernn.tasks import Task


class Ticks(IterableDataset):
    """An endless stream of step numbers: the population draws its members' trials itself."""

    def __iter__(self) -> Iterator[int]:
        step = 0
        while True:
            yield step
            step += 1


class RatePopulationModule(pl.LightningModule):
    """Adam on each member's mean per-trial loss over its batch; counts trials seen (per member).

    ``fused``: forward and backward through the numba kernel of ``rate/fused_op.py`` (CPU);
    else each member's torch graph (any device)."""

    def __init__(
        self,
        task: Task,
        members: list[RateRNN],
        seeds: list[int],
        learning_rate: float,
        batch_size: int,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.task = task
        self.members = nn.ModuleList(members)
        self.seeds = list(seeds)
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.fused = fused
        self.trial_generators = [torch.Generator().manual_seed(s + 2) for s in seeds]
        self.noise_generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.active = [True] * len(members)
        self.failures: dict[int, str] = {}
        self._reported: set[int] = set()
        self.trials_seen = 0
        self.step_losses: dict[int, float] = {}
        self._scratch_buffers: dict[tuple, torch.Tensor] = {}

    def readouts(
        self,
        members: list[int],
        inputs: list[torch.Tensor],
        generators: list[torch.Generator],
        grad: bool = True,
    ) -> list[torch.Tensor]:
        """Readouts [B, T-1] of the listed members on their inputs, state noise from their generators
        (drawn as ``RateRNN.forward`` draws it)."""
        if not self.fused:
            triples = zip([self.members[k] for k in members], inputs, generators, strict=True)
            return [m(x.to(self.device), generator=g).readout for m, x, g in triples]
        return self._fused(members, self._noisy_drives(members, inputs, generators), grad)

    @torch.no_grad()
    def _noisy_drives(
        self, members: list[int], inputs: list[torch.Tensor], generators: list[torch.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The listed members' drives W_in u and state noise ξ [K, B, T, N] and initial states x_0
        [K, B, N], each member's written straight into its slice of buffers kept between steps (the
        numbers ``RateRNN.drive`` and ``draw_noise`` give, without stacking per-member tensors into
        new memory at every step and evaluation)."""
        models = [self.members[k] for k in members]
        shape, dtype = (len(models), inputs[0].shape[0], inputs[0].shape[1] - 2, models[0].n_units), models[0].w.dtype
        drive, xi = self._scratch("drive", shape, dtype), self._scratch("noise", shape, dtype)
        x0 = self._scratch("x0", (shape[0], shape[1], shape[3]), dtype)
        batch, steps = shape[1], shape[2]
        for k, (model, x, g) in enumerate(zip(models, inputs, generators, strict=True)):
            model.drive(x, out=drive[k])
            model.draw_noise(batch, steps, True, g, out=(xi[k], x0[k]))
        return drive, xi, x0

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A buffer [shape] for ``name``, kept from call to call: the first ``shape[0]`` members of the
        one kept for the same batch size (training steps and evaluations each keep one), replaced when
        it is too small or of another shape (trials of another length), so at most two per name. A new
        tensor of this size is new memory whose pages are faulted in one by one at the first write,
        which cost as much as the copy that stacking made."""
        key = (name, shape[1])
        kept = self._scratch_buffers.get(key)
        if kept is None or kept.shape[0] < shape[0] or kept.shape[1:] != shape[1:] or kept.dtype != dtype:
            kept = self._scratch_buffers[key] = torch.empty(shape, dtype=dtype)
        return kept[: shape[0]]

    def _fused(self, members: list[int], noisy: tuple[torch.Tensor, ...], grad: bool) -> list[torch.Tensor]:
        models = [self.members[k] for k in members]
        return list(stacked_readout(models, *noisy, grad=grad).unbind(0))

    def training_step(self, batch: int, batch_idx: int) -> torch.Tensor | None:
        active = [k for k, on in enumerate(self.active) if on]
        self.step_losses = {}
        if not active:
            return None
        trials = [self.task.make_trials(self.batch_size, self.trial_generators[k]) for k in active]
        generators = [self.noise_generators[k] for k in active]
        if self.fused:
            noisy = self._noisy_drives(active, [t.inputs for t in trials], generators)
            outs = self._fused(active, noisy, grad=True)
        else:
            outs = self.readouts(active, [t.inputs for t in trials], generators)
        losses = self._losses(active, trials, outs)
        self.trials_seen += self.batch_size
        failed = [k for k, loss in losses.items() if not math.isfinite(loss.detach().item())]
        for k in failed:
            self.active[k] = False
            self.failures[k] = f"non-finite training loss at trial {self.trials_seen}"
        if failed and self.fused:  # the failed members shared the fused op: run the others without them
            keep = [i for i, k in enumerate(active) if k not in failed]
            active = [active[i] for i in keep]
            trials = [trials[i] for i in keep]
            kept = tuple(part[keep] for part in noisy)
            losses = self._losses(active, trials, self._fused(active, kept, grad=True)) if keep else {}
        losses = {k: loss for k, loss in losses.items() if k not in failed}
        if not losses:
            return None
        self.step_losses = {k: loss.detach().item() for k, loss in losses.items()}
        total = torch.stack(list(losses.values())).sum()
        # progress bar only: the loggers get the criterion's numbers at step = trials seen
        self.log("train_loss", total.detach() / len(losses), prog_bar=True, logger=False, batch_size=self.batch_size)
        return total

    def _losses(self, members: list[int], trials: list, readouts: list[torch.Tensor]) -> dict[int, torch.Tensor]:
        """Each member's mean per-trial loss over its batch."""
        return {
            k: trial_loss(out, t.targets.to(out.device), self.members[k].config.loss).mean()
            for k, t, out in zip(members, trials, readouts, strict=True)
        }

    def new_failures(self) -> list[tuple[int, str]]:
        """Members dropped since the last call, with the reason."""
        new = [(k, why) for k, why in self.failures.items() if k not in self._reported]
        self._reported.update(k for k, _ in new)
        return new

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["population"] = {
            "trials_seen": self.trials_seen,
            "active": list(self.active),
            "failures": dict(self.failures),
            "trial_generators": [g.get_state() for g in self.trial_generators],
            "noise_generators": [g.get_state() for g in self.noise_generators],
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["population"]
        self.trials_seen = int(state["trials_seen"])
        self.active = list(state["active"])
        self.failures = {int(k): v for k, v in state["failures"].items()}
        self._reported = set(self.failures)
        for gens, key in ((self.trial_generators, "trial_generators"), (self.noise_generators, "noise_generators")):
            for g, s in zip(gens, state[key], strict=True):
                g.set_state(s)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # one group, fused: one pass over each tensor of every member that has a gradient this step
        # (Adam's state is per tensor, so each member keeps its own). foreach made ~5 passes over the
        # members' weights and Adam state, which do not fit the cache in a population: fused trains
        # 1.06× faster (benchmarks/training_ab.py, 10 members at N = 250)
        return torch.optim.Adam(self.members.parameters(), lr=self.learning_rate, fused=True)
