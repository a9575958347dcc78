"""Integrate-and-fire units and exponential synapses (SPEC §3).

Each model is a pure step function of (constants, state, input) -> (state, spikes) plus a
module that holds the constants. The neuron is an snnTorch ``Leaky`` neuron: it spikes through
snnTorch's :meth:`~snntorch.SpikingNeuron.fire` with a configurable surrogate gradient
(``spiking.spike_grad``: a name of :data:`SURROGATES`, slope ``spiking.spike_grad_slope``),
keeps snnTorch's hidden-state conventions (``init_hidden``, ``reset_mem``/``init_leaky``,
:func:`snntorch.utils.reset`) and adds what snnTorch has not: the absolute refractory period,
reset to ``v_reset_mv`` (not to 0 or by subtraction), the QIF variant and, in
:class:`ExponentialSynapse`, the double-exponential synapse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import snntorch
import torch
from snntorch import surrogate
from torch import nn

from spikernn.spiking.constants import FLOAT32_MIN_NORMAL
from spikernn.spiking.parameters import SPIKE_GRADS, SpikingParameters
from spikernn.validation import check_choice, check_range

MS_PER_S = 1000.0

# spike_grad names → snnTorch surrogate factories, called with the slope (in snnTorch's units, below)
SURROGATES: dict[str, Callable[[float], Callable[[torch.Tensor], torch.Tensor]]] = {
    "fast_sigmoid": lambda slope: surrogate.fast_sigmoid(slope=slope),
    "sigmoid": lambda slope: surrogate.sigmoid(slope=slope),
    "atan": lambda slope: surrogate.atan(alpha=slope),
    "straight_through": lambda slope: surrogate.straight_through_estimator(),
}
assert tuple(SURROGATES) == SPIKE_GRADS
DEFAULT_SPIKE_GRAD = "fast_sigmoid"
DEFAULT_SPIKE_GRAD_SLOPE = 25.0  # snnTorch's default


def spike_gradient(
    name: str = DEFAULT_SPIKE_GRAD, slope: float = DEFAULT_SPIKE_GRAD_SLOPE, voltage_scale_mv: float = 1.0
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``snntorch.surrogate.<name>`` with ``slope``, applied to (v − v_th)/``voltage_scale_mv``.

    snnTorch's surrogates and their default slopes are made for a membrane whose threshold is 1
    above its reset; dividing by ``voltage_scale_mv`` = v_th − v_reset (25 mV for the LIF) puts
    our mV-valued voltage in those units, so the slope means what it means in snnTorch (and the
    gradient per mV is 1/scale of it). The division keeps the sign, so the spikes are unchanged."""
    check_choice("spiking.spike_grad", name, tuple(SURROGATES))
    check_range("spiking.spike_grad_slope", slope, 0.0, lo_open=True)
    base = SURROGATES[name](slope)
    if voltage_scale_mv == 1.0:
        return base
    return lambda mem_shift: base(mem_shift / voltage_scale_mv)


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


def integrate(
    state: MembraneState,
    current: torch.Tensor,
    noise: torch.Tensor | None,
    *,
    dt_over_tau_m: float,
    quadratic: bool = False,
) -> torch.Tensor:
    """The voltage before the spike test: v + dt (I − v)/τ_m (LIF) or dt (v² + I)/τ_m (QIF)
    unless refractory, plus noise."""
    v, refractory = state
    drive = v * v + current if quadratic else current - v
    v = v + torch.where(refractory == 0, drive * dt_over_tau_m, 0.0)
    return v if noise is None else v + noise


