"""SIGTERM (what SLURM and ``kill`` send) and Ctrl-C (SIGINT) end a command cleanly.

Inside :func:`interruptible`, both raise :class:`Interrupted` wherever the program is; it is not a
``KeyboardInterrupt`` (Lightning turns that into ``sys.exit(1)``) nor an ``Exception`` (nothing
swallows it), so it unwinds to the command, whose MLflow run ends KILLED, and the process exits
with ``128 + signal`` (143 for SIGTERM, 130 for Ctrl-C), as a shell reports a killed process.

An exception raised by a signal handler is lost if it lands in a garbage-collection callback or a
``__del__`` ("Exception ignored in …"); so the signal is sent again every second until whoever
handles the interruption calls :func:`acknowledge`.

Nor is it raised inside a database call (SQLAlchemy, an MLflow store: MLflow's and Optuna's SQLite
writes): one cut short there can leave a connection holding the SQLite write lock, and closing the
run KILLED then waited 20 s per write for it and failed (2 of 22 interrupted trainings hung this way). It is
raised instead in the code that made the call, at its next line once the call has returned — the
way a debugger stops in a frame (``frame.f_trace``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    """The process was asked to stop by signal ``signum``."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"interrupted by {self.name}")

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def interrupt_signal(error: BaseException | None) -> int | None:
    """The signal that ``error`` stands for (an interruption), or None if it is no interruption."""
    if isinstance(error, Interrupted):
        return error.signum
    if isinstance(error, KeyboardInterrupt):
        return int(signal.SIGINT)
    if type(error).__name__ == "SIGTERMException":  # Lightning's, should its handler run alone
        return int(signal.SIGTERM)
    if isinstance(error, SystemExit) and isinstance(error.code, int) and error.code - 128 in map(int, SIGNALS):
        return error.code - 128  # a nested command that was interrupted (a sweep's job)
    return None


_pending: dict[str, int] = {}  # "signum" while an interruption has been raised but not handled
REDELIVER_S = 1.0


def acknowledge() -> None:
    """The interruption is being handled: stop sending the signal again."""
    _pending.clear()


def _redeliver(signum: int) -> None:
    while _pending.get("signum") == signum:
        time.sleep(REDELIVER_S)
        if _pending.get("signum") == signum:
            os.kill(os.getpid(), signum)


# modules in whose calls an exception could leave a database transaction (and its lock) half done
ATOMIC_MODULES = ("sqlalchemy.", "sqlite3.", "mlflow.store.", "optuna.storages.")


def caller_of_atomic_call(frame: FrameType | None) -> FrameType | None:
    """The frame that called into :data:`ATOMIC_MODULES` if ``frame`` runs inside such a call
    (the outermost one's caller), else None."""
    caller = None
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(ATOMIC_MODULES):
            caller = frame.f_back
        frame = frame.f_back
    return caller


def _raise_on_return_to(frame: FrameType, signum: int) -> None:
    """Raise :class:`Interrupted` in ``frame`` at its next trace event (the atomic call it is in has
    returned); nothing where another tracer (a debugger, coverage) owns tracing: the signal is sent
    again a second later (:func:`_redeliver`) and raised then, once outside the call."""
    if sys.gettrace() not in (None, _no_trace):
        return

    def stop(traced: FrameType, event: str, _arg: object) -> object:
        if traced is frame and event in ("line", "return", "exception"):
            frame.f_trace = None
            raise Interrupted(signum)  # an error in a tracer also ends tracing (sys.settrace(None))
        return stop

    frame.f_trace, frame.f_trace_lines = stop, True
    sys.settrace(_no_trace)  # tracing on, for no new frame: only ``frame`` is traced


def _no_trace(_frame: FrameType, _event: str, _arg: object) -> None:
    return None


def _raise(signum: int, frame: FrameType | None) -> None:
    if "signum" not in _pending:
        _pending["signum"] = signum
        threading.Thread(target=_redeliver, args=(signum,), name="redeliver-signal", daemon=True).start()
    caller = caller_of_atomic_call(frame)
    if caller is None:
        raise Interrupted(signum)
    _raise_on_return_to(caller, signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`Interrupted` inside (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def deferred() -> Iterator[list[int]]:
    """Signals arriving inside are recorded (the yielded list), not raised: for closing a run."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _f: received.append(signum)) for sig in SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
