"""Turn a composed Hydra config into validated library objects, naming any bad key."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException

from spikernn import io as model_files
from spikernn.apps import schemas
from spikernn.finetune_config import FinetuneConfig
from spikernn.io.files import CONVERTED_MODEL_FILE, FINETUNED_MODEL_FILE, RATE_MODEL_FILE
from spikernn.io.mat5 import format_bytes
from spikernn.io.model_info import ModelInfo
from spikernn.rate.config import MAX_UNITS, RateRNNConfig
from spikernn.rate.trainer_config import TrainerConfig
from spikernn.run_config import RunConfig
from spikernn.spiking.parameters import SpikingParameters, Stimulation
from spikernn.tasks.config import OPTIONAL_TASKS, STEP_MS, TASK_CONFIGS, TaskConfig
from spikernn.tracking.logger_config import LoggerConfig, resolve_tracking_uri
from spikernn.transfer_config import TransferConfig, check_factor
from spikernn.validation import ConfigError, ModelFileError, check_choice, check_int

if TYPE_CHECKING:
    from spikernn.rate import RateRNN
    from spikernn.tasks import Task

schemas.register()
T = TypeVar("T")


def config_dir() -> str:
    """The ``conf/`` folder: inside the installed package, else at the repository root."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "conf", here.parents[3] / "conf"):
        if candidate.is_dir():
            return str(candidate)
    raise FileNotFoundError("spikernn's conf/ folder was not found")


# keys that were renamed: the old name is refused with the new one (not merely as unknown)
RENAMED_KEYS = {
    "trainer.n_trials": "trainer.max_trials",
    "transfer.n_trials": "transfer.trials_per_factor",
}


def check_not_renamed(keys: Iterable[str]) -> None:
    """Refuse a key of ``RENAMED_KEYS`` by its new name."""
    for key in keys:
        if key in RENAMED_KEYS:
            raise ConfigError(f"{key} was renamed to {RENAMED_KEYS[key]}")


def override_keys(args: Iterable[str]) -> list[str]:
    """The keys a Hydra command line sets, adds or deletes (``a.b=1``, ``+a.b=1``, ``~a.b``);
    options (``-m``, ``--cfg``) are passed over."""
    keys = []
    for arg in args:
        if arg.startswith("-") or not ("=" in arg or arg.startswith("~")):
            continue
        keys.append(arg.split("=", 1)[0].lstrip("+~").split("@", 1)[0])
    return keys


def typed(cls: type[T], group: str, values: dict) -> T:
    """The resolved ``group`` of a config as its dataclass ``cls``, its schema: Hydra checked types
    when it composed the config, this checks keys added with ``+`` (or in a dict built by hand),
    ``cls.__post_init__`` the ranges."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), values))
    except ConfigKeyError as err:
        check_not_renamed([f"{group}.{err.full_key}"])
        allowed = ", ".join(f.name for f in dataclasses.fields(cls))
        raise ConfigError(f"unknown key(s) {group}.{err.full_key}; allowed: {allowed}") from None
    except OmegaConfBaseException as err:
        raise ConfigError(f"{group}.{err.full_key}: {str(err).splitlines()[0]}") from None


def plain(cfg: DictConfig, allow_missing: bool = False) -> dict:
    """The resolved config without Hydra's own node and the command schema's unset group slots
    (``schemas.GROUP_SLOTS``); a missing mandatory value names its key
    (``allow_missing``: left as ``???``, for a sweep's base config whose jobs each get a value)."""
    try:
        raw = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=not allow_missing)
    except MissingMandatoryValue as err:
        raise ConfigError(f"{err.full_key} is required (give it on the command line: {err.full_key}=…)") from err
    raw.pop("hydra", None)
    return schemas.without_unset_slots(raw)


# The builders below take the resolved config of ``plain`` and raise ``ConfigError`` naming the
# first bad field.


# tracking URI schemes MLflow can use (a bare path is a local file store; "+driver" suffixes allowed); a file
# store is refused unless MLflow is told to use it (MLFLOW_ALLOW_FILE_STORE): MLflow 3 raises when it opens one
TRACKING_SCHEMES = ("file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks", "databricks-uc")


