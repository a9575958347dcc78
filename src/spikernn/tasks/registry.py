"""The tasks by name: the paper's three and any a user registers."""

from __future__ import annotations

from spikernn.tasks.base import Task
from spikernn.tasks.config import TASK_CONFIGS, TaskConfig
from spikernn.tasks.go_nogo import GoNoGo
from spikernn.tasks.mante import ContextDependentIntegration
from spikernn.tasks.xor import XOR
from spikernn.validation import check_choice

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
