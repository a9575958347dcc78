"""Our model file: the rate model's config and tensors, loadable with ``weights_only=True``."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import torch

from spikernn.io.atomic import write_atomically
from spikernn.io.mat5 import format_bytes
from spikernn.io.model_info import ModelInfo
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.config import MAX_UNITS
from spikernn.validation import ConfigError, ModelFileError

FORMAT = "spikernn.rate_rnn/1"


def save_rate_model(path: str | os.PathLike, model: RateRNN, info: ModelInfo | None = None) -> Path:
    """Save ``model`` (config + state) and what ``info`` says about it (task, scaling factor …)."""
    extra = (info or ModelInfo()).to_extra()
    payload = {"format": FORMAT, "config": model.config.to_dict(), "state": model.state_dict(), "extra": extra}
    return write_atomically(path, lambda tmp: torch.save(payload, tmp))


def _read_payload(path: Path) -> object:
    """``torch.load(weights_only=True)``: only tensors and plain values, never code from the file."""
    try:
        with path.open("rb") as fh:
            return torch.load(fh, map_location="cpu", weights_only=True)
    except PermissionError as err:
        raise ModelFileError(f"{path}: permission denied (the file cannot be read)") from err
    except IsADirectoryError as err:
        raise ModelFileError(f"{path} is a folder, not a model file") from err
    except FileNotFoundError as err:
        raise ModelFileError(f"{path}: no such file") from err
    except pickle.UnpicklingError:  # what weights_only refuses: objects other than tensors and plain values
        raise ModelFileError(
            f"{path} is not a spikernn model file: it holds Python objects other than tensors and plain "
            "values, and such files are refused unread (they could run code)"
        ) from None
    except Exception as err:  # noqa: BLE001 - any other failure of the parser is a damaged or foreign file
        raise ModelFileError(
            f"{path} is not a spikernn model file (not a readable torch file: {type(err).__name__})"
        ) from None


def read_info(path: str | os.PathLike) -> ModelInfo:
    """What a model file says about its network (task, scaling factor, spiking parameters), checked,
    without building or checking its model: for describing a file, not for loading one."""
    payload = _read_payload(Path(path))
    extra = payload.get("extra") if isinstance(payload, dict) else None
    return ModelInfo.from_extra(extra if isinstance(extra, dict) else {}, path)


def check_model_state(path: Path, model: RateRNN, state: object) -> dict:
    """``state`` holds exactly the tensors of ``model``, with their shapes, all finite."""
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: the model state must be a dict of tensors")
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing, unknown = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unknown:
        raise ModelFileError(f"{path}: the model state lacks {missing} / has unknown entries {unknown}")
    for name, shape in expected.items():
        value = state[name]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ModelFileError(f"{path}: {name} must be a tensor of shape {shape}, got {got}")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ModelFileError(f"{path}: {name} holds NaN or infinite values")
    return state


def load_rate_model(path: str | os.PathLike) -> tuple[RateRNN, ModelInfo]:
    """Load a model saved by ``save_rate_model``; returns the model and what the file says about it.

    Every defect (unreadable, not ours, damaged, NaN/Inf, absurd size) raises ``ModelFileError``
    naming the file."""
    path = Path(path)
    payload = _read_payload(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a spikernn rate model file (expected format {FORMAT!r})")
    config_values, extra = payload.get("config"), payload.get("extra", {})
    if not isinstance(config_values, dict) or not isinstance(extra, dict):
        raise ModelFileError(f"{path}: its config and extra values must be dicts")
    n_units = config_values.get("n_units")
    if isinstance(n_units, int) and n_units > MAX_UNITS:
        raise ModelFileError(
            f"{path}: N = {n_units} is too large (an N×N matrix would need {format_bytes(4.0 * n_units**2)}); "
            f"at most N = {MAX_UNITS} is read"
        )
    if "som_n" in config_values:  # files written before the key was named after the SST units
        config_values = {("sst_n" if k == "som_n" else k): v for k, v in config_values.items()}
    try:
        config = RateRNNConfig(**config_values)
    except (TypeError, ConfigError) as err:
        raise ModelFileError(f"{path}: its model config is invalid ({err})") from None
    model = RateRNN(dataclasses.replace(config, sst_n=0))  # E/I and SST mask come from the file
    model.config = config
    model.load_state_dict(check_model_state(path, model, payload.get("state")))
    if not torch.isfinite(model.taus_ms()).all():
        raise ModelFileError(f"{path}: its time constants give NaN or infinite τ")
    info = ModelInfo.from_extra(extra, path)
    model.eval()
    return model, info
