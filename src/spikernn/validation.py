"""Input checks that name the offending field and the allowed range.

Every public config calls these in ``__post_init__`` so bad input fails before any
computation or file write starts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class ConfigError(ValueError):
    """A configuration value is out of its allowed range or of the wrong kind."""


class ModelFileError(ConfigError):
    """A model file (ours, a reference .mat, a checkpoint) cannot be used: the message names the
    file and what is wrong with it."""


def _describe(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"{left}{lo_s}, {hi_s}{right}"


def check_range(
    field: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    """Raise ``ConfigError`` unless ``value`` is a finite number in the interval given (open or
    closed ends; ``inf`` in a description means unbounded, never an allowed value)."""
    allowed = _describe(lo, hi, lo_open, hi_open)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{field} must be a finite number in {allowed}, got {value!r}")
    too_low = lo is not None and (value <= lo if lo_open else value < lo)
    too_high = hi is not None and (value >= hi if hi_open else value > hi)
    if too_low or too_high:
        raise ConfigError(f"{field} must be in {allowed}, got {value!r}")


def check_int(field: str, value: int, lo: int | None = None, hi: int | None = None) -> None:
    """Raise ``ConfigError`` unless ``value`` is an integer in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field} must be an integer in {_describe(lo, hi, False, False)}, got {value!r}")
    check_range(field, value, lo, hi)


def check_choice(field: str, value: str, allowed: Iterable[str]) -> None:
    """Raise ``ConfigError`` unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{field} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
