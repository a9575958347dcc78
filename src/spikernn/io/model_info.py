"""What a model file says about its network besides the weights, as one typed record.

Every writer (training, conversion, fine-tuning, the population launcher's store) saves a
:class:`ModelInfo` and every reader gets one back, checked: a value of the wrong type in a file
from elsewhere (a colleague's, a damaged one) is a :class:`~spikernn.validation.ModelFileError`
naming the file and the key, never a crash or a silently wrong number later.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikernn.spiking.parameters import SpikingParameters
from spikernn.validation import ConfigError, ModelFileError


@dataclass(frozen=True)
class ModelInfo:
    """``task``: the name of the task it was trained on; ``trained``: a rate model met the training
    criterion; ``scaling_factor``: a converted or fine-tuned network's s, with the ``spiking``
    parameters it was converted with; ``finetuned``: its weights are fine-tuning's; ``task_settings``:
    the task's config it was trained on (timing in ms, a NeuroGym environment's settings), which a
    command given other settings refuses; ``other``: plain values this package does not read from a
    model (a cache's bookkeeping, a benchmark's notes)."""

    task: str | None = None
    trained: bool | None = None
    scaling_factor: float | None = None
    spiking: SpikingParameters | None = None
    finetuned: bool = False
    task_settings: dict[str, Any] | None = None
    other: dict[str, Any] = field(default_factory=dict)

    def to_extra(self) -> dict[str, Any]:
        """The plain values saved in the file (keys with no value left out)."""
        known = {
            "task": self.task,
            "trained": self.trained,
            "scaling_factor": self.scaling_factor,
            "spiking": None if self.spiking is None else self.spiking.to_dict(),
            "finetuned": self.finetuned or None,
            "task_settings": self.task_settings,
        }
        return {**self.other, **{k: v for k, v in known.items() if v is not None}}

    @classmethod
    def from_extra(cls, extra: dict[str, Any], path: str | Path) -> ModelInfo:
        """The record of a file's ``extra`` values, each checked for its type."""
        known = {f.name for f in dataclasses.fields(cls)} - {"other"}
        values = {k: v for k, v in extra.items() if k in known}

        def check(key: str, kinds: tuple[type, ...], what: str) -> None:
            value = values.get(key)
            if value is not None and (not isinstance(value, kinds) or isinstance(value, bool) != (bool in kinds)):
                raise ModelFileError(f"{path}: its stored {key} must be {what}, got {value!r}")

        check("task", (str,), "text")
        check("trained", (bool,), "true or false")
        check("finetuned", (bool,), "true or false")
        check("scaling_factor", (int, float), "a number")
        check("task_settings", (dict,), "a dict")
        if any(not isinstance(key, str) for key in values.get("task_settings") or {}):
            raise ModelFileError(f"{path}: its stored task_settings must have text keys")
        factor = values.get("scaling_factor")
        if factor is not None and not (math.isfinite(factor) and factor > 0):
            raise ModelFileError(f"{path}: its stored scaling_factor must be a finite number > 0, got {factor!r}")
        spiking = values.get("spiking")
        if spiking is not None:
            values["spiking"] = _spiking_parameters(spiking, path)
        if factor is not None:
            values["scaling_factor"] = float(factor)
        values["finetuned"] = bool(values.get("finetuned", False))
        return cls(**values, other={k: v for k, v in extra.items() if k not in known})


def _spiking_parameters(stored: object, path: str | Path) -> SpikingParameters:
    """The stored spiking parameters: a dict of known names and values of the right kind."""
    if not isinstance(stored, dict):
        raise ModelFileError(f"{path}: its stored spiking parameters must be a dict, got {type(stored).__name__}")
    fields = {f.name: f for f in dataclasses.fields(SpikingParameters)}
    unknown = sorted(set(stored) - set(fields))
    if unknown:
        raise ModelFileError(f"{path}: it stores unknown spiking parameter(s) {', '.join(map(str, unknown))}")
    defaults = SpikingParameters()
    for name, value in stored.items():
        kind = type(getattr(defaults, name))
        ok = isinstance(value, str) if kind is str else isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise ModelFileError(f"{path}: its stored spiking.{name} must be {kind.__name__}, got {value!r}")
    try:
        return SpikingParameters(**{k: (v if isinstance(v, str) else float(v)) for k, v in stored.items()})
    except ConfigError as err:
        raise ModelFileError(f"{path}: its stored spiking parameters are invalid ({err})") from None
