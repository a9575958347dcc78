"""Run folder names that no two processes share.

``conf/hydra/default.yaml`` names a command's folder ``<date_time>_<suffix>``: the time to the
second for people, and ``${spikernn.unique:}`` — microseconds, this process's id and random bits —
so that runs started in the same second (parallel runs, sweep workers, machines sharing one file
system) never write into one folder. The value is fixed for the process, not only for one config
object (OmegaConf's resolver cache is per config): a launcher and the job configs it loads resolve
the sweep folder apart, and with a per-config value the submitit launcher put its ``.submitit`` logs
in a folder of their own, beside the one its jobs wrote into.
"""

from __future__ import annotations

import functools
import os
import secrets
import time

from omegaconf import OmegaConf

RESOLVER = "spikernn.unique"


@functools.cache
def unique_suffix() -> str:
    """``<microseconds>-<pid>-<4 random hex bytes>``, e.g. ``042137-81234-9f3a61c2``."""
    return f"{time.time_ns() // 1000 % 1_000_000:06d}-{os.getpid()}-{secrets.token_hex(4)}"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver(RESOLVER):
        register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver  # 2.4 | 2.3
        register(RESOLVER, unique_suffix, use_cache=True)
