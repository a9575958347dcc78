"""The rate RNN's recurrence for a stack of K networks as one differentiable torch op (CPU).

``stacked_readout`` runs ``rate/fused_kernel.py``: forward and a hand-written backward pass, so
autograd sees one node per training step instead of ~10 per time step. Dale's rectification and
mask, τ's sigmoid and the loss stay in torch (elementwise), so the optimizer sees the usual
parameters of each ``RateRNN``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from spikernn.rate import fused_kernel
from spikernn.rate.model import RateRNN


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class _Recurrence(torch.autograd.Function):
    """readout [K, B, O, T] from (W_eff, α, w_out [K, O, N], b_out [K, O]) given drive, noise, x0 and
    activation codes."""

    @staticmethod
    def forward(ctx, w_eff, alpha, w_out, b_out, drive, noise, x0, act):  # noqa: D102
        k, b, t, n = drive.shape
        dtype = drive.dtype
        xs = torch.empty(k, b, t + 1, n, dtype=dtype)
        rs = torch.empty_like(xs)
        pre = torch.empty(k, b, t, n, dtype=dtype)
        out = torch.empty(k, b, w_out.shape[1], t, dtype=dtype)
        args = [_np(v) for v in (w_eff, alpha, 1 - alpha)] + [act]
        args += [_np(v) for v in (drive, noise, x0, w_out, b_out)] + [xs.numpy(), rs.numpy(), pre.numpy(), out.numpy()]
        fused_kernel.forward_trajectory(*args)
        ctx.save_for_backward(w_eff, alpha, w_out, xs, rs, pre)
        ctx.act = act
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        w_eff, alpha, w_out, xs, rs, pre = ctx.saved_tensors
        grads = [torch.zeros_like(v) for v in (w_eff, alpha, w_out)]
        grad_b = torch.zeros(w_out.shape[:2], dtype=w_eff.dtype)
        fused_kernel.backward(
            _np(w_eff),
            _np(alpha),
            _np(1 - alpha),
            ctx.act,
            xs.numpy(),
            rs.numpy(),
            pre.numpy(),
            _np(w_out),
            _np(grad_out),
            *(g.numpy() for g in grads),
            grad_b.numpy(),
        )
        return (*grads, grad_b, None, None, None, None)


def activation_codes(models: Sequence[RateRNN]) -> np.ndarray:
    return np.array([fused_kernel.ACTIVATION_CODES[m.config.activation] for m in models], dtype=np.int64)


def stacked_readout(
    models: Sequence[RateRNN],
    drive: torch.Tensor,
    noise: torch.Tensor,
    x0: torch.Tensor,
    grad: bool = True,
) -> torch.Tensor:
    """Readouts [K, B, T] (one output) or [K, B, O, T] of K rate networks (same N, same outputs) on
    their own drives W_in u [K, B, T, N], state noise [K, B, T, N] and initial states [K, B, N];
    differentiable w.r.t. each model's ``w``, ``w_out``, ``b_out`` and ``tau_raw`` when ``grad``."""
    w_eff = torch.stack([m.effective_weights() for m in models])
    alpha = torch.stack([m.config.dt_ms / m.taus_ms() for m in models])
    n = w_eff.shape[-1]
    w_out = torch.stack([m.w_out.reshape(-1, n) for m in models])
    b_out = torch.stack([m.b_out.reshape(-1) for m in models])
    one_output = models[0].w_out.ndim == 1
    act = activation_codes(models)
    if grad:
        out = _Recurrence.apply(w_eff, alpha, w_out, b_out, drive, noise, x0, act)
        return out[:, :, 0] if one_output else out
    out = torch.empty(*drive.shape[:2], w_out.shape[1], drive.shape[2], dtype=drive.dtype)
    fused_kernel.forward_readout(
        _np(w_eff),
        _np(alpha),
        _np(1 - alpha),
        act,
        _np(drive),
        _np(noise),
        _np(x0),
        _np(w_out),
        _np(b_out),
        out.numpy(),
    )
    return out[:, :, 0] if one_output else out


def trajectory_bytes(n_units: int, batch: int, n_steps: int, itemsize: int = 4) -> int:
    """Memory one member's training step keeps for its backward pass (x, r, pre-activation)."""
    return 3 * batch * (n_steps + 1) * n_units * itemsize
