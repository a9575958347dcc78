"""The reference code's .mat layout (rkim35/spikeRNN ``rate/main.py``), both directions.

Keys: w (relu'd trained W, N×N), w0 (initial W), w_in (N×n_in), w_out (1×N), b_out, m (N×N
diagonal of +1 exc / −1 inh: W_eff = (w @ m) ⊙ som_m), som_m (N×N mask), inh, exc (N×1), N,
som_N, taus (τ in 5-ms steps: [min, max] or one fixed value), taus_gaus, taus_gaus0 (N×1 raw τ).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io
import torch

from spikernn.io.atomic import write_atomically
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.validation import ConfigError

REFERENCE_STEP_MS = 5.0
REQUIRED_KEYS = (
    "w",
    "w0",
    "w_in",
    "w_out",
    "b_out",
    "m",
    "som_m",
    "inh",
    "exc",
    "N",
    "som_N",
    "taus",
    "taus_gaus",
    "taus_gaus0",
)


def export_mat(path: str | os.PathLike, model: RateRNN, extra: dict | None = None) -> Path:
    """Write ``model`` in the reference layout (plus ``extra`` keys, e.g. ``opt_scaling_factor``)."""
    cfg = model.config
    if cfg.dt_ms != REFERENCE_STEP_MS:
        raise ConfigError(f"model.dt_ms must be {REFERENCE_STEP_MS} ms to export the reference layout, got {cfg.dt_ms}")
    with torch.no_grad():
        w = torch.relu(model.w) if cfg.apply_dale else model.w
        n = cfg.n_units
        col = lambda t: t.detach().double().numpy().reshape(n, 1)  # noqa: E731
        data = {
            "w": w.double().numpy(),
            "w0": model.w0.double().numpy(),
            "w_in": model.w_in.double().numpy(),
            "w_out": model.w_out.detach().double().numpy().reshape(1, n),
            "b_out": float(model.b_out),
            "m": np.diag(model.sign.double().numpy()),
            "som_m": model.mask.double().numpy(),
            "inh": model.inhibitory.numpy().reshape(n, 1),
            "exc": (~model.inhibitory).numpy().reshape(n, 1),
            "N": n,
            "som_N": cfg.som_n,
            "taus": np.array([t / REFERENCE_STEP_MS for t in cfg.taus_ms], dtype=float),
            "taus_gaus": col(model.tau_raw),
            "taus_gaus0": col(model.tau_raw0),
            "activation": cfg.activation,
            **(extra or {}),
        }
    return write_atomically(path, lambda tmp: scipy.io.savemat(tmp, data))


def _shape_check(data: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
    value = np.asarray(data[key])
    if value.shape != shape:
        raise ConfigError(f"{key} in the .mat file must have shape {shape}, got {value.shape}")
    return value


def import_mat(path: str | os.PathLike, activation: str | None = None) -> RateRNN:
    """Build a RateRNN from a reference-layout .mat file; everything is checked before use.

    The activation is read from the file's ``activation`` key when present, else ``activation``
    (default sigmoid). Dale's principle is on when the file has inhibitory units or a nonnegative w.
    """
    data = scipy.io.loadmat(path)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ConfigError(f"{path} lacks the reference keys {missing} (required: {list(REQUIRED_KEYS)})")
    n = int(np.asarray(data["N"]).item())
    if n <= 0:
        raise ConfigError(f"N in the .mat file must be > 0, got {n}")
    w = _shape_check(data, "w", (n, n))
    w0 = _shape_check(data, "w0", (n, n))
    w_in = np.asarray(data["w_in"])
    if w_in.ndim != 2 or w_in.shape[0] != n:
        raise ConfigError(f"w_in in the .mat file must have shape ({n}, n_inputs), got {w_in.shape}")
    w_out = _shape_check(data, "w_out", (1, n))
    m = _shape_check(data, "m", (n, n))
    som_m = _shape_check(data, "som_m", (n, n))
    inh = _shape_check(data, "inh", (n, 1)).astype(bool).reshape(n)
    taus_gaus = _shape_check(data, "taus_gaus", (n, 1)).reshape(n)
    taus_gaus0 = _shape_check(data, "taus_gaus0", (n, 1)).reshape(n)
    taus = np.asarray(data["taus"], dtype=float).reshape(-1)
    if taus.size not in (1, 2):
        raise ConfigError(f"taus in the .mat file must hold 1 or 2 values (5-ms steps), got {taus.size}")
    sign = np.diag(m)
    if not np.array_equal(m, np.diag(sign)) or not np.array_equal(sign, np.where(inh, -1.0, 1.0)):
        raise ConfigError("m in the .mat file must be diagonal with -1 on the inhibitory units (inh) and +1 elsewhere")
    if activation is None:
        activation = str(np.asarray(data["activation"]).reshape(-1)[0]).strip() if "activation" in data else "sigmoid"
    config = RateRNNConfig(
        n_units=n,
        n_inputs=w_in.shape[1],
        som_n=int(np.asarray(data["som_N"]).item()),
        apply_dale=bool(inh.any() or (w >= 0).all()),
        activation=activation,
        taus_ms=[float(t) * REFERENCE_STEP_MS for t in taus],
    )
    model = RateRNN(config)
    f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        model.w.copy_(f32(w))
        model.w0.copy_(f32(w0))
        model.w_in.copy_(f32(w_in))
        model.w_out.copy_(f32(w_out).reshape(n))
        model.b_out.copy_(f32(np.asarray(data["b_out"]).reshape(())))
        model.mask.copy_(f32(som_m))
        model.inhibitory.copy_(torch.as_tensor(inh))
        model.sign.copy_(f32(sign))
        model.tau_raw.copy_(f32(taus_gaus))
        model.tau_raw0.copy_(f32(taus_gaus0))
    model.eval()
    return model
