"""Integrate-and-fire units and exponential synapses (SPEC §3).

Each model is a pure step function of (constants, state, input) -> (state, spikes) plus a
module that holds the constants: the neuron is a subclass of snnTorch's ``SpikingNeuron``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from snntorch import SpikingNeuron
from torch import nn

from spikernn.spiking.parameters import SpikingParameters

MS_PER_S = 1000.0


class MembraneState(NamedTuple):
    """v: membrane voltage [batch, N] in mV; refractory: steps of refractoriness left [batch, N]."""

    v: torch.Tensor
    refractory: torch.Tensor


class SynapseState(NamedTuple):
    """Double-exponential synapse state, all [batch, N].

    ipsc: synaptic current (mV, before division by the scaling factor); h: its rise variable;
    r: filtered spike train of the unit itself (spikes/s); h_r: its rise variable.
    """

    ipsc: torch.Tensor
    h: torch.Tensor
    r: torch.Tensor
    h_r: torch.Tensor


def membrane_step(
    state: MembraneState,
    current: torch.Tensor,
    noise: torch.Tensor | None,
    *,
    dt_over_tau_m: float,
    v_th: float,
    v_reset: float,
    refractory_steps: int,
    quadratic: bool = False,
) -> tuple[MembraneState, torch.Tensor]:
    """One Euler step: v += dt (I − v)/τ_m (LIF) or dt (v² + I)/τ_m (QIF) unless refractory, plus
    noise; a unit at or above ``v_th`` spikes, is reset to ``v_reset`` and is refractory for the
    next ``refractory_steps`` steps. Returns the new state and the boolean spikes."""
    v, refractory = state
    integrating = refractory == 0
    drive = v * v + current if quadratic else current - v
    v = v + torch.where(integrating, drive * dt_over_tau_m, 0.0)
    if noise is not None:
        v = v + noise
    spikes = v >= v_th
    v = torch.where(spikes, v_reset, v)
    refractory = torch.where(spikes, refractory_steps, (refractory - 1).clamp_min(0))
    return MembraneState(v, refractory), spikes


def synapse_step(
    state: SynapseState,
    recurrent_input: torch.Tensor,
    spikes: torch.Tensor,
    *,
    decay_d: torch.Tensor,
    decay_r: float,
    dt_s: float,
    gain: torch.Tensor,
    double_exponential: bool,
) -> SynapseState:
    """Update the synaptic current and the filtered rate after this step's spikes.

    Double exponential (uses h, h_r from before their update):
        IPSC ← IPSC e^{−dt/τ_d} + h dt;   h ← h e^{−dt/τ_r} + JD/(τ_r τ_d)
        r    ← r e^{−dt/τ_d} + h_r dt;    h_r ← h_r e^{−dt/τ_r} + S/(τ_r τ_d)
    Single exponential: IPSC ← IPSC e^{−dt/τ_d} + JD/τ_d;  r ← r e^{−dt/τ_d} + S/τ_d.
    ``gain`` is 1/(τ_r τ_d) or 1/τ_d in s⁻² or s⁻¹ per receiving unit; times are in seconds.
    """
    ipsc, h, r, h_r = state
    s = spikes.to(r.dtype)
    if double_exponential:
        ipsc = ipsc * decay_d + h * dt_s
        h = h * decay_r + recurrent_input * gain
        r = r * decay_d + h_r * dt_s
        h_r = h_r * decay_r + s * gain
    else:
        ipsc = ipsc * decay_d + recurrent_input * gain
        r = r * decay_d + s * gain
    return SynapseState(ipsc, h, r, h_r)


class IntegrateAndFire(SpikingNeuron):
    """LIF (or QIF) neuron with absolute refractory period and voltage noise, as an snnTorch neuron.

    ``forward(current, state, noise)`` returns ``(spikes, state)``; reset is to ``v_reset_mv``
    (handled here, so snnTorch's reset mechanism is "none"), spikes fire at v ≥ v_th.
    """

    def __init__(self, params: SpikingParameters) -> None:
        super().__init__(threshold=params.v_th_mv, reset_mechanism="none", surrogate_disable=True)
        SpikingNeuron.instances.remove(self)  # state is explicit; snnTorch's hidden-state registry is not used
        self.params = params

    def fire(self, mem: torch.Tensor) -> torch.Tensor:
        return mem >= self.threshold

    def init_state(
        self,
        shape: tuple[int, ...],
        generator: torch.Generator | None = None,
        initial_voltage_mv: torch.Tensor | None = None,
    ) -> MembraneState:
        """v uniform in [v_init_min, v_init_max] mV (or given); refractory for the first t_ref."""
        p = self.params
        if initial_voltage_mv is None:
            v = p.v_init_min_mv + torch.rand(shape, generator=generator) * (p.v_init_max_mv - p.v_init_min_mv)
        else:
            v = initial_voltage_mv.expand(shape).clone().float()
        return MembraneState(v, torch.full(shape, p.refractory_steps, dtype=torch.int32))

    def forward(
        self, current: torch.Tensor, state: MembraneState, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, MembraneState]:
        p = self.params
        state, spikes = membrane_step(
            state,
            current,
            noise,
            dt_over_tau_m=p.dt_ms / p.tau_m_ms,
            v_th=float(self.threshold),
            v_reset=p.v_reset_mv,
            refractory_steps=p.refractory_steps,
            quadratic=p.neuron == "qif",
        )
        return spikes, state


class ExponentialSynapse(nn.Module):
    """Per-receiving-unit double- (or single-) exponential synaptic filter with decay ``tau_d_ms``."""

    def __init__(self, tau_d_ms: torch.Tensor, params: SpikingParameters) -> None:
        super().__init__()
        self.params = params
        tau_d_s = tau_d_ms.double() / MS_PER_S
        dt_s = params.dt_ms / MS_PER_S
        self.dt_s = dt_s
        self.register_buffer("decay_d", torch.exp(-dt_s / tau_d_s).float())
        if params.double_exponential:
            tau_r_s = params.tau_rise_ms / MS_PER_S
            self.decay_r = float(torch.exp(torch.tensor(-dt_s / tau_r_s, dtype=torch.float64)))
            self.register_buffer("gain", (1.0 / (tau_r_s * tau_d_s)).float())
        else:
            self.decay_r = 0.0
            self.register_buffer("gain", (1.0 / tau_d_s).float())

    def init_state(self, shape: tuple[int, ...]) -> SynapseState:
        return SynapseState(*(torch.zeros(shape) for _ in range(4)))

    def forward(self, recurrent_input: torch.Tensor, spikes: torch.Tensor, state: SynapseState) -> SynapseState:
        return synapse_step(
            state,
            recurrent_input,
            spikes,
            decay_d=self.decay_d,
            decay_r=self.decay_r,
            dt_s=self.dt_s,
            gain=self.gain,
            double_exponential=self.params.double_exponential,
        )
