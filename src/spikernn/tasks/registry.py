"""The tasks by name: the paper's three and any a user registers."""

from __future__ import annotations

import importlib

from spikernn.tasks.base import Task
from spikernn.tasks.config import TASK_CONFIGS, TaskConfig
from spikernn.tasks.go_nogo import GoNoGo
from spikernn.tasks.mante import ContextDependentIntegration
from spikernn.tasks.xor import XOR
from spikernn.validation import ConfigError, check_choice

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (GoNoGo, XOR, ContextDependentIntegration)}


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task class and its config to the registry (usable as a decorator); no model code
    changes needed."""
    TASKS[cls.name] = cls
    TASK_CONFIGS[cls.name] = cls.Config
    return cls


def get_task(task: str | TaskConfig) -> Task:
    """The task called ``task`` (one of ``TASKS``) with the paper's timing, or the task a
    ``TaskConfig`` configures, with its timing."""
    name = task if isinstance(task, str) else task.name
    check_choice("task", name, TASKS)
    return TASKS[name]() if isinstance(task, str) else TASKS[name](task)


def load_task_class(target: str) -> type[Task]:
    """The task class named by ``target`` (``package.module.Class``: the ``task`` group's
    ``_target_``), imported and registered; the error names ``task._target_``."""
    module_name, _, class_name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name) if module_name else None
    except ImportError as err:
        raise ConfigError(
            f"task._target_: cannot import {module_name!r} ({err}); the module must be importable: "
            "installed, or its folder on PYTHONPATH"
        ) from None
    except AttributeError:
        cls = None
    if cls is None:
        raise ConfigError(f"task._target_ must name a class as package.module.Class, got {target!r}")
    config = getattr(cls, "Config", None)
    if not (isinstance(cls, type) and issubclass(cls, Task) and isinstance(config, type)):
        raise ConfigError(f"task._target_: {target} is not a spikernn.tasks.Task subclass with a Config")
    if not issubclass(config, TaskConfig) or config.name != cls.name:
        raise ConfigError(
            f"task._target_: {target}.Config must be a spikernn.tasks.TaskConfig subclass whose name is "
            f"{cls.name!r}, got {config.__name__} named {getattr(config, 'name', None)!r}"
        )
    if TASKS.get(cls.name, cls) is not cls:
        raise ConfigError(f"task._target_: {target} is named {cls.name!r}, the name of a task spikernn has")
    return register_task(cls)
