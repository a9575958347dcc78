"""The configs' schemas: the library's config dataclasses registered in Hydra's ConfigStore.

Each ``conf/<group>/<option>.yaml`` starts with ``defaults: [schema]`` and holds only what differs
from the dataclass defaults, so every default is written once (in the dataclass) and Hydra checks
every key and type before a command starts; the dataclasses' ``__post_init__`` check the ranges.
Each command's primary config (``conf/<command>.yaml``) starts with ``defaults: [<command>_schema]``:
the command-level settings every command shares (``CommandSettings``: ``seed``, ``eval_trials``,
``objective``) are declared once and each command's schema inherits them.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from spikernn.finetune_config import FinetuneConfig
from spikernn.rate import RateRNNConfig
from spikernn.rate.trainer_config import TrainerConfig
from spikernn.run_config import RunConfig
from spikernn.spiking import SpikingParameters, Stimulation
from spikernn.tasks.config import TASK_CONFIGS
from spikernn.tracking.logger_config import LoggerConfig
from spikernn.transfer_config import TransferConfig

SCHEMA = "schema"  # the ConfigStore option of each group that its YAML files extend


def _field(f: dataclasses.Field) -> dataclasses.Field:
    """A fresh field with ``f``'s default (fields cannot be shared between dataclasses)."""
    if f.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=f.default_factory)
    return dataclasses.field(default=f.default)


def model_schema() -> type:
    """The ``model`` group: RateRNNConfig's fields with its τ range as two keys, ``tau_min_ms`` and
    ``tau_max_ms`` (null = one fixed τ = tau_min_ms); ``n_inputs`` and ``n_outputs`` are the task's."""
    hints = typing.get_type_hints(RateRNNConfig)
    tau_min, tau_max = RateRNNConfig().taus_ms
    kept = [
        (f.name, hints[f.name], _field(f))
        for f in dataclasses.fields(RateRNNConfig)
        if f.name not in ("taus_ms", "n_inputs", "n_outputs")
    ]
    return dataclasses.make_dataclass(
        "ModelConfig", [*kept, ("tau_min_ms", float, tau_min), ("tau_max_ms", float | None, tau_max)]
    )


def stored_spiking_schema() -> type:
    """``spiking: stored`` (spikernn-evaluate, -finetune): every spiking parameter, null = the value
    stored with the converted model."""
    hints = typing.get_type_hints(SpikingParameters)
    return dataclasses.make_dataclass(
        "StoredSpikingParameters",
        [(f.name, hints[f.name] | None, None) for f in dataclasses.fields(SpikingParameters)],
    )


ModelConfig = model_schema()
StoredSpikingParameters = stored_spiking_schema()


def group_slot() -> Any:
    """A command schema's slot for a config group (any value; its own schema checks it). One left
    null is not in the command's config (``without_unset_slots``), as a group chosen ``null`` in a
    defaults list is not."""
    return dataclasses.field(default=None, metadata={"group": True})


@dataclass
class CommandSettings:
    """The top-level settings of every command; the groups (``task``, ``spiking``, ``logger``, …)
    have their own schemas, so here they are slots of any value."""

    seed: int = RunConfig.seed  # every random draw: model init, training trials and noise, spiking noise
    eval_trials: int = RunConfig.eval_trials  # fresh trials of the final evaluation
    objective: Any = "lif_accuracy"  # the summary value(s) the command returns (what a sweep optimises)
    logger: Any = group_slot()
    paths: Any = group_slot()
    optuna: Any = group_slot()  # an Optuna sweep's pruner and storage (conf/hparams_search/)


# ``allow_untrained``: false unless the environment's SPIKERNN_ALLOW_UNTRAINED is true
ALLOW_UNTRAINED_FROM_ENV = "${oc.decode:${oc.env:SPIKERNN_ALLOW_UNTRAINED,false}}"


@dataclass
class TrainCommand(CommandSettings):
    """``spikernn-train`` (``conf/train.yaml``): a rate RNN trained to the criterion."""

    objective: Any = "rate_accuracy"
    task: Any = group_slot()
    model: Any = group_slot()
    trainer: Any = group_slot()
    spiking: Any = group_slot()  # unused by training; an experiment preset that sets the conversion composes
    transfer: Any = group_slot()
    finetune: Any = group_slot()


@dataclass
class RunCommand(TrainCommand):
    """``spikernn-run`` (``conf/run.yaml``): train, convert, search the factor, evaluate."""

    objective: Any = "lif_accuracy"
    # convert a rate network that missed the training criterion (else it is refused)
    allow_untrained: bool = ALLOW_UNTRAINED_FROM_ENV  # type: ignore[assignment]


@dataclass
class ConvertCommand(RunCommand):
    """``spikernn-convert`` (``conf/convert.yaml``): a trained rate model converted and its factor
    searched (``model``/``trainer``, set by an experiment preset, are not used)."""

    source: str = MISSING  # rate model: a .pt or reference .mat path, or an MLflow run id


@dataclass
class EvaluateCommand(CommandSettings):
    """``spikernn-evaluate`` (``conf/evaluate.yaml``): a converted model scored on fresh trials."""

    source: str = MISSING  # converted model: a converted_model.pt path, or an MLflow run id
    scaling_factor: float | None = None  # s = 1/λ; null = the factor stored by the conversion
    task: Any = group_slot()  # null = the model file's
    spiking: Any = group_slot()
    stimulation: Any = group_slot()


@dataclass
class FinetuneCommand(CommandSettings):
    """``spikernn-finetune`` (``conf/finetune.yaml``): a converted model trained with surrogate gradients."""

    source: str = MISSING  # converted model: a converted_model.pt path, or an MLflow run id
    scaling_factor: float | None = None  # the starting s = 1/λ; null = the factor stored by the conversion
    task: Any = group_slot()
    spiking: Any = group_slot()
    finetune: Any = group_slot()


COMMANDS: dict[str, type] = {
    "train": TrainCommand,
    "run": RunCommand,
    "convert": ConvertCommand,
    "evaluate": EvaluateCommand,
    "finetune": FinetuneCommand,
}
# every command schema's group slots (``group_slot``)
GROUP_SLOTS = frozenset(f.name for c in COMMANDS.values() for f in dataclasses.fields(c) if f.metadata.get("group"))


def without_unset_slots(config: dict) -> dict:
    """A command's config (a plain dict) without its group slots left null."""
    return {k: v for k, v in config.items() if not (v is None and k in GROUP_SLOTS)}


GROUPS: dict[str, type] = {
    "model": ModelConfig,
    "trainer": TrainerConfig,
    "spiking": SpikingParameters,
    "transfer": TransferConfig,
    "finetune": FinetuneConfig,
    "logger": LoggerConfig,
    "stimulation": Stimulation,  # spikernn-evaluate stimulation=exc|inh
}


def register() -> None:
    """Store every command's schema (``<command>_schema``), every group's (``<group>/schema``),
    ``spiking/stored`` and each task's timing (``task/schema_<name>``, extended by ``conf/task/<name>.yaml``)."""
    store = ConfigStore.instance()
    for command, node in COMMANDS.items():
        store.store(name=f"{command}_{SCHEMA}", node=node)
    for group, node in GROUPS.items():
        store.store(group=group, name=SCHEMA, node=node)
    store.store(group="spiking", name="stored", node=StoredSpikingParameters)
    for name, config in TASK_CONFIGS.items():
        store.store(group="task", name=f"{SCHEMA}_{name}", node=config)
