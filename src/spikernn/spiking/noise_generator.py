"""The fused kernel's Gaussian noise: standard normals per unit and step, independent of the threads.

The generator is xoshiro256++ (Blackman & Vigna), one independent stream per group of two units
per row, seeded from one 64-bit seed and the row index through SplitMix64, so the numbers do not
depend on the number of threads. Each 64-bit draw gives two 32-bit words; each word gives one
standard normal by a 1024-layer ziggurat (Marsaglia & Tsang 2000) that takes its layer index, sign
and 21-bit magnitude from disjoint bits (Doornik 2005). The ~0.4 % of draws outside the
rectangles take the exact slow path (wedge test, or Marsaglia's tail algorithm beyond R) with
numbers from a separate per-row xoshiro256++ stream.

A row's generator is a :class:`RowGenerator` (:func:`open_row` … :func:`close_row`); each call of
:func:`draw_normals` fills one standard normal per unit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

LAYER_BITS = 10
ZIG_LAYERS = 1 << LAYER_BITS
MAGNITUDE_BITS = 32 - LAYER_BITS - 1  # a 32-bit word: layer, sign, magnitude
# Right edge R of the base layer and area V of each layer (density exp(−x²/2)), solved so that
# the layers close at x = 0: for 128 and 256 layers the same solver gives Marsaglia & Tsang's
# (3.442619855899, 9.91256303526217e-3) and (3.6541528853610088, 4.92867323399e-3).
ZIG_R = 4.038849846109504
ZIG_V = 0.0012263246463530893


class ZigguratTables(NamedTuple):
    """packed: [1024] uint64, (float32 w_i, int32 k_i) in one entry, so the fast path's lookup is
    one load; k: [1024] uint64 rectangle limits k_i; rows: [3, 1024] float64 (w_i = x_i/2²¹, f(x_i),
    x_i with x_0 := 0)."""

    packed: np.ndarray
    k: np.ndarray
    rows: np.ndarray


def ziggurat_tables() -> ZigguratTables:
    """Marsaglia & Tsang's ``zigset`` for 1024 layers and a 21-bit magnitude m: layer i (i ≥ 1)
    spans x ∈ [0, x_i] and density heights [f(x_i), f(x_{i−1})], x = m · x_i / 2²¹, and a draw is
    inside the layer's rectangle when m < k_i = 2²¹ x_{i−1}/x_i. Layer 0 is the base strip plus the
    tail beyond R."""
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
    packed = np.zeros(n, dtype=np.uint64)
    packed.view(np.float32)[0::2] = w.astype(np.float32)
    packed.view(np.int32)[1::2] = k.astype(np.int32)
    return ZigguratTables(packed, k, np.stack([w, f, edge]))


TABLES = ziggurat_tables()

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


class NoiseStreams(NamedTuple):
    """Every row's generator state: lanes [B, 4, n_lanes] and scalar [B, 4] xoshiro256++ words."""

    lanes: np.ndarray
    scalar: np.ndarray


class RowGenerator(NamedTuple):
    """One row's generator while it runs: the four state words of its lane streams as separate
    [n_lanes] arrays (so the draw vectorises), its scalar stream [4], and work arrays (64-bit draws
    [n_lanes], table entries [n_units], rejection flags [n_units rounded up to 8]). Unpack it once
    per row for :func:`draw_normals`."""

    s0: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    scalar: np.ndarray
    words: np.ndarray
    entries: np.ndarray
    rejected: np.ndarray


