"""Fused CPU kernel for the spiking network (SPEC §3): one numba loop per trial.

:meth:`SpikingRNN.simulate` steps all trials × factors together with one torch operation per
update; at N = 200 each operation touches a [B, N] tensor and the whole state crosses memory
every step. Here each batch row (one trial at one factor) is simulated by one thread from the
first step to the last with its state (v, refractory counter, IPSC, h, r, h_r: N floats each) in
cache, and the rows are spread over the cores (``prange``). The per-row arithmetic is that of the
torch path, in the same order and in float32, so that without noise both give the same spikes and
the same readout bit for bit:

* external drive ``Σ_c u_c · W_in[:, c]`` (channels in ascending order) ``+ I_bias``, recomputed
  when the stimulus column changes;
* ``current = IPSC · (1/s) + external``; the membrane step of :func:`membrane_step`; the synapse
  step of :func:`synapse_step` with ``JD`` summed over the units that spiked in ascending order;
* readout ``float32(Σ_n r_n · w_n) · (1/s)``, the exact float64 products summed in float64 in
  eight interleaved lanes (lane ``l`` takes units ``l, l + 8, …`` in order), the lanes then summed
  in order — :func:`spikernn.spiking.network.readout_sum` does the same in torch.

Noise is the one difference: the kernel draws its own Gaussians (the torch path uses
``torch.randn``), so with noise on the two backends agree in distribution, not trial by trial.
Each step's draw z goes, as in the torch path, either onto v (``spiking.noise_mode`` "voltage":
``v += z·σ_v`` after the Euler step) or into the current (``"current"``: ``I += z·σ_I`` before it).
The generator is xoshiro256++ (Blackman & Vigna), one independent stream per group of two units
per row, seeded from one 64-bit seed and the row index through SplitMix64, so the numbers do not
depend on the number of threads. Each 64-bit draw gives two 32-bit words; each word gives one
standard normal by a 1024-layer ziggurat (Marsaglia & Tsang 2000) that takes its layer index, sign
and 21-bit magnitude from disjoint bits (Doornik 2005). The ~0.4 % of draws outside the
rectangles take the exact slow path (wedge test, or Marsaglia's tail algorithm beyond R) with
numbers from a separate per-row xoshiro256++ stream.

Everything except the readout [B, n_steps] (and recordings that were asked for) is O(B × N).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import numba
import numpy as np
import torch
from numba import njit, prange

# network imports this module only inside SpikingRNN.simulate
from spikernn.spiking.network import PROGRESS_EVERY, READOUT_LANES, SpikingRNN

# --- ziggurat tables (1024 layers) --------------------------------------------------------------

LAYER_BITS = 10
ZIG_LAYERS = 1 << LAYER_BITS
MAGNITUDE_BITS = 32 - LAYER_BITS - 1  # a 32-bit word: layer, sign, magnitude
# Right edge R of the base layer and area V of each layer (density exp(−x²/2)), solved so that
# the layers close at x = 0: for 128 and 256 layers the same solver gives Marsaglia & Tsang's
# (3.442619855899, 9.91256303526217e-3) and (3.6541528853610088, 4.92867323399e-3).
ZIG_R = 4.038849846109504
ZIG_V = 0.0012263246463530893


def ziggurat_tables() -> tuple[np.ndarray, np.ndarray]:
    """Marsaglia & Tsang's ``zigset`` for 1024 layers and a 21-bit magnitude m: layer i (i ≥ 1)
    spans x ∈ [0, x_i] and density heights [f(x_i), f(x_{i−1})], x = m · x_i / 2²¹, and a draw is
    inside the layer's rectangle when m < k_i = 2²¹ x_{i−1}/x_i. Layer 0 is the base strip plus the
    tail beyond R. Returns k [1024] (uint64) and float64 rows [x_i / 2²¹, f(x_i), x_i (x_0 := 0)]."""
    scale = float(1 << MAGNITUDE_BITS)
    n = ZIG_LAYERS
    w = np.zeros(n)
    k = np.zeros(n, dtype=np.uint64)
    f = np.zeros(n)
    edge = np.zeros(n)
    dn = tn = ZIG_R
    q = ZIG_V / math.exp(-0.5 * dn * dn)
    k[0] = int(dn / q * scale)
    k[1] = 0
    w[0] = q / scale
    w[n - 1] = dn / scale
    edge[n - 1] = dn
    f[0] = 1.0
    f[n - 1] = math.exp(-0.5 * dn * dn)
    for i in range(n - 2, 0, -1):
        dn = math.sqrt(-2.0 * math.log(ZIG_V / dn + math.exp(-0.5 * dn * dn)))
        k[i + 1] = int(dn / tn * scale)
        tn = dn
        f[i] = math.exp(-0.5 * dn * dn)
        w[i] = dn / scale
        edge[i] = dn
    return k, np.stack([w, f, edge])


ZIG_K, ZIG = ziggurat_tables()
# (float32 w_i, int32 k_i) packed in one 64-bit entry, so the fast path's lookup is one load
ZIG_TABLE = np.zeros(ZIG_LAYERS, dtype=np.uint64)
ZIG_TABLE.view(np.float32)[0::2] = ZIG[0].astype(np.float32)
ZIG_TABLE.view(np.int32)[1::2] = ZIG_K.astype(np.int32)

_MAGNITUDE_MASK = np.uint64((1 << MAGNITUDE_BITS) - 1)
_U1 = np.uint64(1)
_U11 = np.uint64(11)
_U17 = np.uint64(17)
_U19 = np.uint64(19)
_U23 = np.uint64(23)
_U27 = np.uint64(27)
_U30 = np.uint64(30)
_U31 = np.uint64(31)
_U32 = np.uint64(32)
_U41 = np.uint64(41)
_U45 = np.uint64(45)
_LAYER_MASK = np.uint64(ZIG_LAYERS - 1)
_SIGN_SHIFT = np.uint64(LAYER_BITS)
_MAGNITUDE_SHIFT = np.uint64(LAYER_BITS + 1)
_LAYER32 = np.uint32(ZIG_LAYERS - 1)
_SIGN32 = np.uint32(1 << LAYER_BITS)
_MAGNITUDE_SHIFT32 = np.uint32(LAYER_BITS + 1)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO53 = 1.0 / 9007199254740992.0


# --- generators ---------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _splitmix64(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """SplitMix64: (new state, output)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _U30)) * _MIX1
    z = (z ^ (z >> _U27)) * _MIX2
    return state, z ^ (z >> _U31)


