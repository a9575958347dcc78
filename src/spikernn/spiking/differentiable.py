"""The recurrent spiking network as a differentiable torch function (surrogate gradients).

:meth:`SpikingRNN.simulate` and the fused kernel are the simulators; this is the same network,
step for step, written so that autograd reaches every weight: spikes come from the snnTorch
neuron's ``fire()`` (a Heaviside step forward, its surrogate's derivative backward), the
recurrent input is :class:`RecurrentInput` (event-driven forward in the simulators' order, dense
backward), and the synaptic constants are computed from ``tau_d_ms`` inside the graph. With noise
off it gives the torch module's spikes and readout bit for bit (tests/test_finetune.py).

Memory: backpropagation through time keeps every step's activations, ~10 [B, N] tensors per step.
``checkpoint_steps`` wraps each chunk of that many steps in :func:`torch.utils.checkpoint.checkpoint`,
so only the state at chunk boundaries is kept and one chunk is recomputed at a time during the
backward pass: memory O(n_steps/chunk + chunk) instead of O(n_steps) (√n_steps at best); the noise
of a chunk is drawn before it, so the recomputation sees the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.checkpoint import checkpoint

from spikernn.spiking.network import external_drive, input_columns, readout_rows
from spikernn.spiking.neurons import IntegrateAndFire, MembraneState, SynapseState, synapse_constants, synapse_step


class RecurrentInput(torch.autograd.Function):
    """JD = W_eff · s for each row of [B, N] spikes ``s``.

    Forward: Σ_{j: s_j ≠ 0} s_j W_eff[:, j] with j ascending (for 0/1 spikes the same sum, bit for
    bit, as :meth:`SpikingRNN.recurrent_input` and the fused kernel). Backward: the dense
    gradients ∂L/∂s = g W_eff and ∂L/∂W_eff = gᵀ s (surrogate spikes carry gradient everywhere)."""

    @staticmethod
    def forward(ctx, spikes: torch.Tensor, w_eff: torch.Tensor) -> torch.Tensor:
        rows, cols = torch.nonzero(spikes, as_tuple=True)
        out = torch.zeros(spikes.shape, dtype=w_eff.dtype, device=w_eff.device)
        if rows.numel():
            out.index_add_(0, rows, w_eff.T[cols] * spikes[rows, cols].to(w_eff.dtype)[:, None])
        ctx.save_for_backward(spikes, w_eff)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        spikes, w_eff = ctx.saved_tensors
        grad_spikes = (grad @ w_eff).to(spikes.dtype) if ctx.needs_input_grad[0] else None
        grad_w = grad.T @ spikes.to(grad.dtype) if ctx.needs_input_grad[1] else None
        return grad_spikes, grad_w


@dataclass
class SurrogateResult:
    """readout: [B, n_samples] (or [B, n_outputs, n_samples]) W_out · r / s at steps k with
    (k + 1) % sample_every == 0, i.e. at times (m + 1) · sample_every · dt; spike_counts: [B, N]
    spikes per unit (float, differentiable); duration_s: the simulated time."""

    readout: torch.Tensor
    spike_counts: torch.Tensor
    duration_s: float

    def firing_rates_hz(self) -> torch.Tensor:
        return self.spike_counts / self.duration_s


def simulate_surrogate(
    neuron: IntegrateAndFire,
    w_eff: torch.Tensor,
    w_in: torch.Tensor,
    w_out: torch.Tensor,
    tau_d_ms: torch.Tensor,
    inv_s: torch.Tensor | float,
    inputs: torch.Tensor,
    steps_per_column: int,
    *,
    generator: torch.Generator | None = None,
    noise: bool = True,
    initial_voltage_mv: torch.Tensor | None = None,
    sample_every: int = 1,
    checkpoint_steps: int | None = None,
    exact: bool = True,
) -> SurrogateResult:
    """Simulate trials ``inputs`` [B, C, n_in] (stimulus grid) at 1/s ``inv_s`` ([B] or a number)
    with the parameters of ``neuron`` (dt, τ_m, refractory period, noise); every tensor argument
    may require grad. The arithmetic and the order of the random draws are those of
    :meth:`SpikingRNN.simulate` (torch backend); ``exact`` = False trades the simulators' summation
    order (event-driven recurrent input, float64 readout lanes) for two dense matrix products,
    about twice as fast for training (the results then differ in the last bits)."""
    p = neuron.params
    n_rows, n_cols, _ = inputs.shape
    n = w_eff.shape[0]
    n_outputs = 1 if w_out.ndim == 1 else w_out.shape[0]
    n_steps = (n_cols - 1) * steps_per_column
    if n_steps % sample_every:
        raise ValueError(f"sample_every ({sample_every}) must divide the number of steps ({n_steps})")
    dtype = w_eff.dtype  # float32 (the simulators'); float64 for gradient checks
    inv_s = torch.as_tensor(inv_s, dtype=dtype)
    inv_s = inv_s.expand(n_rows)[:, None] if inv_s.ndim <= 1 else inv_s
    columns = input_columns(n_steps, steps_per_column)
    inputs = inputs.to(dtype)
    v0 = None if initial_voltage_mv is None else initial_voltage_mv.float().expand(n_rows, n)
    membrane = neuron.init_state((n_rows, n), generator, v0)
    membrane = MembraneState(membrane.v.to(dtype), membrane.refractory)
    zeros = torch.zeros(n_rows, n, dtype=dtype)
    synapse = SynapseState(zeros, zeros, zeros, zeros)
    decay_d, gain, decay_r, dt_s = synapse_constants(tau_d_ms, p, dtype)
    voltage_sd, current_sd = p.voltage_noise_mv, p.current_noise_mv

    def run_chunk(k0: int, k1: int, draws, v, refractory, ipsc, h, r, h_r, counts):
        membrane, synapse = MembraneState(v, refractory), SynapseState(ipsc, h, r, h_r)
        samples, column = [], -1
        for k in range(k0, k1):
            if columns[k] != column:
                column = int(columns[k])
                external = external_drive(inputs[:, column], w_in, p.i_bias_mv)
            current = synapse.ipsc * inv_s + external
            step_noise = None
            if draws is not None and p.noise_mode == "current":
                current = current + draws[k - k0] * current_sd
            elif draws is not None:
                step_noise = draws[k - k0] * voltage_sd
            spikes, membrane = neuron(current, membrane, step_noise)
            jd = RecurrentInput.apply(spikes, w_eff) if exact else spikes.to(w_eff.dtype) @ w_eff.T
            synapse = synapse_step(
                synapse,
                jd,
                spikes,
                decay_d=decay_d,
                decay_r=decay_r,
                dt_s=dt_s,
                gain=gain,
                double_exponential=p.double_exponential,
            )
            counts = counts + spikes.to(dtype)
            if (k + 1) % sample_every == 0:
                samples.append(readout_rows(synapse.r, w_out, exact) * inv_s)
        out = torch.stack(samples, -1) if samples else torch.zeros(n_rows, n_outputs, 0, dtype=dtype)
        return (*membrane, *synapse, counts, out)

    chunk = checkpoint_steps or n_steps
    state = (*membrane, *synapse, torch.zeros(n_rows, n, dtype=dtype))
    readouts = []
    for k0 in range(0, n_steps, chunk):
        k1 = min(k0 + chunk, n_steps)
        draws = None
        if noise:
            draws = torch.stack([torch.randn(n_rows, n, generator=generator) for _ in range(k0, k1)]).to(dtype)
        if checkpoint_steps and torch.is_grad_enabled():
            outputs = checkpoint(run_chunk, k0, k1, draws, *state, use_reentrant=False)
        else:
            outputs = run_chunk(k0, k1, draws, *state)
        state, readout = outputs[:-1], outputs[-1]
        readouts.append(readout)
    readout = torch.cat(readouts, -1)
    return SurrogateResult(readout[:, 0] if w_out.ndim == 1 else readout, state[-1], n_steps * p.dt_ms / 1000.0)
