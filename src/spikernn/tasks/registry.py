"""The tasks by name: the paper's three and any a user registers."""

from __future__ import annotations

import importlib

from spikernn.tasks.base import Task
from spikernn.tasks.config import OPTIONAL_TASKS, TASK_CONFIGS, TaskConfig
from spikernn.tasks.go_nogo import GoNoGo
from spikernn.tasks.mante import ContextDependentIntegration
from spikernn.tasks.xor import XOR
from spikernn.validation import ConfigError, ModelFileError, check_choice

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
    register_optional(name)
    check_choice("task", name, TASKS)
    return TASKS[name]() if isinstance(task, str) else TASKS[name](task)


def task_of_settings(name: str, settings: dict | None) -> Task:
    """The task ``name`` with the settings a model file stores (``TaskConfig.settings()``), or with
    its defaults for a file that stores none; settings that make no valid config: ModelFileError."""
    if settings is None:
        return get_task(name)
    register_optional(name)
    check_choice("task", name, TASKS)
    try:
        return get_task(TASK_CONFIGS[name](**settings))
    except (TypeError, ConfigError) as err:
        raise ModelFileError(f"the stored settings of task {name!r} are not valid ({err})") from None


def register_optional(name: str) -> None:
    """Register spikernn's task ``name`` of an optional dependency if it is one and is not yet (e.g.
    a NeuroGym model file read in a fresh process)."""
    if name in OPTIONAL_TASKS and name not in TASKS:
        load_task_class(OPTIONAL_TASKS[name])


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
