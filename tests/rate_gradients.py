"""What the tests of population training's kernel share: one network's readout and gradients through
the kernel or through torch's graph, from the same noise."""

from __future__ import annotations

import torch

from spikernn.rate import RateRNN, trial_loss
from spikernn.rate.fused_op import stacked_readout


def loss_and_grads(model: RateRNN, inputs, targets, fused: bool, seed: int = 3):
    """The readout and every parameter's gradient of the mean trial loss, by the kernel (``fused``)
    or by autograd on the module, with noise drawn from ``seed``."""
    model.zero_grad()
    g = torch.Generator().manual_seed(seed)
    if fused:
        drive = model.drive(inputs)
        xi, x0 = model.draw_noise(drive.shape[0], drive.shape[1], True, g)
        readout = stacked_readout([model], drive[None], xi[None], x0[None])[0]
    else:
        readout = model(inputs, generator=g).readout
    loss = trial_loss(readout, targets, model.config.loss).mean()
    loss.backward()
    return readout.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}