def check_tracking_uri(uri: object) -> None:
    """``logger.tracking_uri`` is null or a URI of a scheme MLflow knows; not a file store (a path or
    ``file:``) unless ``MLFLOW_ALLOW_FILE_STORE`` is true."""
    if uri is None:
        return
    key = "logger.tracking_uri (or MLFLOW_TRACKING_URI)"
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(f"{key} must be null, a path or a tracking URI, got {uri!r}")
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if len(scheme) > 1 and scheme not in TRACKING_SCHEMES:
        raise ConfigError(f"{key}: unknown scheme {parsed.scheme!r} in {uri!r}; allowed: {', '.join(TRACKING_SCHEMES)}")
    if scheme in ("http", "https") and not parsed.netloc:
        raise ConfigError(f"{key}: {uri!r} names no host (e.g. http://127.0.0.1:5000)")
    if scheme in ("file", "") and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() not in ("true", "1"):
        raise ConfigError(
            f"{key}: {uri!r} is a file store (./mlruns), which MLflow 3 no longer writes; give a SQLite store, "
            "e.g. sqlite:///path/to/mlflow.db, or null for <paths.output_dir>/mlflow.db "
            "(MLFLOW_ALLOW_FILE_STORE=true lets MLflow use a file store all the same)"
        )


def check_output_dir(value: object) -> Path:
    """``paths.output_dir`` is a folder, or can be made one (no file in its way, writable)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"paths.output_dir must be a folder path, got {value!r}")
    path = Path(value).expanduser()
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                what = "is a file" if part == path else f"lies under the file {part}"
                raise ConfigError(f"paths.output_dir: {path} {what}, not a folder")
            if not os.access(part, os.W_OK | os.X_OK):
                raise ConfigError(f"paths.output_dir: {part}: permission denied (the folder is not writable)")
            break
    return path


def build_tracking(raw: dict) -> LoggerConfig:
    """The ``logger`` group (MLflow) of any command."""
    tracking = typed(LoggerConfig, "logger", raw.get("logger") or {})
    check_tracking_uri(tracking.tracking_uri)
    return tracking


def tracking_uri(raw: dict) -> str:
    return resolve_tracking_uri(build_tracking(raw).tracking_uri, raw["paths"]["output_dir"])


def check_dt(spiking: SpikingParameters, task: TaskConfig) -> None:
    """The spiking network holds each input column for whole steps: dt must divide the input step."""
    ratio = STEP_MS / spiking.dt_ms
    if abs(ratio - round(ratio)) > 1e-6:
        raise ConfigError(
            f"spiking.dt_ms must divide the {STEP_MS:g}-ms input step of task {task.name} into whole steps "
            f"(e.g. 0.05, 0.1, 0.25, 0.5, 1), got {spiking.dt_ms}"
        )


def check_accelerator(trainer: TrainerConfig) -> None:
    """``trainer=gpu`` (``trainer.accelerator=gpu``) needs a CUDA device on this machine."""
    if trainer.accelerator != "gpu":
        return
    import torch  # only here: a command checks its config before torch is imported

    if not torch.cuda.is_available():
        raise ConfigError(
            "trainer.accelerator=gpu (trainer=gpu): no CUDA GPU is available on this machine "
            "(torch.cuda.is_available() is False); train with trainer=cpu or trainer.accelerator=auto"
        )


def check_resume_checkpoint(path: str, model: RateRNNConfig, task: TaskConfig) -> None:
    """``trainer.resume_from`` is a readable training checkpoint of a model of this N and task."""
    import torch

    key = "trainer.resume_from"
    try:
        with open(path, "rb") as fh:
            checkpoint = torch.load(fh, map_location="cpu", weights_only=True)
    except PermissionError:
        raise ModelFileError(f"{key}: {path}: permission denied (the file cannot be read)") from None
    except IsADirectoryError:
        raise ModelFileError(f"{key}: {path} is a folder, not a checkpoint file") from None
    except Exception as err:  # noqa: BLE001 - unreadable or holding more than tensors and plain values
        raise ModelFileError(
            f"{key}: {path} is not a spikernn training checkpoint ({type(err).__name__}; "
            "checkpoints holding Python objects other than tensors are refused unread)"
        ) from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or "global_step" not in checkpoint:
        raise ModelFileError(f"{key}: {path} is not a spikernn training checkpoint (no state_dict / global_step)")
    shapes = {name.rsplit(".", 1)[-1]: tuple(t.shape) for name, t in state.items() if isinstance(t, torch.Tensor)}
    if len(shapes.get("w", ())) != 2 or len(shapes.get("w_in", ())) != 2:
        raise ModelFileError(f"{key}: {path} holds no rate network (no w / w_in tensors)")
    n, n_inputs = shapes["w"][0], shapes["w_in"][1]
    if (n, n_inputs) != (model.n_units, task.n_inputs):
        raise ConfigError(
            f"{key}: {path} is a checkpoint of a network of N = {n} with {n_inputs} input(s); this run has "
            f"model.n_units = {model.n_units} and task {task.name} ({task.n_inputs} input(s)): resume with the "
            "settings the checkpoint was trained with"
        )


def _check_sst_units(model: RateRNNConfig, seed: int) -> None:
    """model.sst_n fits the inhibitory units the seed draws (else the model cannot be built)."""
    if model.sst_n == 0:
        return
    import torch

    from spikernn.rate.connectivity import make_connectivity

    try:
        make_connectivity(
            model.n_units, model.p_inh, model.sst_n, model.apply_dale, torch.Generator().manual_seed(seed)
        )
    except ValueError as err:
        raise ConfigError(
            f"{err} (seed {seed}, model.n_units = {model.n_units}, model.p_inh = {model.p_inh})"
        ) from None


def task_config_of(values: dict) -> TaskConfig:
    """The ``task`` group (``name`` and the timing of that task's schema) as the task's config; a
    user's task is named by the group's ``_target_`` (its Task class), imported and registered."""
    values = dict(values)
    target = values.pop("_target_", None)
    if target is not None:
        if not isinstance(target, str):
            raise ConfigError(f"task._target_ must name a class as package.module.Class, got {target!r}")
        from spikernn.tasks.registry import load_task_class  # imports the user's module (and torch)

        name = load_task_class(target).name
        if values.get("name") != name:
            raise ConfigError(
                f"task.name must be {name!r}, the name of task._target_ {target}, got {values.get('name')!r}"
            )
    name = values.get("name")
    check_choice("task", name, TASK_CONFIGS)
    return typed(TASK_CONFIGS[name], "task", values)


def rate_model_config(values: dict, task: TaskConfig) -> RateRNNConfig:
    """The ``model`` group (schema ``ModelConfig``) as a RateRNNConfig of a task's inputs and outputs:
    ``tau_min_ms``/``tau_max_ms`` (null max = one fixed τ) become ``taus_ms``."""
    values = dataclasses.asdict(typed(schemas.ModelConfig, "model", values))
    n = values["n_units"]
    if n > MAX_UNITS:
        raise ConfigError(
            f"model.n_units must be in [1, {MAX_UNITS}], got {n}: each N×N matrix would need "
            f"{format_bytes(4.0 * n * n)}"
        )
    tau_min, tau_max = values.pop("tau_min_ms"), values.pop("tau_max_ms")
    taus_ms = [tau_min] if tau_max is None else [tau_min, tau_max]
    return RateRNNConfig(**values, taus_ms=taus_ms, n_inputs=task.n_inputs, n_outputs=task.n_outputs)


def check_known_keys(raw: dict, schema: type) -> None:
    """The top-level keys of a command's config are those of its schema (``apps/schemas.py``): Hydra
    refuses others unless added with ``+``, this refuses those too."""
    allowed = sorted(f.name for f in dataclasses.fields(schema))
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def build_run_config(raw: dict) -> RunConfig:
    """A train or run config (train has no ``spiking``/``transfer``/``finetune`` groups)."""
    check_known_keys(raw, schemas.RunCommand)
    _check_choices(raw)
    task_config = task_config_of(raw["task"])
    trainer = typed(TrainerConfig, "trainer", raw["trainer"])
    check_accelerator(trainer)
    values = {
        "task": task_config,
        "model": rate_model_config(raw["model"], task_config),
        "trainer": trainer,
        **{k: raw[k] for k in ("seed", "eval_trials", "allow_untrained") if k in raw},
    }
    if "finetune" in raw:
        values["finetune"] = typed(FinetuneConfig, "finetune", raw["finetune"])
    if "spiking" in raw:
        values["spiking"] = typed(SpikingParameters, "spiking", raw["spiking"])
        values["transfer"] = typed(TransferConfig, "transfer", raw["transfer"])
        check_dt(values["spiking"], task_config)
    config = RunConfig(**values)
    _check_sst_units(config.model, config.seed)
    if trainer.resume_from is not None:
        check_resume_checkpoint(trainer.resume_from, config.model, task_config)
    return config


def _check_choices(raw: dict) -> None:
    """``objective`` names summary values (``seed`` and ``eval_trials`` are checked by the configs)."""
    objective = raw.get("objective")
    names = [objective] if isinstance(objective, str) else objective
    if names is not None and (
        not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names)
    ):
        raise ConfigError(f"objective must be a summary key (e.g. lif_accuracy) or a list of them, got {objective!r}")


@dataclass
class ModelSource:
    """A trained rate model read from ``source`` (our .pt, a reference .mat, or an MLflow run)."""

    source: str
    model: RateRNN
    task: Task
    stored: ModelInfo  # what the model file says: task, scaling factor, spiking parameters …


def load_model_source(raw: dict, artifacts: tuple[str, ...]) -> ModelSource:
    """Resolve ``source`` (path or run id) and the task: the model file's, or ``task`` for a .mat
    file; a ``task`` that contradicts the file is refused."""
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise ConfigError(f"source must be a model file path or an MLflow run id, got {source!r}")
    source = source or ""
    wanted = None if raw.get("task") is None else task_config_of(raw["task"])
    with tempfile.TemporaryDirectory(prefix="spikernn-source-") as tmp:
        from spikernn.tracking.sources import resolve_model_source  # MLflow: only for a source to fetch

        path = resolve_model_source(source, tracking_uri(raw), artifacts, Path(tmp))
        try:
            if path.suffix.lower() == ".mat":
                if wanted is None:
                    raise ConfigError("task is required with a .mat source (task=go_nogo, xor or mante)")
                model, stored = model_files.import_mat(path), ModelInfo()
            else:
                model, stored = model_files.load_rate_model(path)
        except ModelFileError as err:
            raise ModelFileError(f"source: {err}") from None
    saved_task = stored.task
    if wanted is None and saved_task in OPTIONAL_TASKS:  # a NeuroGym model: then its stored settings
        from spikernn.tasks.registry import register_optional  # torch: a model file is loaded already

        register_optional(saved_task)
    if wanted is not None and saved_task is not None and wanted.name != saved_task:
        raise ConfigError(f"task: the model in {source} was trained on {saved_task!r}, not {wanted.name!r}")
    if wanted is None and saved_task is not None and saved_task not in TASK_CONFIGS:
        raise ConfigError(
            f"task: the model in {source} was trained on {saved_task!r}, not one of spikernn's tasks "
            f"({', '.join(TASK_CONFIGS)}): give its task group, task={saved_task} (a task/{saved_task}.yaml on "
            "hydra.searchpath whose _target_ names the task's class)"
        )
    if wanted is None and saved_task in TASK_CONFIGS and stored.task_settings is not None:
        try:  # no task given: the settings it was trained with
            wanted = task_config_of(stored.task_settings)
        except ConfigError as err:
            raise ModelFileError(f"source: {source} stores task settings that are not valid ({err})") from None
    from spikernn.tasks import get_task  # the model file is loaded: its task's trials come next

    task = get_task(wanted or saved_task)
    for what in ("inputs", "outputs"):
        need, has = getattr(task.config, f"n_{what}"), getattr(model.config, f"n_{what}")
        if need != has:
            raise ConfigError(f"task: {task.name} has {need} {what}; the model in {source} has {has}")
    check_task_settings(task.config.settings(), stored.task_settings, source)
    return ModelSource(source, model, task, stored)


def check_task_settings(given: dict, trained: dict | None, source: str) -> None:
    """The task's settings must be those the model was trained on (files from before they were saved
    are not checked): a NeuroGym model scored on trials of another timing is a wrong number, not an error."""
    if trained is None:
        return
    differ = sorted(k for k in set(given) | set(trained) if given.get(k) != trained.get(k))
    if differ:
        pairs = ", ".join(f"task.{k}={trained.get(k)!r} (given {given.get(k)!r})" for k in differ)
        raise ConfigError(
            f"task: the model in {source} was trained with other task settings: {pairs}; give the task's "
            "settings it was trained with (e.g. the experiment preset it was trained by)"
        )


@dataclass
class ConvertConfig:
    """``spikernn-convert``: transfer a trained rate model and search its scaling factor."""

    source: ModelSource
    spiking: SpikingParameters
    transfer: TransferConfig
    seed: int
    eval_trials: int


def _seed_and_trials(raw: dict) -> tuple[int, int]:
    """The ``seed`` and ``eval_trials`` of a command, checked."""
    check_int("seed", raw["seed"], 0)
    check_int("eval_trials", raw["eval_trials"], 1)
    return raw["seed"], raw["eval_trials"]


def build_convert_config(raw: dict) -> ConvertConfig:
    check_known_keys(raw, schemas.ConvertCommand)
    seed, eval_trials = _seed_and_trials(raw)
    spiking = typed(SpikingParameters, "spiking", raw["spiking"])
    transfer = typed(TransferConfig, "transfer", raw["transfer"])
    _check_choices(raw)
    allow_untrained = raw.get("allow_untrained", False)  # a bool: the command's schema types it
    source = load_model_source(raw, (RATE_MODEL_FILE, CONVERTED_MODEL_FILE))
    check_dt(spiking, source.task.config)
    if source.stored.trained is False and not allow_untrained:
        raise ConfigError(
            f"source: the rate model in {source.source} did not meet the training criterion (trained: false); "
            "converting it is refused (allow_untrained=true converts it anyway)"
        )
    return ConvertConfig(source, spiking, transfer, seed, eval_trials)


@dataclass
class EvaluateConfig:
    """``spikernn-evaluate``: score a converted model at its factor (or a given one) on fresh trials."""

    source: ModelSource
    spiking: SpikingParameters
    scaling_factor: float
    seed: int
    eval_trials: int
    stimulation: Stimulation | None = None  # optogenetic-style stimulation during the fresh trials


def build_evaluate_config(raw: dict) -> EvaluateConfig:
    check_known_keys(raw, schemas.EvaluateCommand)
    return _scored_model_config(raw)


def _scored_model_config(raw: dict) -> EvaluateConfig:
    """The spiking parameters and factor stored with the converted model, unless overridden."""
    seed, eval_trials = _seed_and_trials(raw)
    _check_choices(raw)
    source = load_model_source(raw, (FINETUNED_MODEL_FILE, CONVERTED_MODEL_FILE))  # a run's final network first
    factor = raw.get("scaling_factor")
    if factor is None:  # not `or`: a given 0 must be refused below, not replaced by the stored factor
        factor = source.stored.scaling_factor
    if factor is None:
        raise ConfigError("scaling_factor is required: the model file stores none (give scaling_factor=…)")
    check_factor("scaling_factor", factor)
    stored_spiking = {} if source.stored.spiking is None else source.stored.spiking.to_dict()
    overrides = {k: v for k, v in (raw.get("spiking") or {}).items() if v is not None}
    spiking = typed(SpikingParameters, "spiking", {**stored_spiking, **overrides})
    check_dt(spiking, source.task.config)
    stimulation = raw.get("stimulation")
    if stimulation is not None:
        stimulation = typed(Stimulation, "stimulation", stimulation)
        check_stimulation(stimulation, source.model.n_units, source.task.config)
    return EvaluateConfig(source, spiking, float(factor), seed, eval_trials, stimulation)


def check_stimulation(stimulation: Stimulation, n_units: int, task: TaskConfig) -> None:
    """Stimulated units exist and the window lies inside the trial."""
    if not stimulation.units or any(not 0 <= u < n_units for u in stimulation.units):
        raise ConfigError(f"stimulation.units must be a non-empty list of units in [0, {n_units - 1}]")
    if stimulation.stop_ms > task.trial_ms:
        raise ConfigError(
            f"stimulation.stop_ms must be at most the trial's length ({task.trial_ms:g} ms), "
            f"got {stimulation.stop_ms:g}"
        )


@dataclass
class FinetuneCommandConfig(EvaluateConfig):
    """``spikernn-finetune``: the converted model, its spiking parameters and factor (as
    ``spikernn-evaluate``) + ``finetune``."""

    finetune: FinetuneConfig | None = None


def build_finetune_config(raw: dict) -> FinetuneCommandConfig:
    check_known_keys(raw, schemas.FinetuneCommand)
    finetune = typed(FinetuneConfig, "finetune", raw.get("finetune") or {})
    return FinetuneCommandConfig(**vars(_scored_model_config(raw)), finetune=finetune)
