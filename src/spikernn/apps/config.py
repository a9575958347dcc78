"""Turn a composed Hydra config into validated library objects, naming any bad key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from spikernn.pipeline import RunConfig
from spikernn.rate import RateRNNConfig
from spikernn.rate.criterion import StoppingRule
from spikernn.rate.training import TrainingConfig
from spikernn.spiking import SpikingParameters
from spikernn.transfer import FactorSearch
from spikernn.validation import ConfigError


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
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{group}.{k}' for k in unknown)}; allowed: {', '.join(sorted(names))}"
        )
    return cls(**values)


def build_run_config(cfg: DictConfig) -> RunConfig:
    """Validate the whole config; raises ``ConfigError`` naming the first bad field."""
    raw = OmegaConf.to_container(cfg, resolve=True)
    raw.pop("hydra", None)
    raw.pop("paths", None)
    trainer = dict(raw.pop("trainer"))
    trainer["stopping"] = _build(StoppingRule, "trainer.stopping", trainer.pop("stopping", {}))
    model = dict(raw.pop("model"))
    task = raw.pop("task")["name"]
    run = _build(
        RunConfig,
        "",
        {
            "task": task,
            "model": _build(RateRNNConfig, "model", model),
            "spiking": _build(SpikingParameters, "spiking", raw.pop("spiking")),
            "transfer": _build(FactorSearch, "transfer", raw.pop("transfer")),
            "training": _build(TrainingConfig, "trainer", trainer),
            **raw,
        },
    )
    return run
