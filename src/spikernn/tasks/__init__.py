"""Tasks: one module per task, each defined in ms; a registry maps names to classes."""

from __future__ import annotations

from spikernn.tasks.base import ReadoutKind, ScoringWindow, Task, Trials, condition_slug
from spikernn.tasks.go_nogo import GoNoGo
from spikernn.tasks.mante import ContextDependentIntegration
from spikernn.tasks.xor import XOR
from spikernn.validation import check_choice

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (GoNoGo, XOR, ContextDependentIntegration)}


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task class to the registry (usable as a decorator); no model code changes needed."""
    TASKS[cls.name] = cls
    return cls


def get_task(name: str) -> Task:
    """The task called ``name`` (one of ``TASKS``)."""
    check_choice("task", name, TASKS)
    return TASKS[name]()


__all__ = ["TASKS", "ReadoutKind", "ScoringWindow", "Task", "Trials", "condition_slug", "get_task", "register_task"]
