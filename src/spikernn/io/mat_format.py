"""The reference code's .mat layout (rkim35/spikeRNN ``rate/main.py``), both directions.

Keys: w (relu'd trained W, N×N), w0 (initial W), w_in (N×n_in), w_out (1×N; n_outputs×N for a
network of several outputs, not in the reference), b_out (one number per output), m (N×N
diagonal of +1 exc / −1 inh: W_eff = (w @ m) ⊙ som_m), som_m (N×N mask), inh, exc (N×1), N,
som_N, taus (τ in 5-ms steps: [min, max] or one fixed value), taus_gaus, taus_gaus0 (N×1 raw τ).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import scipy.io
import torch

from spikernn.io.atomic import write_atomically
from spikernn.io.mat5 import MatFileError, format_bytes, read_mat5
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.config import MAX_UNITS
from spikernn.validation import ConfigError, ModelFileError

REFERENCE_STEP_MS = 5.0
MAX_OUTPUTS = 64  # readouts read from a file
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
            "w_out": model.w_out.detach().double().numpy().reshape(cfg.n_outputs, n),
            "b_out": float(model.b_out) if cfg.n_outputs == 1 else model.b_out.detach().double().numpy(),
            "m": np.diag(model.sign.double().numpy()),
            "som_m": model.mask.double().numpy(),
            "inh": model.inhibitory.numpy().reshape(n, 1),
            "exc": (~model.inhibitory).numpy().reshape(n, 1),
            "N": n,
            "som_N": cfg.sst_n,
            "taus": np.array([t / REFERENCE_STEP_MS for t in cfg.taus_ms], dtype=float),
            "taus_gaus": col(model.tau_raw),
            "taus_gaus0": col(model.tau_raw0),
            "activation": cfg.activation,
            **(extra or {}),
        }
    return write_atomically(path, lambda tmp: scipy.io.savemat(tmp, data))


MAX_FILE_BYTES = 8 * 1024**3


def _read_file(path: Path) -> bytes:
    """The file's bytes; a missing, unreadable or oversized file is a ModelFileError."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path}: {format_bytes(size)} is too large for a model file")
        return path.read_bytes()
    except PermissionError as err:
        raise ModelFileError(f"{path}: permission denied (the file cannot be read)") from err
    except IsADirectoryError as err:
        raise ModelFileError(f"{path} is a folder, not a .mat model file") from err
    except FileNotFoundError as err:
        raise ModelFileError(f"{path}: no such file") from err
    except OSError as err:
        raise ModelFileError(f"{path}: cannot be read ({err.strerror or err})") from err


def _numeric(data: dict, key: str) -> np.ndarray:
    value = data[key]
    if isinstance(value, str):
        raise ModelFileError(f"{key} must be a numeric array, got the text {value[:40]!r}")
    return value


def _scalar_int(data: dict, key: str, lo: int, hi: int) -> int:
    value = _numeric(data, key)
    if value.size != 1:
        raise ModelFileError(f"{key} must be one number, got an array of shape {value.shape}")
    x = float(value.reshape(()))
    if not np.isfinite(x) or x != int(x):
        raise ModelFileError(f"{key} must be a whole number, got {x!r}")
    if not lo <= x <= hi:
        raise ModelFileError(f"{key} must be in [{lo}, {hi}], got {int(x)}")
    return int(x)


