"""Dale's principle, connectivity masks and the sparse initial weights (SPEC §1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Connectivity:
    """Fixed structure of a network.

    inhibitory: [N] bool, unit i is inhibitory.
    sign: [N] +1 (excitatory) / -1 (inhibitory), the sign of presynaptic column j.
    mask: [N, N] 0/1, allowed connections (post i, pre j); SST rows cut from inhibitory columns.
    sst_units: indices of the SST units (:func:`sst_units`).
    """

    inhibitory: torch.Tensor
    sign: torch.Tensor
    mask: torch.Tensor
    sst_units: torch.Tensor


def make_connectivity(
    n_units: int, p_inh: float, sst_n: int, apply_dale: bool, generator: torch.Generator
) -> Connectivity:
    """Draw E/I identities (Bernoulli ``p_inh`` per unit) and build the SST mask."""
    draws = torch.rand(n_units, generator=generator)
    inhibitory = draws < p_inh if apply_dale else torch.zeros(n_units, dtype=torch.bool)
    sign = 1.0 - 2.0 * inhibitory.float()
    inh_index = torch.nonzero(inhibitory).flatten()
    if sst_n > inh_index.numel():
        raise ValueError(
            f"model.sst_n must be at most the number of inhibitory units ({inh_index.numel()}), got {sst_n}"
        )
    sst = sst_units(inhibitory, sst_n)
    mask = torch.ones(n_units, n_units)
    if sst_n > 0:
        mask[sst[:, None], inh_index[None, :]] = 0.0
    return Connectivity(inhibitory=inhibitory, sign=sign, mask=mask, sst_units=sst)


def sst_units(inhibitory: torch.Tensor, sst_n: int) -> torch.Tensor:
    """Indices of the SST units (``model.sst_n`` of them): the first ``sst_n`` inhibitory units of the
    [N] bool ``inhibitory``, in ascending order."""
    return torch.nonzero(inhibitory).flatten()[:sst_n]


def initial_recurrent_weights(
    n_units: int, p_rec: float, gain: float, distribution: str, apply_dale: bool, generator: torch.Generator
) -> torch.Tensor:
    """Sparse random W: entries nonzero with probability ``p_rec``.

    ``gaus``: N(0, 1) * gain / sqrt(N * p_rec); ``gamma``: Gamma(shape 2, scale 0.003).
    With Dale's principle the magnitudes are used (signs come from the presynaptic unit).
    """
    present = torch.rand(n_units, n_units, generator=generator) < p_rec
    if distribution == "gaus":
        values = torch.randn(n_units, n_units, generator=generator) * gain / (n_units * p_rec) ** 0.5
    else:
        # Gamma(2, θ) is the sum of two exponentials of mean θ.
        uniforms = torch.rand(2, n_units, n_units, generator=generator).clamp_min(1e-12)
        values = -0.003 * uniforms.log().sum(0)
    weights = torch.where(present, values, torch.zeros(()))
    return weights.abs() if apply_dale else weights
