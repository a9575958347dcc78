"""The recurrent spiking network: trials × scaling factors simulated in one pass (SPEC §3)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import torch
from torch import nn

from spikernn.spiking.constants import PROGRESS_EVERY, READOUT_LANES, RECORDABLE
from spikernn.spiking.neurons import ExponentialSynapse, IntegrateAndFire, MembraneState, SynapseState
from spikernn.spiking.parameters import SpikingParameters, Stimulation
from spikernn.validation import ConfigError, check_choice

BACKENDS = ("auto", "torch", "fused")


@dataclass
class SpikingResult:
    """Output of one simulation. Leading dims ``[*batch]`` are those of the scaling factors × trials.

    readout: [*batch, n_steps] W_out,spk · r at times (k + 1)·dt ([*batch, n_outputs, n_steps] for a
    network of several outputs).
    spike_counts: [*batch, N] spikes per unit over the trial.
    Optional recordings [*batch, n_steps, N]: spikes (bool), voltage (mV, after reset), rates (r,
    spikes/s), ipsc (mV, scaled).
    """

    readout: torch.Tensor
    spike_counts: torch.Tensor
    dt_ms: float
    spikes: torch.Tensor | None = None
    voltage: torch.Tensor | None = None
    rates: torch.Tensor | None = None
    ipsc: torch.Tensor | None = None

    @property
    def duration_s(self) -> float:
        return self.readout.shape[-1] * self.dt_ms / 1000.0

    def firing_rates_hz(self) -> torch.Tensor:
        """Mean firing rate of each unit over the trial [*batch, N], in Hz."""
        return self.spike_counts.float() / self.duration_s


def input_columns(n_steps: int, steps_per_column: int) -> torch.Tensor:
    """Stimulus column used at each LIF step: round((k + 1)/steps_per_column), halves rounded up
    (the reference code's ``round(i/100) + 1`` with 1-based i)."""
    i = torch.arange(1, n_steps + 1)
    return (2 * i + steps_per_column) // (2 * steps_per_column)


def readout_sum(rates: torch.Tensor, w_out: torch.Tensor) -> torch.Tensor:
    """Σ_n r_n · w_n for each row of [B, N] ``rates``, in float32, from exact float64 products summed
    in a fixed order: eight lanes (lane l takes units l, l + 8, l + 16, … in turn), then the lanes in
    turn. ``cumsum`` is sequential, so the fused kernel reproduces the sum bit for bit."""
    n_rows, n = rates.shape
    products = rates.double() * w_out.double()
    pad = -n % READOUT_LANES
    if pad:
        products = torch.nn.functional.pad(products, (0, pad))
    lanes = products.view(n_rows, -1, READOUT_LANES).cumsum(1)[:, -1]
    return lanes.cumsum(-1)[:, -1].float()


def readout_rows(rates: torch.Tensor, w_out: torch.Tensor, exact: bool) -> torch.Tensor:
    """W_out · r for rates [B, N] as [B, n_outputs] (``w_out`` [N] or [n_outputs, N]): the simulators'
    summation order (``exact``) or one matrix product."""
    rows = w_out.reshape(-1, rates.shape[1])
    if exact:
        return torch.stack([readout_sum(rates, row) for row in rows], 1)
    return (rates @ w_out)[:, None] if w_out.ndim == 1 else rates @ rows.T


def external_drive(column_inputs: torch.Tensor, w_in: torch.Tensor, i_bias_mv: float) -> torch.Tensor:
    """W_in u + I_bias for each row of [B, n_in] inputs, channels added in ascending order
    (elementwise, so the fused kernel reproduces it bit for bit)."""
    drive = column_inputs[:, 0:1] * w_in[:, 0]
    for c in range(1, w_in.shape[1]):
        drive = drive + column_inputs[:, c : c + 1] * w_in[:, c]
    return drive + i_bias_mv


class SpikingRNN(nn.Module):
    """N integrate-and-fire units connected by W_eff / s, read out by W_out / s.

    Holds the *unscaled* transferred weights; each simulated trial carries its own scaling factor
    s, applied to the recurrent current and to the readout (W/s · x = (W · x)/s). ``w_out`` is [N]
    (one output) or [n_outputs, N] (a row per output). ``inhibitory`` [N] bool and ``sst_units``
    (indices of the SST units, empty without the SST motif) say which cell class each unit belongs to.
    """

    def __init__(
        self,
        w_eff: torch.Tensor,
        w_in: torch.Tensor,
        w_out: torch.Tensor,
        tau_d_ms: torch.Tensor,
        inhibitory: torch.Tensor,
        params: SpikingParameters | None = None,
        input_step_ms: float = 5.0,
        sst_units: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        params = params or SpikingParameters()
        n = w_eff.shape[0]
        out_ok = w_out.ndim in (1, 2) and w_out.shape[-1] == n and w_out.numel() > 0
        if w_eff.shape != (n, n) or w_in.shape[0] != n or not out_ok or tau_d_ms.shape != (n,):
            raise ConfigError(
                f"spiking network shapes disagree: w_eff {tuple(w_eff.shape)}, w_in {tuple(w_in.shape)}, "
                f"w_out {tuple(w_out.shape)}, tau_d_ms {tuple(tau_d_ms.shape)} (need N×N, N×n_in, N or "
                "n_outputs×N, N)"
            )
        ratio = input_step_ms / params.dt_ms
        if abs(ratio - round(ratio)) > 1e-6:
            raise ConfigError(
                f"spiking.dt_ms must divide the stimulus step ({input_step_ms} ms) into whole steps, got {params.dt_ms}"
            )
        self.params = params
        self.steps_per_column = round(ratio)
        self.register_buffer("w_eff", w_eff.detach().float().clone())
        self.register_buffer("w_in", w_in.detach().float().clone())
        self.register_buffer("w_out", w_out.detach().float().clone())
        self.register_buffer("tau_d_ms", tau_d_ms.detach().float().clone())
        self.register_buffer("inhibitory", inhibitory.detach().bool().clone())
        self.register_buffer("sst_units", (sst_units if sst_units is not None else torch.zeros(0)).long())
        self.neuron = IntegrateAndFire(params)
        self.synapse = ExponentialSynapse(self.tau_d_ms, params)

    @property
    def n_units(self) -> int:
        return self.w_eff.shape[0]

    @property
    def n_outputs(self) -> int:
        return 1 if self.w_out.ndim == 1 else self.w_out.shape[0]

    def recurrent_input(self, spikes: torch.Tensor) -> torch.Tensor:
        """JD = Σ_{j spiked} W_eff[:, j] for each row of a [B, N] spike matrix, event-driven; rows are
        summed in ascending j, so a trial's result does not depend on the rest of the batch."""
        rows, cols = torch.nonzero(spikes, as_tuple=True)
        out = torch.zeros(spikes.shape, dtype=self.w_eff.dtype)
        if rows.numel():
            out.index_add_(0, rows, self.w_eff.T[cols])
        return out

    def simulate(
        self,
        inputs: torch.Tensor,
        scaling_factors: torch.Tensor | float,
        *,
        record: Collection[str] = (),
        generator: torch.Generator | None = None,
        noise: bool = True,
        initial_voltage_mv: torch.Tensor | None = None,
        stimulation: Stimulation | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        backend: str = "auto",
        stop_outside: tuple[torch.Tensor, torch.Tensor] | None = None,
        stop_from_step: int = 0,
    ) -> SpikingResult:
        """Simulate trials at every scaling factor.

        inputs: [n_trials, C, n_in] (the same trials for every factor) or [n_factors, n_trials, C, n_in],
            on the stimulus grid (C = T + 1 columns). scaling_factors: [n_factors] (or a number).
        Returns results with batch dims [n_factors, n_trials] (or [n_trials] for a number).
        ``on_progress(step, n_steps)`` is called every ``PROGRESS_EVERY`` steps.
        ``backend``: "torch" steps the whole batch with torch operations (this module); "fused" runs
        the numba kernel of :mod:`spikernn.spiking.fused_kernel` (CPU, no stimulation; same arithmetic, so
        without noise the same spikes and readout bit for bit; its own noise stream); "auto" takes
        "fused" where it can.
        ``stop_outside`` = (below, above), each [n_trials] or [n_factors, n_trials] (float32): for a
        caller that only needs each trial's verdict (:meth:`spikernn.tasks.Task.settled_bounds`):
        the fused backend stops simulating a trial at the first step ≥ ``stop_from_step`` where its
        first output is below ``below`` or above ``above``; that trial's readout then holds the
        step's values to the end and its spike counts cover the steps simulated. The torch backend
        simulates every step.
        """
        check_choice("backend", backend, BACKENDS)
        factors = torch.as_tensor(scaling_factors, dtype=torch.float32)
        scalar = factors.ndim == 0
        factors = factors.reshape(-1)
        if not torch.all(factors > 0) or not torch.all(torch.isfinite(factors)):
            raise ConfigError(f"scaling_factor must be > 0 and finite, got {factors.tolist()}")
        for name in record:
            check_choice("record", name, RECORDABLE)
        if inputs.ndim == 3:
            inputs = inputs.unsqueeze(0).expand(len(factors), *inputs.shape)
        if inputs.ndim != 4 or inputs.shape[0] != len(factors) or inputs.shape[-1] != self.w_in.shape[1]:
            raise ConfigError(
                f"inputs must be [n_trials, C, {self.w_in.shape[1]}] or [{len(factors)}, n_trials, C, "
                f"{self.w_in.shape[1]}], got {tuple(inputs.shape)}"
            )
        n_factors, n_trials, n_cols, _ = inputs.shape
        if n_cols < 2:
            raise ConfigError(f"inputs need at least 2 stimulus columns, got {n_cols}")
        batch_shape = (n_factors, n_trials)
        n_rows, n = n_factors * n_trials, self.n_units
        n_steps = (n_cols - 1) * self.steps_per_column
        p = self.params

        inv_s = (1.0 / factors).repeat_interleave(n_trials)[:, None]  # [B, 1]
        columns = input_columns(n_steps, self.steps_per_column)
        flat_inputs = inputs.reshape(n_rows, n_cols, -1).float()
        v0 = (
            None
            if initial_voltage_mv is None
            else initial_voltage_mv.float().expand(*batch_shape, n).reshape(n_rows, n)
        )
        membrane = self.neuron.init_state((n_rows, n), generator, v0)
        if self._use_fused(backend, stimulation, flat_inputs):
            from spikernn.spiking.fused_kernel import kernel_network, simulate_fused  # numba: loaded only when used

            net = kernel_network(self.w_eff, self.w_in, self.w_out, self.tau_d_ms, p)
            readout, spike_counts, recorded = simulate_fused(
                net, flat_inputs, inv_s[:, 0], membrane.v, columns, noise, generator, record, on_progress,
                stop_outside=None
                if stop_outside is None
                else tuple(bound.float().expand(batch_shape).reshape(n_rows) for bound in stop_outside),
                stop_from=stop_from_step,
            )  # fmt: skip
            return self._result(readout, spike_counts, recorded, batch_shape, scalar)
        synapse = self.synapse.init_state((n_rows, n))
        stim = self._stimulation_plan(stimulation, n_steps, n_rows)

        readout = torch.empty(n_rows, self.n_outputs, n_steps)
        spike_counts = torch.zeros(n_rows, n, dtype=torch.int32)
        recorded = {
            name: torch.empty(n_rows, n_steps, n, dtype=torch.bool if name == "spikes" else torch.float32)
            for name in record
        }
        column = -1
        for k in range(n_steps):
            if columns[k] != column:
                column = int(columns[k])
                external = external_drive(flat_inputs[:, column], self.w_in, p.i_bias_mv)
            current = synapse.ipsc * inv_s + external
            step_noise = None
            if noise and p.noise_mode == "current":  # the Methods' I_ext = W_in u + N(0, σ²): reaches v × dt/τ_m
                current = current + torch.randn(n_rows, n, generator=generator) * p.current_noise_std_mv
            elif noise:  # LIF_network_fnc.m: straight onto v
                step_noise = torch.randn(n_rows, n, generator=generator) * p.noise_std_mv
            if stim is not None:
                step_noise = self._apply_stimulation(stim, k, step_noise, n_rows, n, generator)
            spikes, membrane = self.neuron(current, membrane, step_noise)
            synapse = self.synapse(self.recurrent_input(spikes), spikes, synapse)
            readout[:, :, k] = readout_rows(synapse.r, self.w_out, exact=True) * inv_s
            spike_counts += spikes.to(spike_counts.dtype)  # snnTorch spikes are 0/1 floats
            self._record(recorded, k, spikes, membrane, synapse, inv_s)
            if on_progress is not None and ((k + 1) % PROGRESS_EVERY == 0 or k + 1 == n_steps):
                on_progress(k + 1, n_steps)
        return self._result(readout, spike_counts, recorded, batch_shape, scalar)

    def _use_fused(self, backend: str, stimulation: Stimulation | None, inputs: torch.Tensor) -> bool:
        fusable = stimulation is None and self.w_eff.device.type == "cpu" and inputs.device.type == "cpu"
        if backend == "fused" and not fusable:
            raise ConfigError("backend 'fused' runs on CPU tensors without stimulation; use backend 'torch'")
        return backend == "fused" or (backend == "auto" and fusable)

    def _result(
        self,
        readout: torch.Tensor,
        spike_counts: torch.Tensor,
        recorded: dict[str, torch.Tensor],
        batch_shape: tuple[int, int],
        scalar: bool,
    ) -> SpikingResult:
        def shaped(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            t = t.reshape(*batch_shape, *t.shape[1:])
            return t[0] if scalar else t

        if self.w_out.ndim == 1:  # one output: [rows, n_steps]
            readout = readout[:, 0]
        return SpikingResult(
            readout=shaped(readout),
            spike_counts=shaped(spike_counts),
            dt_ms=self.params.dt_ms,
            **{name: shaped(recorded.get(name)) for name in RECORDABLE},
        )

    @staticmethod
    def _record(
        recorded: dict[str, torch.Tensor],
        k: int,
        spikes: torch.Tensor,
        membrane: MembraneState,
        synapse: SynapseState,
        inv_s: torch.Tensor,
    ) -> None:
        sources = {
            "spikes": lambda: spikes,
            "voltage": lambda: membrane.v,
            "rates": lambda: synapse.r,
            "ipsc": lambda: synapse.ipsc * inv_s,
        }
        for name, buffer in recorded.items():
            buffer[:, k] = sources[name]()

    def _stimulation_plan(self, stimulation: Stimulation | None, n_steps: int, n_rows: int):
        if stimulation is None:
            return None
        units = torch.as_tensor(stimulation.units, dtype=torch.long)
        if units.numel() and (units.min() < 0 or units.max() >= self.n_units):
            raise ConfigError(f"stimulation.units must be in [0, {self.n_units - 1}], got {stimulation.units}")
        start = round(stimulation.start_ms / self.params.dt_ms)
        stop = round(stimulation.stop_ms / self.params.dt_ms)
        sign = 1.0 if stimulation.mode == "exc" else -1.0
        return stimulation, units, start, stop, sign * stimulation.amplitude_mv

    def _apply_stimulation(
        self, plan, k: int, step_noise: torch.Tensor | None, n_rows: int, n: int, generator: torch.Generator | None
    ) -> torch.Tensor | None:
        stimulation, units, start, stop, amplitude = plan
        if not start <= k + 1 < stop:  # reference: 1-based step i in [dur(1), dur(2))
            return step_noise
        on = (torch.rand(n_rows, 1, generator=generator) < stimulation.probability).float()
        kick = torch.zeros(n_rows, n)
        kick[:, units] = amplitude
        kick = kick * on
        return kick if step_noise is None else step_noise + kick
