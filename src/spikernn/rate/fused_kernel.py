"""Numba kernels of the rate RNN's recurrence for a population of K networks (SPEC §1).

Each member's whole trial runs in one thread with its N × N weights in cache: the forward pass,
and a hand-written backward pass (backpropagation through time) that accumulates the weight
gradient as outer products step by step. Members are spread over the cores (``prange``); a
member's arithmetic is the same whatever K is, so a member of a population gets the same bits as
the same network trained alone. Why not batched matrix products with autograd: measured in
``benchmarks/population_training.py``: per step the autograd graph costs ~100 µs of overhead and
a K × N × N weight gradient, which makes the step memory-bound; this kernel is 2.3× faster per
network-trial than the autograd graph at N = 250, batch 1, on a quiet core (more on a loaded one).

Shapes: ``w`` [K, N, N] (post, pre), ``alpha`` = Δt/τ and ``decay`` = 1 − Δt/τ [K, N], ``act`` activation codes [K],
``drive`` = W_in u [K, B, T, N], ``noise`` [K, B, T, N], ``x0`` [K, B, N], ``w_out`` [K, O, N],
``b_out`` [K, O] for O outputs. T is the number of readout samples (trial steps − 1).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

SIGMOID, SOFTPLUS, CLIPPED_RELU = 0, 1, 2
ACTIVATION_CODES = {"sigmoid": SIGMOID, "softplus": SOFTPLUS, "clipped_relu": CLIPPED_RELU}
RATE_CLIP = 20.0  # upper clip of softplus and clipped ReLU (as in rate/activations.py)
SOFTPLUS_LINEAR_ABOVE = 20.0  # torch's softplus threshold: log(1 + e^x) = x above it
# every sum is added in the order written (no reassociation) and without FMA contraction, so the
# bits do not depend on the CPU's vector width: the same seed trains the same network on any x86 CPU
# (with reassociated dot products, an AVX-512 Intel and an AVX2 AMD VM trained different networks)
ORDERED = {"nsz", "arcp", "afn"}
READOUT_LANES = 8  # the readout's dot product: eight interleaved partial sums, then summed in order


@njit(cache=True)
def logistic(x, out):
    """out ← 1 / (1 + e^−x) elementwise, in float64 one element at a time (libm's exp, no vector
    code), rounded to out's dtype: the same bits on any CPU. torch.sigmoid's vector code and its
    code for a row's remainder round differently in the last bit, and AVX-512 and AVX2 split a row
    differently, so τ (and the networks trained) differed between the two."""
    for i in range(x.shape[0]):
        out[i] = 1.0 / (1.0 + math.exp(-np.float64(x[i])))


@njit(inline="always")
def _phi(x, act):
    if act == SIGMOID:
        return 1.0 / (1.0 + math.exp(-x))
    if act == SOFTPLUS:
        y = x if x > SOFTPLUS_LINEAR_ABOVE else math.log1p(math.exp(x))
        return min(max(y, 0.0), RATE_CLIP)
    return min(max(x, 0.0), RATE_CLIP)


@njit(inline="always")
def _phi_slope(x, r, act):
    """dφ/dx at x (r = φ(x)), with torch's conventions at the clips."""
    if act == SIGMOID:
        return r * (1.0 - r)
    if act == SOFTPLUS:
        if x > SOFTPLUS_LINEAR_ABOVE:
            return 1.0 if x <= RATE_CLIP else 0.0
        sp = math.log1p(math.exp(x))
        return 1.0 / (1.0 + math.exp(-x)) if sp <= RATE_CLIP else 0.0
    return 1.0 if (x > 0.0 and x <= RATE_CLIP) else 0.0


