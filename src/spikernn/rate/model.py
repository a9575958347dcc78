"""The constrained continuous rate RNN (SPEC §1), batched over trials."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spikernn.rate.activations import ACTIVATIONS
from spikernn.rate.config import RateRNNConfig
from spikernn.rate.connectivity import initial_recurrent_weights, make_connectivity, sst_units


@dataclass(frozen=True)
class RateOutput:
    """readout: [batch, T-1] (one output) or [batch, n_outputs, T-1]; rates: [batch, T, N]
    (r_0 … r_{T-1}) when requested."""

    readout: torch.Tensor
    rates: torch.Tensor | None = None


class RateRNN(nn.Module):
    """x_t = (1 − Δt/τ) x_{t−1} + (Δt/τ)(W_eff r_{t−1} + W_in u_{t−1}) + ξ_t;  r = φ(x);  o = W_out r + b_out.

    Trainable: ``w`` (relu'd and signed by Dale's principle), ``w_out``, ``b_out``, ``tau_raw``
    (when τ has a range). ``w_in`` is fixed. One output (the paper's): ``w_out`` [N], ``b_out`` a
    number; several: ``w_out`` [n_outputs, N] (a row per output), ``b_out`` [n_outputs].
    """

    def __init__(self, config: RateRNNConfig, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        n = config.n_units
        g = torch.Generator().manual_seed(seed)
        conn = make_connectivity(n, config.p_inh, config.sst_n, config.apply_dale, g)
        w0 = initial_recurrent_weights(n, config.p_rec, config.gain, config.weight_distribution, config.apply_dale, g)
        self.register_buffer("inhibitory", conn.inhibitory)
        self.register_buffer("sign", conn.sign)
        self.register_buffer("mask", conn.mask)
        self.register_buffer("w0", w0.clone())
        self.register_buffer("w_in", torch.randn(n, config.n_inputs, generator=g))
        self.w = nn.Parameter(w0)
        outputs = () if config.n_outputs == 1 else (config.n_outputs,)
        self.w_out = nn.Parameter(torch.randn(*outputs, n, generator=g) / 100)
        self.b_out = nn.Parameter(torch.zeros(outputs))
        tau_raw = torch.randn(n, generator=g)
        self.register_buffer("tau_raw0", tau_raw.clone())
        if config.trainable_tau:
            self.tau_raw = nn.Parameter(tau_raw)
        else:
            self.register_buffer("tau_raw", tau_raw)
        self.phi = ACTIVATIONS[config.activation]

    @property
    def n_units(self) -> int:
        return self.config.n_units

    @property
    def sst_units(self) -> torch.Tensor:
        """Indices of the SST units (the first ``sst_n`` inhibitory units)."""
        return sst_units(self.inhibitory, self.config.sst_n)

    def effective_weights(self, initial: bool = False) -> torch.Tensor:
        """W_eff = (relu(W) · D) ⊙ M with Dale's principle, else W ⊙ M; [post, pre]."""
        w = self.w0 if initial else self.w
        if self.config.apply_dale:
            return torch.relu(w) * self.sign[None, :] * self.mask
        return w * self.mask

    def taus_ms(self, initial: bool = False) -> torch.Tensor:
        """Per-unit synaptic decay τ in ms: σ(τ_raw)(τ_max − τ_min) + τ_min, or the fixed value."""
        taus = self.config.taus_ms
        raw = self.tau_raw0 if initial else self.tau_raw
        if len(taus) == 1:
            return torch.full_like(raw, taus[0])
        return _Logistic.apply(raw) * (taus[1] - taus[0]) + taus[0]

    def drive(self, inputs: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """W_in u for the steps a trial's readout needs: [batch, T-1, N] from [batch, T+1, n_inputs];
        written into ``out`` when given (e.g. a population's stacked buffer: no copy)."""
        return torch.matmul(inputs[:, : inputs.shape[1] - 2].to(self.w_in.dtype), self.w_in.T, out=out)

    def draw_noise(
        self,
        batch: int,
        n_steps: int,
        noise: bool = True,
        generator: torch.Generator | None = None,
        out: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """State noise ξ [batch, n_steps, N] (zeros without ``noise``) and initial state x_0 [batch, N],
        drawn in this order from ``generator``; written into ``out`` = (ξ, x_0) buffers on the CPU when
        given (the same numbers: drawn in place, then scaled in place)."""
        n, dtype = self.n_units, self.w.dtype
        xi, x0 = out if out is not None else (None, None)
        if noise:
            xi = torch.randn(batch, n_steps, n, generator=generator, dtype=dtype, out=xi).mul_(self.config.noise_std)
        else:
            xi = torch.zeros(batch, n_steps, n, dtype=dtype, out=xi)
        x0 = torch.randn(batch, n, generator=generator, dtype=dtype, out=x0).mul_(self.config.initial_state_std)
        return xi.to(self.w.device), x0.to(self.w.device)

    def forward(
        self,
        inputs: torch.Tensor,
        noise: bool = True,
        generator: torch.Generator | None = None,
        return_rates: bool = False,
    ) -> RateOutput:
        """Run a batch of trials; ``inputs`` is [batch, ≥T, n_inputs] on the 5-ms grid, T = columns − 1
        when the task's extra final column is present (only columns 0 … T−2 are used). The same
        recurrence for a stack of networks, as one fused op: ``rate/fused_op.py``."""
        drive = self.drive(inputs)
        xi, x0 = self.draw_noise(drive.shape[0], drive.shape[1], noise, generator)
        w_eff = self.effective_weights()
        alpha = self.config.dt_ms / self.taus_ms()
        r = self.phi(x0)
        rates = [r]
        x = x0
        for t in range(drive.shape[1]):
            x = rate_step(x, r, drive[:, t], w_eff, alpha, xi[:, t])
            r = self.phi(x)
            rates.append(r)
        r_all = torch.stack(rates, dim=1)
        readout = linear_readout(r_all[:, 1:], self.w_out, self.b_out)
        return RateOutput(readout=readout, rates=r_all if return_rates else None)


def linear_readout(rates: torch.Tensor, w_out: torch.Tensor, b_out: torch.Tensor) -> torch.Tensor:
    """W_out r + b_out for rates [..., T, N]: [..., T] for one output (``w_out`` [N]), or
    [..., n_outputs, T] for ``w_out`` [n_outputs, N] (time stays the last axis)."""
    if w_out.ndim == 1:
        return rates @ w_out + b_out
    return (rates @ w_out.T + b_out).transpose(-1, -2)


def rate_step(
    x: torch.Tensor,
    r: torch.Tensor,
    drive: torch.Tensor,
    w_eff: torch.Tensor,
    alpha: torch.Tensor,
    noise: torch.Tensor,
) -> torch.Tensor:
    """One Euler step of the synaptic current: (1 − α) x + α (W_eff r + W_in u) + ξ, with α = Δt/τ."""
    return (1 - alpha) * x + alpha * (r @ w_eff.T + drive) + noise


def trial_loss(readout: torch.Tensor, targets: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """Per-trial loss [batch]: l2 = sqrt(Σ_t (o_t − z_t)²) (root of the sum), l1 = Σ_t |o_t − z_t|,
    summed over the outputs too where there are several.

    ``readout`` [batch, (n_outputs,) T-1] is compared with ``targets[..., :T-1]`` as in the reference code.
    """
    err = (readout - targets[..., : readout.shape[-1]]).flatten(1)
    if kind == "l1":
        return err.abs().sum(-1)
    return err.square().sum(-1).sqrt()


class _Logistic(torch.autograd.Function):
    """σ(x) for τ, the same bits on any CPU (``fused_kernel.logistic``; torch.sigmoid's differ between
    AVX-512 and AVX2); on other devices torch.sigmoid. Backward: g · σ (1 − σ)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            y = torch.sigmoid(x)
        else:
            from spikernn.rate.fused_kernel import logistic  # numba: imported when a τ is first needed

            y = torch.empty(x.shape, dtype=x.dtype)  # contiguous, so that numba fills y itself
            logistic(x.detach().contiguous().reshape(-1).numpy(), y.reshape(-1).numpy())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)
