"""The numba kernels give the same bits when compiled and when loaded from numba's cache, and
compiled for any x86-64 CPU.

Every kernel is ``cache=True``: the first process after a code change (or on a new machine)
compiles it, the later ones load it. Both must train the same rate networks and simulate the same
spiking trials; once they did not (a reassociated sum inlined into a ``parallel=True`` kernel was
vectorised differently by the two), so the same seed gave other networks on the first run. numba
compiles for the host CPU: with reassociated sums, an AVX-512 Intel and an AVX2 AMD machine trained
different networks from the same seed; the sums are now added in a fixed order. torch.sigmoid (τ)
rounded differently under AVX-512 and AVX2; τ's sigmoid is now computed one element at a time.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

# Rate kernels (forward, evaluation readout, backward) on fixed data, for each activation, batch
# 1 and 3, one and two outputs; the spiking kernel on a small network with voltage noise.
SCRIPT = r"""
import hashlib
import numpy as np
import torch
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate import fused_kernel as rate
from spikernn.spiking import SpikingParameters
from spikernn.transfer import to_spiking

digest = hashlib.sha256()
f32 = np.float32
for act, batch, outputs in ((0, 1, 1), (1, 3, 1), (2, 3, 2)):
    rng = np.random.default_rng(act)
    k, t, n = 2, 40, 250  # N = 250: the size at which the two once differed
    w = (rng.standard_normal((k, n, n)) * 0.3).astype(f32)
    alpha = rng.uniform(0.1, 0.25, (k, n)).astype(f32)
    drive = (rng.standard_normal((k, batch, t, n)) * 3).astype(f32)
    noise = (rng.standard_normal((k, batch, t, n)) * 0.01).astype(f32)
    x0 = rng.standard_normal((k, batch, n)).astype(f32)
    w_out = (rng.standard_normal((k, outputs, n)) / 10).astype(f32)
    b_out = np.zeros((k, outputs), f32)
    codes = np.full(k, act, dtype=np.int64)
    common = (w, alpha, 1 - alpha, codes, drive, noise, x0, w_out, b_out)
    xs = np.empty((k, batch, t + 1, n), f32)
    rs, pre = np.empty_like(xs), np.empty((k, batch, t, n), f32)
    out, readout = np.empty((k, batch, outputs, t), f32), np.empty((k, batch, outputs, t), f32)
    rate.forward_trajectory(*common, xs, rs, pre, out)
    rate.forward_readout(*common, readout)
    grads = [np.zeros_like(w), np.zeros_like(alpha), np.zeros_like(w_out), np.zeros_like(b_out)]
    grad_out = rng.standard_normal(out.shape).astype(f32)
    rate.backward(w, alpha, 1 - alpha, codes, xs, rs, pre, w_out, grad_out, *grads)
    for array in (out, readout, *grads):
        digest.update(array.tobytes())
model = RateRNN(RateRNNConfig(n_units=250), seed=3)
with torch.no_grad():
    model.w.mul_(4)
net = to_spiking(model, SpikingParameters())
inputs = torch.rand(3, 21, 1, generator=torch.Generator().manual_seed(1))
result = net.simulate(inputs, torch.tensor([1.0, 2.0]), generator=torch.Generator().manual_seed(9))
digest.update(result.readout.numpy().tobytes() + result.spike_counts.numpy().tobytes())
# a short population training: the kernels and torch's operations around them (τ's sigmoid, Adam)
from spikernn.rate.training import TrainerConfig, train_population
from spikernn.tasks import get_task
members = [
    (RateRNNConfig(n_units=250, taus_ms=[20.0, 50.0], activation=a), seed)
    for a, seed in (("sigmoid", 5), ("softplus", 6))
]
for member in train_population(get_task("go_nogo"), members, TrainerConfig(max_trials=300, progress_bar=False)):
    for _, value in sorted(member.model.state_dict().items()):
        digest.update(value.numpy().tobytes())
print(digest.hexdigest())
"""


def _digest(cache: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CPU_", "ATEN_CPU_"))}
    environ |= {"NUMBA_CACHE_DIR": str(cache), **env}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=environ, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_compiled_and_cached_kernels_give_the_same_bits(tmp_path: Path) -> None:
    compiled = _digest(tmp_path / "numba-cache")  # an empty cache: every kernel compiled, then cached
    assert any((tmp_path / "numba-cache").rglob("*.nbi")), "the kernels were not cached"
    assert _digest(tmp_path / "numba-cache") == compiled  # loaded from the cache


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="compares x86-64 instruction sets")
def test_kernels_compiled_for_another_cpu_give_the_same_bits(tmp_path: Path) -> None:
    """The numba kernels compiled for the host's vector width (AVX-512, perhaps) and for the baseline
    x86-64's (SSE2, four float32 lanes), and torch's operations on the host's instruction set and on
    AVX2 (the same where the host has no AVX-512): the same trained networks and spiking trials."""
    host = _digest(tmp_path / "host")
    assert _digest(tmp_path / "baseline", NUMBA_CPU_NAME="x86-64", ATEN_CPU_CAPABILITY="avx2") == host