@njit(cache=True, inline="always")
def _next64(st: np.ndarray) -> np.uint64:
    """xoshiro256++ on a 4-word state array (the scalar stream)."""
    a0, a1, a2, a3 = st[0], st[1], st[2], st[3]
    x = a0 + a3
    out = ((x << _U23) | (x >> _U41)) + a0
    t = a1 << _U17
    a2 ^= a0
    a3 ^= a1
    a1 ^= a2
    a0 ^= a3
    a2 ^= t
    st[0], st[1], st[2] = a0, a1, a2
    st[3] = (a3 << _U45) | (a3 >> _U19)
    return out


@njit(cache=True)
def seed_streams(seed: np.uint64, n_rows: int, n_lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """Row r's lane streams [r, 4, n_lanes] and scalar stream [r, 4], from SplitMix64 seeded with
    a hash of (seed, r): a row's numbers depend only on the seed and its index."""
    lanes = np.empty((n_rows, 4, n_lanes), dtype=np.uint64)
    scalar = np.empty((n_rows, 4), dtype=np.uint64)
    for r in range(n_rows):
        _, h = _splitmix64(np.uint64(r) * _MIX2)
        state = seed ^ h
        for lane in range(n_lanes):
            for w in range(4):
                state, out = _splitmix64(state)
                lanes[r, w, lane] = out
        for w in range(4):
            state, out = _splitmix64(state)
            scalar[r, w] = out
    return lanes, scalar


@njit(cache=True, inline="always")
def _uniform_open(st: np.ndarray) -> float:
    """Uniform on (0, 1) from the scalar stream."""
    return (np.float64(_next64(st) >> _U11) + 0.5) * _TWO53


@njit(cache=True)
def _ziggurat_slow(word: np.uint64, st: np.ndarray, zk: np.ndarray, zig: np.ndarray) -> np.float32:
    """Finish a ziggurat draw whose 32-bit ``word`` fell outside its layer's rectangle: the exact
    wedge test, or Marsaglia's tail algorithm in the base layer; new words from the scalar stream.

    The wedge test y < f(x), y = f_i + u (f_{i−1} − f_i), is mostly settled without exp: where f is
    concave (x ≤ 1) it lies between the chord through the layer's corners and the tangents at them,
    where it is convex (x ≥ 1) between the tangents and the chord."""
    while True:
        layer = word & _LAYER_MASK
        negative = (word >> _SIGN_SHIFT) & _U1
        magnitude = (word >> _MAGNITUDE_SHIFT) & _MAGNITUDE_MASK
        if magnitude < zk[layer]:  # inside the rectangle (only after a redraw)
            x32 = np.float32(magnitude) * np.float32(zig[0, layer])
            return -x32 if negative else x32
        if layer == 0:  # beyond R: Marsaglia (1964)
            while True:
                x = -math.log(_uniform_open(st)) / ZIG_R
                y = -math.log(_uniform_open(st))
                if y + y >= x * x:
                    break
            x = ZIG_R + x
            return np.float32(-x if negative else x)
        x = magnitude * zig[0, layer]
        lo, hi = zig[2, layer - 1], zig[2, layer]
        f_lo, f_hi = zig[1, layer - 1], zig[1, layer]
        y = f_hi + _uniform_open(st) * (f_lo - f_hi)
        chord = f_lo + (f_hi - f_lo) * (x - lo) / (hi - lo)
        tangent_lo = f_lo * (1.0 - lo * (x - lo))  # f'(x) = −x f(x)
        tangent_hi = f_hi * (1.0 - hi * (x - hi))
        if hi <= 1.0:  # concave: chord ≤ f ≤ tangents
            if y < chord:
                return np.float32(-x if negative else x)
            if y > min(tangent_lo, tangent_hi):
                word = _next64(st) >> _U32
                continue
        elif lo >= 1.0:  # convex: tangents ≤ f ≤ chord
            if y > chord:
                word = _next64(st) >> _U32
                continue
            if y < max(tangent_lo, tangent_hi):
                return np.float32(-x if negative else x)
        if y < math.exp(-0.5 * x * x):
            return np.float32(-x if negative else x)
        word = _next64(st) >> _U32


def standard_normal(seed: int, n_rows: int, n_units: int, n_draws: int) -> np.ndarray:
    """[n_rows, n_draws, n_units] standard normals exactly as the kernel draws them for row r at its
    draw d (for tests)."""
    return _standard_normal(np.uint64(seed), n_rows, n_units, n_draws, ZIG_TABLE, ZIG_K, ZIG)


@njit(cache=True)
def _standard_normal(seed, n_rows, n_units, n_draws, ztab, zk, zig):
    n_lanes = (n_units + 1) // 2
    lanes, scalar = seed_streams(seed, n_rows, n_lanes)
    out = np.empty((n_rows, n_draws, n_units), dtype=np.float32)
    words, entries, rejected = _noise_scratch(n_units)
    for r in range(n_rows):
        s0, s1, s2, s3 = lanes[r, 0].copy(), lanes[r, 1].copy(), lanes[r, 2].copy(), lanes[r, 3].copy()
        st = scalar[r].copy()
        for d in range(n_draws):
            _draw_normals(s0, s1, s2, s3, st, words, entries, rejected, out[r, d], ztab, zk, zig)
    return out


@njit(cache=True)
def _noise_scratch(n_units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Work arrays of :func:`_draw_normals`: 64-bit draws, table entries, rejection flags."""
    n_lanes = (n_units + 1) // 2
    flags = np.zeros(-(-n_units // 8) * 8, dtype=np.uint8)
    return np.zeros(n_lanes, dtype=np.uint64), np.zeros(n_units, dtype=np.uint64), flags


@njit(cache=True, inline="always")
def _draw_normals(
    s0: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    s3: np.ndarray,
    scalar: np.ndarray,
    words: np.ndarray,
    entries: np.ndarray,
    rejected: np.ndarray,
    z: np.ndarray,
    ztab: np.ndarray,
    zk: np.ndarray,
    zig: np.ndarray,
) -> None:
    """z[i] ← a standard normal for each unit i, from 32-bit word i of this step's draws (lane l's
    64-bit draw holds words 2l and 2l + 1). Separate loops so that the draw and the fast path
    vectorise: draw; look up (w, k) of each word's layer; scale and flag the ~0.4 % of words outside
    their rectangle; finish those on the slow path."""
    for lane in range(s0.shape[0]):  # xoshiro256++, one stream per lane
        a0, a1, a2, a3 = s0[lane], s1[lane], s2[lane], s3[lane]
        x = a0 + a3
        words[lane] = ((x << _U23) | (x >> _U41)) + a0
        t = a1 << _U17
        a2 ^= a0
        a3 ^= a1
        a1 ^= a2
        a0 ^= a3
        a2 ^= t
        s0[lane] = a0
        s1[lane] = a1
        s2[lane] = a2
        s3[lane] = (a3 << _U45) | (a3 >> _U19)
    w32 = words.view(np.uint32)
    n_units = z.shape[0]
    for i in range(n_units):  # bits 0-9: layer
        entries[i] = ztab[w32[i] & _LAYER32]
    wl = entries.view(np.float32)
    kl = entries.view(np.int32)
    n_rejected = 0
    for i in range(n_units):  # bit 10: sign; bits 11-31: magnitude
        word = w32[i]
        magnitude = np.int32(word >> _MAGNITUDE_SHIFT32)
        x32 = np.float32(magnitude) * wl[2 * i]
        z[i] = -x32 if word & _SIGN32 else x32
        outside = magnitude >= kl[2 * i + 1]
        rejected[i] = np.uint8(outside)
        n_rejected += np.int32(outside)
    if n_rejected:
        packed = rejected.view(np.uint64)
        for q in range(packed.shape[0]):
            if packed[q]:
                for i in range(8 * q, 8 * q + 8):
                    if rejected[i]:
                        z[i] = _ziggurat_slow(np.uint64(w32[i]), scalar, zk, zig)
                        rejected[i] = 0


# --- the kernel ---------------------------------------------------------------------------------


@njit(parallel=True, cache=True, nogil=True)
def run_rows(
    k0: int,
    k1: int,
    inputs: np.ndarray,  # [B, C, n_in] float32
    columns: np.ndarray,  # [n_steps] int64
    inv_s: np.ndarray,  # [B] float32
    w_in: np.ndarray,  # [N, n_in] float32
    w_eff_t: np.ndarray,  # [N, N] float32, row j = W_eff[:, j]
    w_out64: np.ndarray,  # [Np] float64, zero-padded to a multiple of READOUT_LANES
    decay_d: np.ndarray,  # [N] float32
    gain: np.ndarray,  # [N] float32
    consts: np.ndarray,  # float32: i_bias, dt/τ_m, v_th, v_reset, refractory steps, decay_r, dt_s,
    # σ of the voltage noise, σ of the current noise (one of the two is 0: spiking.noise_mode)
    quadratic: bool,
    double_exponential: bool,
    noise: bool,
    want_readout: bool,  # False only to profile the kernel
    v: np.ndarray,  # state [B, N] float32: voltage, refractory steps left, IPSC (unscaled), h, r, h_r, counts
    refractory: np.ndarray,
    ipsc: np.ndarray,
    h: np.ndarray,
    r: np.ndarray,
    h_r: np.ndarray,
    counts: np.ndarray,
    lanes: np.ndarray,  # [B, 4, n_lanes] uint64
    scalar: np.ndarray,  # [B, 4] uint64
    readout: np.ndarray,  # [B, n_steps] float32
    rec_spikes: np.ndarray,  # [B, n_steps, N] bool, or [B, 0, 0] when not recorded
    rec_voltage: np.ndarray,
    rec_rates: np.ndarray,
    rec_ipsc: np.ndarray,
    ztab: np.ndarray,  # ziggurat tables
    zk: np.ndarray,
    zig: np.ndarray,
) -> None:
    """Advance every row from step k0 to step k1 (exclusive), in place; rows in parallel."""
    for b in prange(v.shape[0]):
        _run_row(
            b, k0, k1, inputs, columns, inv_s, w_in, w_eff_t, w_out64, decay_d, gain, consts, quadratic,
            double_exponential, noise, want_readout, v, refractory, ipsc, h, r, h_r, counts, lanes, scalar,
            readout, rec_spikes, rec_voltage, rec_rates, rec_ipsc, ztab, zk, zig,
        )  # fmt: skip


@njit(cache=True)
def _run_row(
    b, k0, k1, inputs, columns, inv_s, w_in, w_eff_t, w_out64, decay_d, gain, consts, quadratic,
    double_exponential, noise, want_readout, v, refractory, ipsc, h, r, h_r, counts, lanes, scalar,
    readout, rec_spikes, rec_voltage, rec_rates, rec_ipsc, ztab, zk, zig,
) -> None:  # fmt: skip
    """Row b (one trial at one factor), steps k0 … k1 − 1, with the torch path's arithmetic.

    Each update is one loop over the units with no branch the vectoriser cannot turn into a select;
    spikes are uint8 flags read eight at a time."""
    n = v.shape[1]
    n_in = w_in.shape[1]
    i_bias, dt_tau, v_th, v_reset = consts[0], consts[1], consts[2], consts[3]
    n_ref, decay_r, dt_s, noise_std = consts[4], consts[5], consts[6], consts[7]
    current_noise_std = consts[8]
    zero = np.float32(0.0)
    one = np.float32(1.0)
    want_spikes = rec_spikes.shape[1] > 0
    want_voltage = rec_voltage.shape[1] > 0
    want_rates = rec_rates.shape[1] > 0
    want_ipsc = rec_ipsc.shape[1] > 0
    vb, refb, ipscb, hb, rb, hrb, cb = v[b], refractory[b], ipsc[b], h[b], r[b], h_r[b], counts[b]
    s_b = inv_s[b]
    s0, s1, s2, s3 = lanes[b, 0].copy(), lanes[b, 1].copy(), lanes[b, 2].copy(), lanes[b, 3].copy()
    scalar_b = scalar[b].copy()
    words, entries, rejected = _noise_scratch(n)
    external = np.empty(n, dtype=np.float32)
    z = np.zeros(n, dtype=np.float32)
    jd = np.zeros(n, dtype=np.float32)
    spiked = np.zeros(-(-n // 8) * 8, dtype=np.uint8)
    packed_spikes = spiked.view(np.uint64)
    products = np.zeros(w_out64.shape[0])
    lane_sums = np.zeros(READOUT_LANES)
    column = -1
    for k in range(k0, k1):
        if columns[k] != column:  # external drive: Σ_c u_c W_in[:, c] in channel order, then + I_bias
            column = columns[k]
            for i in range(n):
                acc = inputs[b, column, 0] * w_in[i, 0]
                for c in range(1, n_in):
                    acc = acc + inputs[b, column, c] * w_in[i, c]
                external[i] = acc + i_bias
        # membrane step (neurons.membrane_step); LIF drive current − v is current + (−v) exactly
        if noise:
            _draw_normals(s0, s1, s2, s3, scalar_b, words, entries, rejected, z, ztab, zk, zig)
            for i in range(n):  # one of noise_std, current_noise_std is 0: adding z·0 changes nothing
                vi = vb[i]
                current = ipscb[i] * s_b + external[i]
                current = current + z[i] * current_noise_std
                drive = current + (vi * vi if quadratic else -vi)
                ref_i = refb[i]
                vi = vi + drive * dt_tau if ref_i == zero else vi
                vi = vi + z[i] * noise_std
                fire = vi >= v_th
                vb[i] = v_reset if fire else vi
                refb[i] = n_ref if fire else (ref_i - one if ref_i > zero else zero)
                spiked[i] = np.uint8(fire)
                cb[i] = cb[i] + (one if fire else zero)
        else:
            for i in range(n):
                vi = vb[i]
                current = ipscb[i] * s_b + external[i]
                drive = current + (vi * vi if quadratic else -vi)
                ref_i = refb[i]
                vi = vi + drive * dt_tau if ref_i == zero else vi
                fire = vi >= v_th
                vb[i] = v_reset if fire else vi
                refb[i] = n_ref if fire else (ref_i - one if ref_i > zero else zero)
                spiked[i] = np.uint8(fire)
                cb[i] = cb[i] + (one if fire else zero)
        any_spike = np.uint64(0)
        for q in range(packed_spikes.shape[0]):
            any_spike |= packed_spikes[q]
        # JD = Σ_{j spiked} W_eff[:, j], j ascending, from zero (network.recurrent_input)
        if any_spike:
            for i in range(n):
                jd[i] = zero
            for q in range(packed_spikes.shape[0]):
                if packed_spikes[q]:
                    for j in range(8 * q, 8 * q + 8):
                        if spiked[j]:
                            row = w_eff_t[j]
                            for i in range(n):
                                jd[i] = jd[i] + row[i]
        # synapse step (neurons.synapse_step); S·gain is gain or 0; products feed the readout
        if double_exponential and any_spike:
            for i in range(n):
                ipscb[i] = ipscb[i] * decay_d[i] + hb[i] * dt_s
                hb[i] = hb[i] * decay_r + jd[i] * gain[i]
                ri = rb[i] * decay_d[i] + hrb[i] * dt_s
                rb[i] = ri
                hrb[i] = hrb[i] * decay_r + (gain[i] if spiked[i] else zero)
                products[i] = np.float64(ri) * w_out64[i]
        elif double_exponential:
            for i in range(n):
                ipscb[i] = ipscb[i] * decay_d[i] + hb[i] * dt_s
                hb[i] = hb[i] * decay_r
                ri = rb[i] * decay_d[i] + hrb[i] * dt_s
                rb[i] = ri
                hrb[i] = hrb[i] * decay_r
                products[i] = np.float64(ri) * w_out64[i]
        elif any_spike:
            for i in range(n):
                ipscb[i] = ipscb[i] * decay_d[i] + jd[i] * gain[i]
                ri = rb[i] * decay_d[i] + (gain[i] if spiked[i] else zero)
                rb[i] = ri
                products[i] = np.float64(ri) * w_out64[i]
        else:
            for i in range(n):
                ipscb[i] = ipscb[i] * decay_d[i]
                ri = rb[i] * decay_d[i]
                rb[i] = ri
                products[i] = np.float64(ri) * w_out64[i]
        # readout (network.readout_sum): lane l sums products l, l + 8, … in turn, then the lanes
        if want_readout:
            for lane in range(READOUT_LANES):
                lane_sums[lane] = products[lane]
            for m in range(READOUT_LANES, products.shape[0], READOUT_LANES):
                for lane in range(READOUT_LANES):
                    lane_sums[lane] = lane_sums[lane] + products[m + lane]
            total = 0.0
            for lane in range(READOUT_LANES):
                total = total + lane_sums[lane]
            readout[b, k] = np.float32(total) * s_b
        if want_spikes:
            for i in range(n):
                rec_spikes[b, k, i] = spiked[i] != 0
        if want_voltage:
            for i in range(n):
                rec_voltage[b, k, i] = vb[i]
        if want_rates:
            for i in range(n):
                rec_rates[b, k, i] = rb[i]
        if want_ipsc:
            for i in range(n):
                rec_ipsc[b, k, i] = ipscb[i] * s_b
    lanes[b, 0], lanes[b, 1], lanes[b, 2], lanes[b, 3] = s0, s1, s2, s3
    scalar[b] = scalar_b


# --- the torch-facing wrapper -------------------------------------------------------------------


def simulate_fused(
    net: SpikingRNN,
    flat_inputs: torch.Tensor,
    inv_s: torch.Tensor,
    v0: torch.Tensor,
    columns: torch.Tensor,
    noise: bool,
    generator: torch.Generator | None,
    record: Collection[str],
    on_progress: Callable[[int, int], None] | None,
    compute_readout: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Run :func:`run_rows` for ``net`` on B = rows of ``flat_inputs`` [B, C, n_in] with per-row
    1/s ``inv_s`` [B] and initial voltages ``v0`` [B, N]; returns (readout [B, n_steps], spike
    counts [B, N] int32, recordings [B, n_steps, N]). The noise seed is one 64-bit draw from
    ``generator``; ``on_progress`` is called every ``PROGRESS_EVERY`` steps. ``compute_readout`` =
    False skips the readout's final sum (the readout is then zero), for profiling only."""
    p = net.params
    n_rows, n = v0.shape
    n_steps = len(columns)
    n_pad = -(-n // READOUT_LANES) * READOUT_LANES
    n_lanes = (n + 1) // 2
    f32 = np.float32

    def array(t: torch.Tensor, dtype) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)

    w_out64 = np.zeros(n_pad)
    w_out64[:n] = array(net.w_out, np.float64)
    consts = np.array(
        [
            p.i_bias_mv,
            p.dt_ms / p.tau_m_ms,
            float(net.neuron.threshold),
            p.v_reset_mv,
            p.refractory_steps,
            net.synapse.decay_r,
            net.synapse.dt_s,
            p.voltage_noise_mv,
            p.current_noise_mv,
        ],
        dtype=f32,
    )
    noisy = bool(noise) and (p.voltage_noise_mv > 0 or p.current_noise_mv > 0)
    if noisy:
        seed = np.uint64(int(torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.int64)))
    else:
        seed = np.uint64(0)
    lanes, scalar = seed_streams(seed, n_rows, n_lanes)

    v = array(v0, f32).copy()
    state = [np.full((n_rows, n), p.refractory_steps, dtype=f32)] + [np.zeros((n_rows, n), dtype=f32) for _ in range(5)]
    readout = (np.empty if compute_readout else np.zeros)((n_rows, n_steps), dtype=f32)
    recorded = {name: np.empty((n_rows, n_steps, n), dtype=np.bool_ if name == "spikes" else f32) for name in record}
    empty_bool, empty = np.empty((n_rows, 0, 0), dtype=np.bool_), np.empty((n_rows, 0, 0), dtype=f32)
    rec = [
        recorded.get(name, empty_bool if name == "spikes" else empty) for name in ("spikes", "voltage", "rates", "ipsc")
    ]
    constants = (
        array(flat_inputs, f32),
        array(columns, np.int64),
        array(inv_s, f32),
        array(net.w_in, f32),
        array(net.w_eff.T, f32),
        w_out64,
        array(net.synapse.decay_d, f32),
        array(net.synapse.gain, f32),
        consts,
        p.neuron == "qif",
        p.double_exponential,
        noisy,
        compute_readout,
    )
    chunk = PROGRESS_EVERY if on_progress is not None else n_steps
    torch_threads = torch.get_num_threads()
    for k0 in range(0, n_steps, chunk):
        k1 = min(k0 + chunk, n_steps)
        try:
            with numba.parallel_chunksize(1):  # rows handed out one at a time: balanced on a busy machine
                run_rows(k0, k1, *constants, v, *state, lanes, scalar, readout, *rec, ZIG_TABLE, ZIG_K, ZIG)
        finally:
            # numba's OpenMP layer sets the OpenMP thread count that torch shares: give torch its own back
            if torch.get_num_threads() != torch_threads:
                torch.set_num_threads(torch_threads)
        if on_progress is not None:
            on_progress(k1, n_steps)
    counts = torch.from_numpy(state[-1]).to(torch.int32)
    return (
        torch.from_numpy(readout),
        counts,
        {name: torch.from_numpy(arr) for name, arr in recorded.items()},
    )
