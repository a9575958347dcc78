"""Turn a composed Hydra config into validated library objects, naming any bad key."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from spikernn.io import import_mat, load_rate_model
from spikernn.pipeline import CONVERTED_MODEL_FILE, RATE_MODEL_FILE, RunConfig
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.criterion import StoppingRule
from spikernn.rate.training import TrainingConfig
from spikernn.spiking import SpikingParameters
from spikernn.tasks import Task, get_task
from spikernn.tracking import TrackingConfig, resolve_model_source
from spikernn.tracking.store import resolve_tracking_uri
from spikernn.transfer import FactorSearch, check_factor
from spikernn.validation import ConfigError, check_int, check_range


def config_dir() -> str:
    """The ``conf/`` folder: inside the installed package, else at the repository root."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "conf", here.parents[3] / "conf"):
        if candidate.is_dir():
            return str(candidate)
    raise FileNotFoundError("spikernn's conf/ folder was not found")


def _build(cls, group: str, values: dict):
    """``cls(**values)`` after checking every key is a field of ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        prefix = f"{group}." if group else ""
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)}; allowed: {', '.join(sorted(names))}"
        )
    return cls(**values)


def plain(cfg: DictConfig) -> dict:
    """The resolved config without Hydra's own node; a missing mandatory value names its key."""
    try:
        raw = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise ConfigError(f"{err.full_key} is required (give it on the command line: {err.full_key}=…)") from err
    raw.pop("hydra", None)
    return raw


# The builders below take the resolved config of ``plain`` and raise ``ConfigError`` naming the
# first bad field.


def build_tracking(raw: dict) -> TrackingConfig:
    """The ``logger`` group (MLflow) of any command."""
    return _build(TrackingConfig, "logger", dict(raw.get("logger") or {}))


def tracking_uri(raw: dict) -> str:
    return resolve_tracking_uri(build_tracking(raw).tracking_uri, raw["paths"]["output_dir"])


def _spiking(values: dict) -> SpikingParameters:
    return _build(SpikingParameters, "spiking", values)


def _training(values: dict) -> TrainingConfig:
    trainer = dict(values)
    trainer["stopping"] = _build(StoppingRule, "trainer.stopping", trainer.pop("stopping", {}))
    return _build(TrainingConfig, "trainer", trainer)


def _rate_model(values: dict) -> RateRNNConfig:
    """``model`` group → RateRNNConfig; ``tau_min_ms``/``tau_max_ms`` (null max = fixed τ) → ``taus_ms``."""
    values = dict(values)
    if "taus_ms" in values:
        raise ConfigError("model.taus_ms is set by model.tau_min_ms and model.tau_max_ms; give those instead")
    tau_min, tau_max = values.pop("tau_min_ms", None), values.pop("tau_max_ms", None)
    check_range("model.tau_min_ms", tau_min, 0.0, lo_open=True)
    if tau_max is not None:
        check_range("model.tau_max_ms", tau_max, 0.0, lo_open=True)
        if tau_min > tau_max:
            raise ConfigError(f"model.tau_min_ms must be ≤ model.tau_max_ms ({tau_max} ms), got {tau_min}")
    values["taus_ms"] = [tau_min] if tau_max is None else [tau_min, tau_max]
    return _build(RateRNNConfig, "model", values)


def build_run_config(raw: dict) -> RunConfig:
    """A train or run config (train has no ``spiking``/``transfer`` groups)."""
    rest = {k: v for k, v in raw.items() if k not in ("paths", "logger", "objective", "optuna")}
    values = {
        "task": rest.pop("task")["name"],
        "model": _rate_model(rest.pop("model")),
        "training": _training(rest.pop("trainer")),
    }
    if "spiking" in rest:
        values["spiking"] = _spiking(rest.pop("spiking"))
        values["transfer"] = _build(FactorSearch, "transfer", rest.pop("transfer"))
    return _build(RunConfig, "", {**values, **rest})


@dataclass
class ModelSource:
    """A trained rate model read from ``source`` (our .pt, a reference .mat, or an MLflow run)."""

    source: str
    model: RateRNN
    task: Task
    stored: dict  # the model file's extra values: task, scaling factor, spiking parameters …


def load_model_source(raw: dict, artifacts: tuple[str, ...]) -> ModelSource:
    """Resolve ``source`` (path or run id) and the task: the model file's, or ``task`` for a .mat
    file; a ``task`` that contradicts the file is refused."""
    source = str(raw.get("source") or "")
    wanted = (raw.get("task") or {}).get("name")
    with tempfile.TemporaryDirectory(prefix="spikernn-source-") as tmp:
        path = resolve_model_source(source, tracking_uri(raw), artifacts, Path(tmp))
        if path.suffix == ".mat":
            model, stored = import_mat(path), {}
            if wanted is None:
                raise ConfigError("task is required with a .mat source (task=go_nogo, xor or mante)")
        else:
            try:
                model, stored = load_rate_model(path)
            except (RuntimeError, OSError, ValueError) as err:
                raise ConfigError(f"source: {source} is not a readable spikernn model file ({err})") from err
    saved_task = stored.get("task")
    if wanted is not None and saved_task is not None and wanted != saved_task:
        raise ConfigError(f"task: the model in {source} was trained on {saved_task!r}, not {wanted!r}")
    task = get_task(wanted or saved_task)
    if model.config.n_inputs != task.n_inputs:
        raise ConfigError(f"task: {task.name} has {task.n_inputs} inputs, the model {model.config.n_inputs}")
    return ModelSource(source, model, task, stored)


@dataclass
class ConvertConfig:
    """``spikernn-convert``: transfer a trained rate model and search its scaling factor."""

    source: ModelSource
    spiking: SpikingParameters
    transfer: FactorSearch
    seed: int
    eval_trials: int


def _seed_and_trials(raw: dict) -> tuple[int, int]:
    """The ``seed`` and ``eval_trials`` of a command, checked."""
    check_int("seed", raw["seed"], 0)
    check_int("eval_trials", raw["eval_trials"], 1)
    return raw["seed"], raw["eval_trials"]


def build_convert_config(raw: dict) -> ConvertConfig:
    seed, eval_trials = _seed_and_trials(raw)
    spiking = _spiking(raw["spiking"])
    transfer = _build(FactorSearch, "transfer", raw["transfer"])
    source = load_model_source(raw, (RATE_MODEL_FILE, CONVERTED_MODEL_FILE))
    return ConvertConfig(source, spiking, transfer, seed, eval_trials)


@dataclass
class EvaluateConfig:
    """``spikernn-evaluate``: score a converted model at its factor (or a given one) on fresh trials."""

    source: ModelSource
    spiking: SpikingParameters
    scaling_factor: float
    seed: int
    eval_trials: int


def build_evaluate_config(raw: dict) -> EvaluateConfig:
    """The spiking parameters and factor stored with the converted model, unless overridden."""
    seed, eval_trials = _seed_and_trials(raw)
    source = load_model_source(raw, (CONVERTED_MODEL_FILE,))
    factor = raw.get("scaling_factor")
    if factor is None:  # not `or`: a given 0 must be refused below, not replaced by the stored factor
        factor = source.stored.get("scaling_factor")
    if factor is None:
        raise ConfigError("scaling_factor is required: the model file stores none (give scaling_factor=…)")
    check_factor("scaling_factor", factor)
    stored_spiking = source.stored.get("spiking") or {}
    overrides = {k: v for k, v in (raw.get("spiking") or {}).items() if v is not None}
    spiking = _spiking({**stored_spiking, **overrides})
    return EvaluateConfig(source, spiking, float(factor), seed, eval_trials)
