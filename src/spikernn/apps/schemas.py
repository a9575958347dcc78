"""The config groups' schemas: the library's config dataclasses registered in Hydra's ConfigStore.

Each ``conf/<group>/<option>.yaml`` starts with ``defaults: [schema]`` and holds only what differs
from the dataclass defaults, so every default is written once (in the dataclass) and Hydra checks
every key and type before a command starts; the dataclasses' ``__post_init__`` check the ranges.
"""

from __future__ import annotations

import dataclasses
import typing

from hydra.core.config_store import ConfigStore

from spikernn.finetune_config import FinetuneConfig
from spikernn.rate import RateRNNConfig
from spikernn.rate.trainer_config import TrainerConfig
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
    """Store every group's schema (``<group>/schema``), ``spiking/stored`` and each task's timing
    (``task/schema_<name>``, extended by ``conf/task/<name>.yaml``)."""
    store = ConfigStore.instance()
    for group, node in GROUPS.items():
        store.store(group=group, name=SCHEMA, node=node)
    store.store(group="spiking", name="stored", node=StoredSpikingParameters)
    for name, config in TASK_CONFIGS.items():
        store.store(group="task", name=f"{SCHEMA}_{name}", node=config)