@njit(fastmath=ORDERED, cache=True)
def _readout(u, v):
    """u · v in float64: lane l (of READOUT_LANES = 8) adds the products of elements l, l + 8, … in
    turn, then the lanes are added in order (fixed, whatever the CPU's vector width). The lanes are
    eight locals, so that they stay in registers."""
    n = u.shape[0]
    full = n - n % READOUT_LANES
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    for j in range(0, full, READOUT_LANES):
        a0 += u[j] * v[j]
        a1 += u[j + 1] * v[j + 1]
        a2 += u[j + 2] * v[j + 2]
        a3 += u[j + 3] * v[j + 3]
        a4 += u[j + 4] * v[j + 4]
        a5 += u[j + 5] * v[j + 5]
        a6 += u[j + 6] * v[j + 6]
        a7 += u[j + 7] * v[j + 7]
    tail = 0.0
    for j in range(full, n):
        tail += u[j] * v[j]
    return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) + tail


@njit(fastmath=ORDERED, cache=True)
def _transposed(w):
    """Wᵀ of one member's [N, N] weights, contiguous: row j holds the weights out of unit j."""
    n = w.shape[0]
    wt = np.empty((n, n), dtype=w.dtype)
    for i in range(n):
        for j in range(n):
            wt[j, i] = w[i, j]
    return wt


@njit(fastmath=ORDERED, cache=True)
def _recurrent_input(acc, wt, r):
    """acc ← W r, as Σ_j r_j · (row j of Wᵀ) with j ascending (each acc_i summed in that order, the
    additions across i vectorised; rows with r_j = 0 skipped, which adds nothing)."""
    acc[:] = 0
    _add_rows(acc, wt, r, 0, 0, r.shape[0], 1)


@njit(parallel=True, fastmath=ORDERED, cache=True)
def forward_trajectory(w, alpha, decay, act, drive, noise, x0, w_out, b_out, xs, rs, pre, out):
    """Forward pass that keeps what the backward pass needs: ``xs``, ``rs`` [K, B, T+1, N] (x_t, r_t
    for t = 0 … T), ``pre`` [K, B, T, N] (W r_{t−1} + W_in u_{t−1}); readout into ``out`` [K, B, O, T]."""
    n_members, n_batch, n_steps, n = drive.shape
    for k in prange(n_members):
        a = alpha[k]
        d = decay[k]
        wt = _transposed(w[k])
        acc = np.empty(n, dtype=xs.dtype)
        for b in range(n_batch):
            for i in range(n):
                xs[k, b, 0, i] = x0[k, b, i]
                rs[k, b, 0, i] = _phi(x0[k, b, i], act[k])
            for t in range(n_steps):
                _recurrent_input(acc, wt, rs[k, b, t])
                for i in range(n):
                    p = acc[i] + drive[k, b, t, i]
                    pre[k, b, t, i] = p
                    xs[k, b, t + 1, i] = d[i] * xs[k, b, t, i] + a[i] * p + noise[k, b, t, i]
                    rs[k, b, t + 1, i] = _phi(xs[k, b, t + 1, i], act[k])
                for o in range(w_out.shape[1]):
                    out[k, b, o, t] = _readout(w_out[k, o], rs[k, b, t + 1]) + b_out[k, o]


@njit(parallel=True, fastmath=ORDERED, cache=True)
def forward_readout(w, alpha, decay, act, drive, noise, x0, w_out, b_out, out):
    """Forward pass keeping only the readout (evaluation): memory O(N) per member, not O(B T N)."""
    n_members, n_batch, n_steps, n = drive.shape
    for k in prange(n_members):
        a = alpha[k]
        d = decay[k]
        wt = _transposed(w[k])
        acc = np.empty(n, dtype=x0.dtype)
        x = np.empty(n, dtype=x0.dtype)
        r = np.empty(n, dtype=x0.dtype)
        for b in range(n_batch):
            for i in range(n):
                x[i] = x0[k, b, i]
                r[i] = _phi(x[i], act[k])
            for t in range(n_steps):
                _recurrent_input(acc, wt, r)
                for i in range(n):
                    p = acc[i] + drive[k, b, t, i]
                    x[i] = d[i] * x[i] + a[i] * p + noise[k, b, t, i]
                    r[i] = _phi(x[i], act[k])
                for o in range(w_out.shape[1]):
                    out[k, b, o, t] = _readout(w_out[k, o], r) + b_out[k, o]


