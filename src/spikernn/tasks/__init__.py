"""Tasks: one module per task, each defined in ms; a registry maps names to classes.

The names load on first use (:mod:`lazy_loader`): the configs (:mod:`spikernn.tasks.config`)
import without torch, so a command checks a task's timing before trials can be made."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "base": ["ReadoutKind", "ScoringWindow", "SettledBounds", "Task", "Trials"],
        "config": [
            "STEP_MS", "TASK_CONFIGS", "ContextDependentIntegrationConfig", "GoNoGoConfig", "TaskConfig",
            "XORConfig", "condition_slug",
        ],
        "go_nogo": ["GoNoGo"],
        "mante": ["ContextDependentIntegration"],
        "registry": ["TASKS", "get_task", "register_task"],
        "xor": ["XOR"],
    },
)  # fmt: skip
