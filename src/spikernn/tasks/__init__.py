"""Tasks: one module per task, each defined in ms; a registry maps names to classes."""

from __future__ import annotations

from spikernn.tasks.base import ReadoutKind, ScoringWindow, Task, TaskConfig, Trials, condition_slug
from spikernn.tasks.go_nogo import GoNoGo, GoNoGoConfig
from spikernn.tasks.mante import ContextDependentIntegration, ContextDependentIntegrationConfig
from spikernn.tasks.xor import XOR, XORConfig
from spikernn.validation import check_choice

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (GoNoGo, XOR, ContextDependentIntegration)}


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task class to the registry (usable as a decorator); no model code changes needed."""
    TASKS[cls.name] = cls
    return cls


def get_task(task: str | TaskConfig) -> Task:
    """The task called ``task`` (one of ``TASKS``) with the paper's timing, or the task a
    ``TaskConfig`` configures, with its timing."""
    name = task if isinstance(task, str) else task.name
    check_choice("task", name, TASKS)
    return TASKS[name]() if isinstance(task, str) else TASKS[name](task)


__all__ = [
    "TASKS",
    "ContextDependentIntegrationConfig",
    "GoNoGoConfig",
    "ReadoutKind",
    "ScoringWindow",
    "Task",
    "TaskConfig",
    "Trials",
    "XORConfig",
    "condition_slug",
    "get_task",
    "register_task",
]