def reset(
    state: MembraneState, v: torch.Tensor, spiked: torch.Tensor, *, v_reset: float, refractory_steps: int
) -> MembraneState:
    """Units that ``spiked`` (bool) go to ``v_reset`` and are refractory for ``refractory_steps``;
    the others count their refractoriness down. The reset carries no gradient (snnTorch detaches
    its reset signal too)."""
    return MembraneState(
        torch.where(spiked, v_reset, v),
        torch.where(spiked, refractory_steps, (state.refractory - 1).clamp_min(0)),
    )


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
    v = integrate(state, current, noise, dt_over_tau_m=dt_over_tau_m, quadratic=quadratic)
    spikes = v >= v_th
    return reset(state, v, spikes, v_reset=v_reset, refractory_steps=refractory_steps), spikes


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
    Values below the smallest normal float32 become 0 (:func:`flush_subnormal`).
    ``gain`` is 1/(τ_r τ_d) or 1/τ_d in s⁻² or s⁻¹ per receiving unit; times are in seconds.
    """
    ipsc, h, r, h_r = state
    s = spikes.to(r.dtype)
    if double_exponential:
        ipsc = flush_subnormal(ipsc * decay_d + h * dt_s)
        h = flush_subnormal(h * decay_r + recurrent_input * gain)
        r = flush_subnormal(r * decay_d + h_r * dt_s)
        h_r = flush_subnormal(h_r * decay_r + s * gain)
    else:
        ipsc = flush_subnormal(ipsc * decay_d + recurrent_input * gain)
        r = flush_subnormal(r * decay_d + s * gain)
    return SynapseState(ipsc, h, r, h_r)


def flush_subnormal(x: torch.Tensor) -> torch.Tensor:
    """x with every value below the smallest normal float32 in magnitude set to 0: a silent unit's
    synaptic variables would otherwise decay into subnormal numbers, which x86 CPUs compute several
    times slower; the values dropped are < 1.2e-38 (the fused kernel flushes the same way)."""
    return torch.where(x.abs() < FLOAT32_MIN_NORMAL, torch.zeros((), dtype=x.dtype), x)


class IntegrateAndFire(snntorch.Leaky):
    """LIF (or QIF) neuron with absolute refractory period and voltage noise: an snnTorch ``Leaky``.

    * Spikes come from snnTorch's :meth:`fire` (``spike_grad(v − v_th)``: a Heaviside step forward,
      the surrogate's derivative backward; by default the ``spiking.spike_grad`` surrogate on the
      voltage in units of v_th − v_reset, see :func:`spike_gradient`), counted at v ≥ v_th as in
      the reference code (snnTorch's step is v > v_th; they differ only at equality, where one
      spike is added).
    * Reset: to ``v_reset_mv`` and refractory for ``t_ref_ms`` (snnTorch's reset mechanism is
      "none"; the reset is detached, as snnTorch's is). ``beta`` = 1 − dt/τ_m is informative.
    * State, two ways. Explicit: ``forward(current, state, noise) -> (spk, state)`` with a
      :class:`MembraneState` from :meth:`init_state`. Hidden (snnTorch's convention, ``state``
      omitted): the voltage lives in ``mem`` and the counter in ``refractory``; the first step
      draws the initial state (v uniform in [v_init_min, v_init_max], refractory for the first
      t_ref, from ``self.generator``) and returns ``spk`` (``init_hidden=True``) or
      ``(spk, mem)``. :meth:`reset_mem` (``init_leaky``) and :func:`snntorch.utils.reset`
      restart it: a ``mem`` assigned from outside is taken as the initial voltage, a zero one
      (what snnTorch's reset writes) means "draw it".
    """

    def __init__(
        self,
        params: SpikingParameters,
        spike_grad: Callable[[torch.Tensor], torch.Tensor] | None = None,
        init_hidden: bool = False,
    ) -> None:
        if spike_grad is None:
            spike_grad = spike_gradient(params.spike_grad, params.spike_grad_slope, params.v_th_mv - params.v_reset_mv)
        super().__init__(
            beta=1.0 - params.dt_ms / params.tau_m_ms,
            threshold=params.v_th_mv,
            spike_grad=spike_grad,
            init_hidden=init_hidden,
            reset_mechanism="none",
        )
        self.params = params
        self.generator: torch.Generator | None = None  # draws the hidden state's initial voltage
        self.register_buffer("refractory", torch.zeros(0, dtype=torch.int32), persistent=False)
        self._own_mem: torch.Tensor | None = None  # the mem this module wrote last (else: set from outside)

    def fire(self, mem: torch.Tensor) -> torch.Tensor:
        """snnTorch's ``fire`` (spike_grad(mem − threshold)), plus the spike of a unit exactly at
        the threshold (v ≥ v_th)."""
        spk = super().fire(mem)
        return spk + (mem == self.threshold).to(spk.dtype) * self.graded_spikes_factor

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

    def reset_mem(self) -> torch.Tensor:
        """Forget the hidden state: the next step starts from a freshly drawn initial state."""
        self.mem = torch.zeros(0, device=self.mem.device)
        self.refractory = torch.zeros(0, dtype=torch.int32, device=self.mem.device)
        self._own_mem = None
        return self.mem

    def _hidden_state(self, current: torch.Tensor) -> MembraneState:
        mem = self.mem
        if mem is self._own_mem and mem.shape == current.shape:
            return MembraneState(mem, self.refractory)
        given = mem if mem.shape == current.shape and bool(mem.ne(0).any()) else None
        state = self.init_state(tuple(current.shape), self.generator, given)
        return MembraneState(state.v.to(current.device), state.refractory.to(current.device))

    def forward(
        self, current: torch.Tensor, state: MembraneState | None = None, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, MembraneState] | tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        p = self.params
        hidden = state is None
        if hidden:
            state = self._hidden_state(current)
        v = integrate(state, current, noise, dt_over_tau_m=p.dt_ms / p.tau_m_ms, quadratic=p.neuron == "qif")
        spk = self.fire(v)
        state = reset(state, v, v >= self.threshold, v_reset=p.v_reset_mv, refractory_steps=p.refractory_steps)
        if not hidden:
            return spk, state
        self.mem, self.refractory = state
        self._own_mem = self.mem
        return spk if self.init_hidden else (spk, self.mem)


def synapse_constants(
    tau_d_ms: torch.Tensor, params: SpikingParameters, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """(decay_d = e^{−dt/τ_d}, gain, decay_r = e^{−dt/τ_r}, dt in s), computed in float64 and
    rounded to ``dtype`` (float32 in the simulators); differentiable in ``tau_d_ms``."""
    tau_d_s = tau_d_ms.double() / MS_PER_S
    dt_s = params.dt_ms / MS_PER_S
    decay_d = torch.exp(-dt_s / tau_d_s).to(dtype)
    if params.double_exponential:
        tau_r_s = params.tau_rise_ms / MS_PER_S
        return decay_d, (1.0 / (tau_r_s * tau_d_s)).to(dtype), math.exp(-dt_s / tau_r_s), dt_s
    return decay_d, (1.0 / tau_d_s).to(dtype), 0.0, dt_s


class ExponentialSynapse(nn.Module):
    """Per-receiving-unit double- (or single-) exponential synaptic filter with decay ``tau_d_ms``."""

    def __init__(self, tau_d_ms: torch.Tensor, params: SpikingParameters) -> None:
        super().__init__()
        self.params = params
        decay_d, gain, self.decay_r, self.dt_s = synapse_constants(tau_d_ms.detach(), params)
        self.register_buffer("decay_d", decay_d)
        self.register_buffer("gain", gain)

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
