"""Fused CPU kernel for the spiking network (SPEC §3): one numba loop per trial.

:meth:`SpikingRNN.simulate` steps all trials × factors together with one torch operation per
update; at N = 200 each operation touches a [B, N] tensor and the whole state crosses memory
every step. Here each batch row (one trial at one factor) is simulated by one thread from the
first step to the last with its state (v, refractory counter, IPSC, h, r, h_r: N floats each) in
cache, and the rows are spread over the cores (``prange``). The per-row arithmetic is that of the
torch path, in the same order and in float32, so that without noise both give the same spikes and
the same readout bit for bit:

* external drive ``Σ_c u_c · W_in[:, c]`` (channels in ascending order) ``+ I_bias``, recomputed
  when the stimulus column changes (:func:`spikernn.spiking.network.external_drive`);
* ``current = IPSC · (1/s) + external``; the membrane step of
  :func:`spikernn.spiking.neurons.membrane_step`; the synapse step of
  :func:`spikernn.spiking.neurons.synapse_step` with ``JD`` summed over the units that spiked in
  ascending order, every new synaptic value below the smallest normal float32 set to 0;
* readout ``float32(Σ_n r_n · w_n) · (1/s)``, the exact float64 products summed in float64 in
  eight interleaved lanes (lane ``l`` takes units ``l, l + 8, …`` in order), the lanes then summed
  in order — :func:`spikernn.spiking.network.readout_sum` does the same in torch.

Noise is the one difference: the kernel draws its own Gaussians
(:mod:`spikernn.spiking.noise_generator`; the torch path uses ``torch.randn``), so with noise on
the two backends agree in distribution, not trial by trial. Each step's draw z goes, as in the
torch path, either onto v (``spiking.noise_mode`` "voltage": ``v += z·σ_v`` after the Euler step)
or into the current (``"current"``: ``I += z·σ_I`` before it).

The kernel reads the network as one :class:`KernelNetwork` (arrays and float32 scalars), its
trials as :class:`KernelTrials` and its state as :class:`KernelState`. Everything except the
readout [B, n_steps] (and recordings that were asked for) is O(B × N).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import NamedTuple

import numba
import numpy as np
import torch
from numba import njit, prange

from spikernn.spiking.constants import FLOAT32_MIN_NORMAL, PROGRESS_EVERY, READOUT_LANES, RECORDABLE
from spikernn.spiking.neurons import synapse_constants
from spikernn.spiking.noise_generator import (
    TABLES,
    NoiseStreams,
    ZigguratTables,
    close_row,
    draw_normals,
    open_row,
    seed_streams,
)
from spikernn.spiking.parameters import SpikingParameters

MIN_NORMAL = np.float32(FLOAT32_MIN_NORMAL)


class KernelConstants(NamedTuple):
    """The spiking parameters as the kernel reads them, float32: I_bias (mV), dt/τ_m, v_th, v_reset
    (mV), refractory period (steps), decay_r = e^{−dt/τ_r}, dt (s), σ of the voltage noise and of the
    current noise (mV; the unselected ``noise_mode``'s is 0); and the neuron and synapse variants.
    Numbers only, so the per-step updates take it at no cost (a tuple holding arrays costs reference
    counting every time it is handed over)."""

    i_bias: np.float32
    dt_over_tau_m: np.float32
    v_th: np.float32
    v_reset: np.float32
    refractory_steps: np.float32
    decay_r: np.float32
    dt_s: np.float32
    voltage_noise_sd: np.float32
    current_noise_sd: np.float32
    quadratic: bool
    double_exponential: bool


class KernelWeights(NamedTuple):
    """w_in [N, n_in] and w_eff_t [N, N] (row j = W_eff[:, j]) float32; w_out64 [n_outputs, Np]
    float64, each row zero-padded to a multiple of READOUT_LANES; decay_d and gain [N] float32
    (:func:`~spikernn.spiking.neurons.synapse_constants`)."""

    w_in: np.ndarray
    w_eff_t: np.ndarray
    w_out64: np.ndarray
    decay_d: np.ndarray
    gain: np.ndarray


class KernelNetwork(NamedTuple):
    """A spiking network and its parameters as the kernel reads them (two parts: numba's parallel
    loop takes no tuple nested in a tuple)."""

    weights: KernelWeights
    constants: KernelConstants


def kernel_network(
    w_eff: torch.Tensor, w_in: torch.Tensor, w_out: torch.Tensor, tau_d_ms: torch.Tensor, params: SpikingParameters
) -> KernelNetwork:
    """The kernel's bundle of unscaled weights W_eff [N, N], W_in [N, n_in], W_out [N] or
    [n_outputs, N], synaptic decay times τ_d [N] (ms) and the spiking parameters."""
    n = w_eff.shape[0]
    rows = _array(w_out, np.float64).reshape(-1, n)
    w_out64 = np.zeros((rows.shape[0], -(-n // READOUT_LANES) * READOUT_LANES))
    w_out64[:, :n] = rows
    decay_d, gain, decay_r, dt_s = synapse_constants(tau_d_ms.detach().float(), params)
    f32 = np.float32
    return KernelNetwork(
        weights=KernelWeights(
            w_in=_array(w_in, f32),
            w_eff_t=_array(w_eff.T, f32),
            w_out64=w_out64,
            decay_d=_array(decay_d, f32),
            gain=_array(gain, f32),
        ),
        constants=KernelConstants(
            i_bias=f32(params.i_bias_mv),
            dt_over_tau_m=f32(params.dt_ms / params.tau_m_ms),
            v_th=f32(params.v_th_mv),
            v_reset=f32(params.v_reset_mv),
            refractory_steps=f32(params.refractory_steps),
            decay_r=f32(decay_r),
            dt_s=f32(dt_s),
            voltage_noise_sd=f32(params.voltage_noise_mv),
            current_noise_sd=f32(params.current_noise_mv),
            quadratic=params.neuron == "qif",
            double_exponential=params.double_exponential,
        ),
    )


class KernelTrials(NamedTuple):
    """inputs [B, C, n_in] float32 on the stimulus grid; columns [n_steps] int64, the stimulus
    column of each step; inv_s [B] float32, 1/s of each row; stop_above, stop_below [B] float32 and
    stop_from: a row stops at the first step k ≥ stop_from whose first output is above its
    stop_above or below its stop_below (±inf: never), its later readout samples holding that step's
    values."""

    inputs: np.ndarray
    columns: np.ndarray
    inv_s: np.ndarray
    stop_above: np.ndarray
    stop_below: np.ndarray
    stop_from: int


class KernelState(NamedTuple):
    """[B, N] float32 each: voltage (mV), refractory steps left, IPSC (mV, unscaled), h, r
    (spikes/s), h_r, spike counts; and stopped [B] int64, the step at which a row stopped (−1: not
    stopped)."""

    v: np.ndarray
    refractory: np.ndarray
    ipsc: np.ndarray
    h: np.ndarray
    r: np.ndarray
    h_r: np.ndarray
    counts: np.ndarray
    stopped: np.ndarray


class Recordings(NamedTuple):
    """[B, n_steps, N] recordings (spikes bool, the others float32; ipsc scaled by 1/s), each
    [B, 0, 0] when not recorded."""

    spikes: np.ndarray
    voltage: np.ndarray
    rates: np.ndarray
    ipsc: np.ndarray


# --- one row's updates (inlined into the row loop) ------------------------------------------------


@njit(cache=True, inline="always")
def _external_drive(u: np.ndarray, w_in: np.ndarray, i_bias: np.float32, external: np.ndarray) -> None:
    """external ← Σ_c u_c W_in[:, c] in channel order, then + I_bias (network.external_drive)."""
    for i in range(external.shape[0]):
        acc = u[0] * w_in[i, 0]
        for c in range(1, w_in.shape[1]):
            acc = acc + u[c] * w_in[i, c]
        external[i] = acc + i_bias


@njit(cache=True, inline="always")
def _membrane_step(
    c: KernelConstants,
    v: np.ndarray,
    refractory: np.ndarray,
    ipsc: np.ndarray,
    external: np.ndarray,
    inv_s: np.float32,
    z: np.ndarray,
    noisy: bool,
    spiked: np.ndarray,
    counts: np.ndarray,
) -> None:
    """neurons.membrane_step for one row: LIF drive current − v (as current + (−v), the same
    number) or QIF current + v²; noise z·σ_I into the current and z·σ_v onto v (one σ is 0, and
    z·0 changes nothing); spiked[i] ← 1.0 where unit i fired, else 0.0. ``noisy`` is a constant at
    each call site, so each compiles to its own loop; one loop over the units whose branches
    vectorise as selects, float32 throughout (a narrower flag or a count kept here would halve the
    vector width LLVM picks)."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for i in range(v.shape[0]):
        vi = v[i]
        current = ipsc[i] * inv_s + external[i]
        if noisy:
            current = current + z[i] * c.current_noise_sd
        drive = current + (vi * vi if c.quadratic else -vi)
        ref_i = refractory[i]
        vi = vi + drive * c.dt_over_tau_m if ref_i == zero else vi
        if noisy:
            vi = vi + z[i] * c.voltage_noise_sd
        fire = vi >= c.v_th
        v[i] = c.v_reset if fire else vi
        refractory[i] = c.refractory_steps if fire else (ref_i - one if ref_i > zero else zero)
        spike = one if fire else zero
        spiked[i] = spike
        counts[i] = counts[i] + spike


@njit(cache=True, inline="always")
def _any_spike(spiked: np.ndarray) -> bool:
    """Whether any unit fired (the flags' bits ORed, which vectorises)."""
    bits = spiked.view(np.uint32)
    any_bits = np.uint32(0)
    for i in range(bits.shape[0]):
        any_bits |= bits[i]
    return any_bits != 0


@njit(cache=True, inline="always")
def _recurrent_input(spiked: np.ndarray, w_eff_t: np.ndarray, jd: np.ndarray) -> None:
    """jd ← Σ_{j spiked} W_eff[:, j], j ascending, from zero (network.recurrent_input); called only
    on steps where some unit spiked."""
    for i in range(jd.shape[0]):
        jd[i] = np.float32(0.0)
    for j in range(spiked.shape[0]):
        if spiked[j] != np.float32(0.0):
            row = w_eff_t[j]
            for i in range(jd.shape[0]):
                jd[i] = jd[i] + row[i]


@njit(cache=True, inline="always")
def _flush(x: np.float32) -> np.float32:
    """x, or 0 where |x| is below the smallest normal float32 (neurons.flush_subnormal)."""
    return x if abs(x) >= MIN_NORMAL else np.float32(0.0)


@njit(cache=True, inline="always")
def _synapse_step(
    c: KernelConstants,
    decay_d: np.ndarray,
    gain: np.ndarray,
    ipsc: np.ndarray,
    h: np.ndarray,
    r: np.ndarray,
    h_r: np.ndarray,
    jd: np.ndarray,
    spiked: np.ndarray,
    any_spike: bool,
) -> None:
    """neurons.synapse_step for one row (S·gain is gain or 0), each new value flushed as in the torch
    path; float32 only (the readout's float64 products are formed in :func:`_readout_sum`), so that
    the loop vectorises at the full float32 width. ``any_spike`` False leaves out the spike terms,
    which are then all zero; it is a constant at each call site, so each compiles to its own loop."""
    zero = np.float32(0.0)
    decay_r, dt_s = c.decay_r, c.dt_s
    if c.double_exponential:
        for i in range(ipsc.shape[0]):
            ipsc[i] = _flush(ipsc[i] * decay_d[i] + h[i] * dt_s)
            h_i = h[i] * decay_r
            h[i] = _flush(h_i + jd[i] * gain[i] if any_spike else h_i)
            r[i] = _flush(r[i] * decay_d[i] + h_r[i] * dt_s)
            h_r_i = h_r[i] * decay_r
            h_r[i] = _flush(h_r_i + (gain[i] if spiked[i] != zero else zero) if any_spike else h_r_i)
    else:
        for i in range(ipsc.shape[0]):
            ipsc_i = ipsc[i] * decay_d[i]
            ipsc[i] = _flush(ipsc_i + jd[i] * gain[i] if any_spike else ipsc_i)
            r_i = r[i] * decay_d[i]
            r[i] = _flush(r_i + (gain[i] if spiked[i] != zero else zero) if any_spike else r_i)


@njit(cache=True, inline="always")
def _product(r: np.ndarray, w_out64: np.ndarray, i: int) -> float:
    """The exact float64 product r_i · w_i, and 0.0 for the padding beyond the last unit."""
    return np.float64(r[i]) * w_out64[i] if i < r.shape[0] else 0.0


@njit(cache=True, inline="always")
def _readout_sum(r: np.ndarray, w_out64: np.ndarray) -> float:
    """Σ_i float64(r_i) · w_i as network.readout_sum sums it: lane l (of READOUT_LANES = 8) sums the
    products of units l, l + 8, … in turn (w_out64 is zero-padded to whole blocks, each padded
    product 0.0), then the lanes are summed in order. The lanes are eight locals, so that they
    stay in registers."""
    full = r.shape[0] - r.shape[0] % 8  # units in whole blocks of eight
    a0, a1, a2, a3 = _product(r, w_out64, 0), _product(r, w_out64, 1), _product(r, w_out64, 2), _product(r, w_out64, 3)
    a4, a5, a6, a7 = _product(r, w_out64, 4), _product(r, w_out64, 5), _product(r, w_out64, 6), _product(r, w_out64, 7)
    for m in range(8, full, 8):
        a0 = a0 + np.float64(r[m]) * w_out64[m]
        a1 = a1 + np.float64(r[m + 1]) * w_out64[m + 1]
        a2 = a2 + np.float64(r[m + 2]) * w_out64[m + 2]
        a3 = a3 + np.float64(r[m + 3]) * w_out64[m + 3]
        a4 = a4 + np.float64(r[m + 4]) * w_out64[m + 4]
        a5 = a5 + np.float64(r[m + 5]) * w_out64[m + 5]
        a6 = a6 + np.float64(r[m + 6]) * w_out64[m + 6]
        a7 = a7 + np.float64(r[m + 7]) * w_out64[m + 7]
    for m in range(max(full, 8), w_out64.shape[0], 8):  # the padded last block
        a0 = a0 + _product(r, w_out64, m)
        a1 = a1 + _product(r, w_out64, m + 1)
        a2 = a2 + _product(r, w_out64, m + 2)
        a3 = a3 + _product(r, w_out64, m + 3)
        a4 = a4 + _product(r, w_out64, m + 4)
        a5 = a5 + _product(r, w_out64, m + 5)
        a6 = a6 + _product(r, w_out64, m + 6)
        a7 = a7 + _product(r, w_out64, m + 7)
    return 0.0 + a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7


@njit(cache=True, inline="always")
def _record(
    b: int,
    k: int,
    spiked: np.ndarray,
    v: np.ndarray,
    r: np.ndarray,
    ipsc: np.ndarray,
    inv_s: np.float32,
    rec_spikes: np.ndarray,
    rec_voltage: np.ndarray,
    rec_rates: np.ndarray,
    rec_ipsc: np.ndarray,
) -> None:
    """Copy step k of row b into the :class:`Recordings` (unpacked) that were asked for."""
    for i in range(rec_spikes.shape[2]):
        rec_spikes[b, k, i] = spiked[i] != np.float32(0.0)
    for i in range(rec_voltage.shape[2]):
        rec_voltage[b, k, i] = v[i]
    for i in range(rec_rates.shape[2]):
        rec_rates[b, k, i] = r[i]
    for i in range(rec_ipsc.shape[2]):
        rec_ipsc[b, k, i] = ipsc[i] * inv_s


# --- the kernel ---------------------------------------------------------------------------------


@njit(parallel=True, cache=True, nogil=True)
def run_rows(
    k0: int,
    k1: int,
    trials: KernelTrials,
    weights: KernelWeights,
    constants: KernelConstants,
    noisy: bool,
    want_readout: bool,  # False only to profile the kernel
    state: KernelState,
    streams: NoiseStreams,
    tables: ZigguratTables,
    readout: np.ndarray,  # [B, n_outputs, n_steps] float32
    rec: Recordings,
) -> None:
    """Advance every row from step k0 to step k1 (exclusive), in place; rows in parallel."""
    for b in prange(state.v.shape[0]):
        _run_row(b, k0, k1, trials, weights, constants, noisy, want_readout, state, streams, tables, readout, rec)


@njit(cache=True)
def _run_row(
    b: int,
    k0: int,
    k1: int,
    trials: KernelTrials,
    weights: KernelWeights,
    constants: KernelConstants,
    noisy: bool,
    want_readout: bool,
    state: KernelState,
    streams: NoiseStreams,
    tables: ZigguratTables,
    readout: np.ndarray,
    rec: Recordings,
) -> None:
    """Row b (one trial at one factor), steps k0 … k1 − 1, with the torch path's arithmetic.

    The bundles are unpacked here, once per row: the per-step updates take arrays and the
    :class:`KernelConstants` (numba would count references to a tuple of arrays at every hand-over;
    and it miscompiles ``inline="always"`` calls on named tuples made directly in a ``prange`` body,
    hence a function of its own)."""
    n = state.v.shape[1]
    v, refractory, ipsc, h, r, h_r, counts = (
        state.v[b], state.refractory[b], state.ipsc[b], state.h[b], state.r[b], state.h_r[b], state.counts[b],
    )  # fmt: skip
    inputs, columns, inv_s = trials.inputs[b], trials.columns, trials.inv_s[b]
    w_in, w_eff_t, w_out64, decay_d, gain = weights
    c = constants
    rec_spikes, rec_voltage, rec_rates, rec_ipsc = rec
    if state.stopped[b] >= 0:
        _hold_readout(readout, b, state.stopped[b], k0, k1)
        return
    stop_above, stop_below, stop_from = trials.stop_above[b], trials.stop_below[b], trials.stop_from
    s0, s1, s2, s3, scalar, words, entries, rejected = open_row(streams, b, n)
    ztab, zk, zig = tables
    external = np.empty(n, dtype=np.float32)
    z = np.zeros(n, dtype=np.float32)
    jd = np.zeros(n, dtype=np.float32)
    spiked = np.zeros(n, dtype=np.float32)  # 1.0 where the unit fired this step
    column = -1
    for k in range(k0, k1):
        if columns[k] != column:
            column = columns[k]
            _external_drive(inputs[column], w_in, c.i_bias, external)
        if noisy:
            draw_normals(z, s0, s1, s2, s3, scalar, words, entries, rejected, ztab, zk, zig)
            _membrane_step(c, v, refractory, ipsc, external, inv_s, z, True, spiked, counts)
        else:
            _membrane_step(c, v, refractory, ipsc, external, inv_s, z, False, spiked, counts)
        if _any_spike(spiked):
            _recurrent_input(spiked, w_eff_t, jd)
            _synapse_step(c, decay_d, gain, ipsc, h, r, h_r, jd, spiked, True)
        else:
            _synapse_step(c, decay_d, gain, ipsc, h, r, h_r, jd, spiked, False)
        if want_readout:
            for o in range(w_out64.shape[0]):
                readout[b, o, k] = np.float32(_readout_sum(r, w_out64[o])) * inv_s
        _record(b, k, spiked, v, r, ipsc, inv_s, rec_spikes, rec_voltage, rec_rates, rec_ipsc)
        if want_readout and k >= stop_from and (readout[b, 0, k] > stop_above or readout[b, 0, k] < stop_below):
            state.stopped[b] = k
            _hold_readout(readout, b, k, k + 1, k1)
            break
    close_row(streams, b, s0, s1, s2, s3, scalar)


@njit(cache=True, inline="always")
def _hold_readout(readout: np.ndarray, b: int, stop: int, k0: int, k1: int) -> None:
    """Row b stopped at step ``stop``: its readout samples k0 … k1 − 1 hold that step's values."""
    for o in range(readout.shape[1]):
        for k in range(k0, k1):
            readout[b, o, k] = readout[b, o, stop]


# --- the torch-facing wrapper -------------------------------------------------------------------


def _array(t: torch.Tensor, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)


def simulate_fused(
    net: KernelNetwork,
    flat_inputs: torch.Tensor,
    inv_s: torch.Tensor,
    v0: torch.Tensor,
    columns: torch.Tensor,
    noise: bool,
    generator: torch.Generator | None,
    record: Collection[str],
    on_progress: Callable[[int, int], None] | None,
    compute_readout: bool = True,
    stop_outside: tuple[torch.Tensor, torch.Tensor] | None = None,
    stop_from: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Run :func:`run_rows` for ``net`` on B = rows of ``flat_inputs`` [B, C, n_in] with per-row
    1/s ``inv_s`` [B] and initial voltages ``v0`` [B, N] (mV); returns (readout [B, n_outputs, n_steps], spike
    counts [B, N] int32, recordings [B, n_steps, N]). With ``noise`` and a σ > 0 the noise seed is
    one 64-bit draw from ``generator``; ``on_progress`` is called every ``PROGRESS_EVERY`` steps.
    ``compute_readout`` = False skips the readout's final sum (the readout is then zero), for
    profiling only. ``stop_outside`` = (below, above) [B] each: row b stops at the first step
    k ≥ ``stop_from`` where its first output is below ``below[b]`` or above ``above[b]``; its readout
    then holds step k's values to the end, and its spike counts cover steps 0 … k (nothing may be
    recorded then)."""
    if stop_outside is not None and record:
        raise ValueError("rows that stop early cannot be recorded")
    n_rows, n = v0.shape
    n_steps = len(columns)
    f32 = np.float32
    noisy = bool(noise) and (net.constants.voltage_noise_sd > 0 or net.constants.current_noise_sd > 0)
    seed = 0
    if noisy:
        seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.int64))
    streams = seed_streams(np.uint64(seed), n_rows, n)
    state = KernelState(
        _array(v0, f32).copy(),
        np.full((n_rows, n), net.constants.refractory_steps, dtype=f32),
        *(np.zeros((n_rows, n), dtype=f32) for _ in range(5)),
        np.full(n_rows, -1, dtype=np.int64),
    )
    below, above = np.full(n_rows, -np.inf, dtype=f32), np.full(n_rows, np.inf, dtype=f32)
    if stop_outside is not None:
        below, above = (_array(bound, f32).reshape(n_rows) for bound in stop_outside)
    trials = KernelTrials(
        _array(flat_inputs, f32), _array(columns, np.int64), _array(inv_s, f32), above, below, np.int64(stop_from)
    )
    readout = (np.empty if compute_readout else np.zeros)((n_rows, net.weights.w_out64.shape[0], n_steps), dtype=f32)
    recorded = {name: np.empty((n_rows, n_steps, n), dtype=np.bool_ if name == "spikes" else f32) for name in record}
    rec = Recordings(
        *(
            recorded.get(name, np.empty((n_rows, 0, 0), dtype=np.bool_ if name == "spikes" else f32))
            for name in RECORDABLE
        )
    )
    chunk = PROGRESS_EVERY if on_progress is not None else n_steps
    torch_threads = torch.get_num_threads()
    for k0 in range(0, n_steps, chunk):
        k1 = min(k0 + chunk, n_steps)
        try:
            with numba.parallel_chunksize(1):  # rows handed out one at a time: balanced on a busy machine
                run_rows(k0, k1, trials, *net, noisy, compute_readout, state, streams, TABLES, readout, rec)
        finally:
            # numba's OpenMP layer sets the OpenMP thread count that torch shares: give torch its own back
            if torch.get_num_threads() != torch_threads:
                torch.set_num_threads(torch_threads)
        if on_progress is not None:
            on_progress(k1, n_steps)
    return (
        torch.from_numpy(readout),
        torch.from_numpy(state.counts).to(torch.int32),
        {name: torch.from_numpy(arr) for name, arr in recorded.items()},
    )