def _shape_check(data: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
    value = _numeric(data, key)
    if value.shape != shape:
        raise ModelFileError(f"{key} in the .mat file must have shape {shape}, got {value.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(value.astype(np.float32)).all()
    if not finite:
        raise ModelFileError(f"{key} holds NaN or infinite values (or values beyond float32's range)")
    return value


def _check_size_of_n(n: float) -> None:
    if n > MAX_UNITS:
        matrix = 8.0 * n * n
        raise ModelFileError(
            f"N = {n:.0f} is too large: each N×N matrix (w, w0, m, som_m) would need {format_bytes(matrix)}, "
            f"{format_bytes(4 * matrix)} together; at most N = {MAX_UNITS} is read"
        )


def import_mat(path: str | os.PathLike, activation: str | None = None) -> RateRNN:
    """Build a RateRNN from a reference-layout .mat file; everything is checked before use.

    The activation is read from the file's ``activation`` key when present, else ``activation``
    (default sigmoid). Dale's principle is on when the file has inhibitory units or a nonnegative w.

    The file is untrusted: it is parsed by a bounds-checked reader (``spikernn.io.mat5``, never
    scipy's C parser), and any defect (malformed bytes, missing keys, wrong shapes, NaN/Inf,
    a non-integer or absurd N) raises ``ModelFileError`` naming the file and the defect.
    """
    path = Path(path)
    raw = _read_file(path)
    try:
        return _import(raw, activation)
    except ModelFileError as err:
        raise ModelFileError(f"{path} is not a usable reference .mat model: {err}") from None
    except MatFileError as err:
        raise ModelFileError(f"{path} is not a readable .mat file: {err}") from None
    except ConfigError as err:  # the values read make no valid RateRNNConfig
        raise ModelFileError(f"{path} is not a usable reference .mat model: {err}") from None


def _import(raw: bytes, activation: str | None) -> RateRNN:
    # N first, with its own small budget: a forged huge N is reported before any N×N array is read
    head = read_mat5(raw, {"N"}, max_values=64)
    if "N" not in head:
        raise ModelFileError(f"lacks the reference keys ['N'] (required: {list(REQUIRED_KEYS)})")
    n_value = _numeric(head, "N")
    if n_value.size == 1 and np.isfinite(n_value).all():
        _check_size_of_n(float(n_value.reshape(())))
    n = _scalar_int(head, "N", 1, MAX_UNITS)
    data = read_mat5(raw, {*REQUIRED_KEYS, "activation"}, max_values=max(n * n, 64 * n))
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ModelFileError(f"lacks the reference keys {missing} (required: {list(REQUIRED_KEYS)})")
    w = _shape_check(data, "w", (n, n))
    w0 = _shape_check(data, "w0", (n, n))
    w_in = _numeric(data, "w_in")
    if w_in.ndim != 2 or w_in.shape[0] != n or not 1 <= w_in.shape[1] <= 64:
        raise ModelFileError(
            f"w_in in the .mat file must have shape ({n}, n_inputs) with 1 ≤ n_inputs ≤ 64, got {w_in.shape}"
        )
    _shape_check(data, "w_in", w_in.shape)
    w_out = _numeric(data, "w_out")
    if w_out.ndim != 2 or w_out.shape[1] != n or not 1 <= w_out.shape[0] <= MAX_OUTPUTS:
        raise ModelFileError(
            f"w_out in the .mat file must have shape (n_outputs, {n}) with 1 ≤ n_outputs ≤ {MAX_OUTPUTS}, "
            f"got {w_out.shape}"
        )
    w_out = _shape_check(data, "w_out", w_out.shape)
    n_outputs = w_out.shape[0]
    m = _shape_check(data, "m", (n, n))
    som_m = _shape_check(data, "som_m", (n, n))
    inh = _shape_check(data, "inh", (n, 1)).reshape(n)
    exc = _shape_check(data, "exc", (n, 1)).reshape(n)
    if not (np.isin(inh, (0, 1)).all() and np.isin(exc, (0, 1)).all()) or (inh == exc).any():
        raise ModelFileError("inh and exc must be 0/1 flags with exactly one set per unit")
    inh = inh.astype(bool)
    if not np.isin(som_m, (0, 1)).all():
        raise ModelFileError("som_m must be a 0/1 mask")
    taus_gaus = _shape_check(data, "taus_gaus", (n, 1)).reshape(n)
    taus_gaus0 = _shape_check(data, "taus_gaus0", (n, 1)).reshape(n)
    b_out = _numeric(data, "b_out")
    if b_out.size != n_outputs:
        raise ModelFileError(
            f"b_out must hold one number per output ({n_outputs}), got an array of shape {b_out.shape}"
        )
    b_out = _shape_check(data, "b_out", b_out.shape).reshape(() if n_outputs == 1 else (n_outputs,))
    taus = _numeric(data, "taus").reshape(-1)
    if taus.size not in (1, 2):
        raise ModelFileError(f"taus in the .mat file must hold 1 or 2 values (5-ms steps), got {taus.size}")
    _shape_check(data, "taus", data["taus"].shape)
    sign = np.diag(m)
    if not np.array_equal(m, np.diag(sign)) or not np.array_equal(sign, np.where(inh, -1.0, 1.0)):
        raise ModelFileError("m must be diagonal with -1 on the inhibitory units (inh) and +1 elsewhere")
    sst_n = _scalar_int(data, "som_N", 0, int(inh.sum()))
    if activation is None:
        stored = data.get("activation")
        if stored is not None and not isinstance(stored, str):
            raise ModelFileError("activation must be text (e.g. 'sigmoid')")
        activation = stored.strip() if stored else "sigmoid"
    config = RateRNNConfig(
        n_units=n,
        n_inputs=w_in.shape[1],
        n_outputs=n_outputs,
        sst_n=sst_n,
        apply_dale=bool(inh.any() or (w >= 0).all()),
        activation=activation,
        taus_ms=[float(t) * REFERENCE_STEP_MS for t in taus],
    )
    model = RateRNN(dataclasses.replace(config, sst_n=0))  # E/I and SST mask come from the file
    model.config = config
    f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        model.w.copy_(f32(w))
        model.w0.copy_(f32(w0))
        model.w_in.copy_(f32(w_in))
        model.w_out.copy_(f32(w_out).reshape(model.w_out.shape))
        model.b_out.copy_(f32(b_out))
        model.mask.copy_(f32(som_m))
        model.inhibitory.copy_(torch.as_tensor(inh))
        model.sign.copy_(f32(sign))
        model.tau_raw.copy_(f32(taus_gaus))
        model.tau_raw0.copy_(f32(taus_gaus0))
    if not torch.isfinite(model.taus_ms()).all():
        raise ModelFileError("the time constants (taus, taus_gaus) give NaN or infinite τ")
    model.eval()
    return model
