"""A rich progress display for the simulation phases (training uses Lightning's bar), on stderr:
stdout holds only the command's JSON summary."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class PhaseProgress:
    """Callable ``(phase, done, total)`` that shows one bar per phase, from its first call on."""

    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> PhaseProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.tasks:
            self.bars.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.tasks:  # started lazily: Lightning's own live bar must be gone first
            self.bars.start()
        if phase not in self.tasks:
            self.tasks[phase] = self.bars.add_task(f"simulating: {phase}", total=total)
        self.bars.update(self.tasks[phase], completed=done, total=total)