@njit(fastmath=ORDERED, cache=True)
def _add_rows(acc, rows, coef, offset, first, last, step):
    """acc += coef[q] · rows[q + offset] for q = first, first + step, … (last excluded), zero
    coefficients skipped, one product added at a time in that order (no reassociation: the same
    bits as adding them row by row); four rows per pass over acc where four coefficients in a row are
    nonzero, so acc is loaded and stored a quarter as often."""
    q = first
    while q != last:
        c0 = coef[q]
        q1, q2, q3 = q + step, q + 2 * step, q + 3 * step
        if c0 != 0 and (q3 - last) * step < 0 and coef[q1] != 0 and coef[q2] != 0 and coef[q3] != 0:
            c1, c2, c3 = coef[q1], coef[q2], coef[q3]
            r0, r1, r2, r3 = rows[q + offset], rows[q1 + offset], rows[q2 + offset], rows[q3 + offset]
            for j in range(acc.shape[0]):
                acc[j] = (((acc[j] + r0[j] * c0) + r1[j] * c1) + r2[j] * c2) + r3[j] * c3
            q = q3 + step
        else:
            if c0 != 0:
                r0 = rows[q + offset]
                for j in range(acc.shape[0]):
                    acc[j] = acc[j] + r0[j] * c0
            q = q1


@njit(parallel=True, fastmath=ORDERED, cache=True)
def backward(w, alpha, decay, act, xs, rs, pre, w_out, grad_out, grad_w, grad_alpha, grad_w_out, grad_b_out):  # noqa: E501
    """Backpropagation through time from ``grad_out`` [K, B, O, T] (dL/d readout); gradients are
    accumulated into the zeroed ``grad_*`` arrays.

    gr_t = Σ_o w_out,o·go_o,t + Wᵀ(α ⊙ gx_{t+1});  gx_t = gr_t ⊙ φ'(x_t) + (1 − α) ⊙ gx_{t+1};
    gW += (α ⊙ gx_t) r_{t−1}ᵀ;  gα += gx_t ⊙ (W r_{t−1} + W_in u_{t−1} − x_{t−1}).

    gW is accumulated row by row after each trial's pass (each entry summed over t from T down, as
    step by step), so a row stays in cache while its T products are added.
    """
    n_members, n_batch, n_cols, n = xs.shape
    n_steps = n_cols - 1
    for k in prange(n_members):
        a = alpha[k]
        d = decay[k]
        gx_next = np.zeros(n, dtype=xs.dtype)
        scaled = np.zeros(n, dtype=xs.dtype)  # α ⊙ gx_{t+1}
        by_time = np.zeros((n, n_cols), dtype=xs.dtype)  # [i, t]: α_i gx_t,i for t = 1 … T
        gr = np.zeros(n, dtype=xs.dtype)
        for b in range(n_batch):
            gx_next[:] = 0
            scaled[:] = 0
            for t in range(n_steps, 0, -1):
                go = grad_out[k, b, 0, t - 1]
                grad_b_out[k, 0] += go
                for j in range(n):
                    gr[j] = w_out[k, 0, j] * go
                    grad_w_out[k, 0, j] += go * rs[k, b, t, j]
                for o in range(1, w_out.shape[1]):
                    go = grad_out[k, b, o, t - 1]
                    grad_b_out[k, o] += go
                    for j in range(n):
                        gr[j] += w_out[k, o, j] * go
                        grad_w_out[k, o, j] += go * rs[k, b, t, j]
                if t < n_steps:
                    _add_rows(gr, w[k], scaled, 0, 0, n, 1)  # Wᵀ(α ⊙ gx_{t+1}), rows i ascending
                for i in range(n):
                    gx = gr[i] * _phi_slope(xs[k, b, t, i], rs[k, b, t, i], act[k]) + d[i] * gx_next[i]
                    grad_alpha[k, i] += gx * (pre[k, b, t - 1, i] - xs[k, b, t - 1, i])
                    gx_next[i] = gx
                    scaled[i] = a[i] * gx
                    by_time[i, t] = scaled[i]
            for i in range(n):  # gW_i += Σ_t (α_i gx_t,i) r_{t−1}, t from T down
                _add_rows(grad_w[k, i], rs[k, b], by_time[i], -1, n_steps, 0, -1)