@njit(cache=True, inline="always")
def _splitmix64(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """SplitMix64: (new state, output)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _U30)) * _MIX1
    z = (z ^ (z >> _U27)) * _MIX2
    return state, z ^ (z >> _U31)


@njit(cache=True, inline="always")
def _xoshiro_step(a0: np.uint64, a1: np.uint64, a2: np.uint64, a3: np.uint64):
    """xoshiro256++: (output, new state words a0 … a3)."""
    x = a0 + a3
    out = ((x << _U23) | (x >> _U41)) + a0
    t = a1 << _U17
    a2 ^= a0
    a3 ^= a1
    a1 ^= a2
    a0 ^= a3
    a2 ^= t
    return out, a0, a1, a2, (a3 << _U45) | (a3 >> _U19)


@njit(cache=True, inline="always")
def _next64(st: np.ndarray) -> np.uint64:
    """The next 64-bit number of the scalar stream (4-word state array, advanced in place)."""
    out, st[0], st[1], st[2], st[3] = _xoshiro_step(st[0], st[1], st[2], st[3])
    return out


@njit(cache=True)
def seed_streams(seed: np.uint64, n_rows: int, n_units: int) -> NoiseStreams:
    """Row r's lane streams and scalar stream, from SplitMix64 seeded with a hash of (seed, r): a
    row's numbers depend only on the seed and its index."""
    n_lanes = (n_units + 1) // 2
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
    return NoiseStreams(lanes, scalar)


@njit(cache=True, inline="always")
def open_row(streams: NoiseStreams, b: int, n_units: int) -> RowGenerator:
    """Row b's generator: copies of its state and fresh work arrays."""
    lanes = streams.lanes
    n_lanes = (n_units + 1) // 2
    return RowGenerator(
        lanes[b, 0].copy(),
        lanes[b, 1].copy(),
        lanes[b, 2].copy(),
        lanes[b, 3].copy(),
        streams.scalar[b].copy(),
        np.zeros(n_lanes, dtype=np.uint64),
        np.zeros(n_units, dtype=np.uint64),
        np.zeros(-(-n_units // 8) * 8, dtype=np.uint8),
    )


@njit(cache=True, inline="always")
def close_row(
    streams: NoiseStreams, b: int, s0: np.ndarray, s1: np.ndarray, s2: np.ndarray, s3: np.ndarray, scalar: np.ndarray
) -> None:
    """Write row b's advanced state (a :class:`RowGenerator`'s first five arrays) back, so that a
    later call continues its streams."""
    streams.lanes[b, 0], streams.lanes[b, 1], streams.lanes[b, 2], streams.lanes[b, 3] = s0, s1, s2, s3
    streams.scalar[b] = scalar


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


@njit(cache=True, inline="always")
def draw_normals(
    z: np.ndarray,
    s0: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    s3: np.ndarray,
    scalar: np.ndarray,
    words: np.ndarray,
    entries: np.ndarray,
    rejected: np.ndarray,
    ztab: np.ndarray,
    zk: np.ndarray,
    zig: np.ndarray,
) -> None:
    """z[i] ← a standard normal for each unit i, from 32-bit word i of this step's draws (lane l's
    64-bit draw holds words 2l and 2l + 1); then come a :class:`RowGenerator`'s and the
    :class:`ZigguratTables`' arrays, unpacked once per row by the caller (a named tuple of arrays
    handed over every step costs its reference counting, ~25 % of a draw at N = 250). Separate
    loops so that the draw and the fast path vectorise: draw; look up (w, k) of each word's layer;
    scale and flag the ~0.4 % of words outside their rectangle; finish those on the slow path."""
    for lane in range(s0.shape[0]):  # xoshiro256++, one stream per lane
        words[lane], s0[lane], s1[lane], s2[lane], s3[lane] = _xoshiro_step(s0[lane], s1[lane], s2[lane], s3[lane])
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


def standard_normal(seed: int, n_rows: int, n_units: int, n_draws: int) -> np.ndarray:
    """[n_rows, n_draws, n_units] float32 standard normals exactly as the kernel draws them for row r
    at its draw d (for tests)."""
    return _standard_normal(np.uint64(seed), n_rows, n_units, n_draws, TABLES)


@njit(cache=True)
def _standard_normal(seed: np.uint64, n_rows: int, n_units: int, n_draws: int, tables: ZigguratTables) -> np.ndarray:
    streams = seed_streams(seed, n_rows, n_units)
    out = np.empty((n_rows, n_draws, n_units), dtype=np.float32)
    for r in range(n_rows):
        s0, s1, s2, s3, scalar, words, entries, rejected = open_row(streams, r, n_units)
        ztab, zk, zig = tables
        for d in range(n_draws):
            draw_normals(out[r, d], s0, s1, s2, s3, scalar, words, entries, rejected, ztab, zk, zig)
    return out
