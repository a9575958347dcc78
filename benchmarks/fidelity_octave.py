"""The original MATLAB simulator run under GNU Octave for benchmarks/reference_fidelity.py.

The Octave side is in ``benchmarks/reference_fidelity/``: ``reference_trials.m`` (noisy trials at one
factor, summarised per trial), ``lockstep_trials.m`` (one noise-free trial per factor from given initial
voltages) and ``lockstep_shadow/`` (the ``rand``/``randn`` that make the original do that). Inputs and
results cross as ``.mat`` files in a work folder; the original code stays in ``reference_dir``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from fidelity_statistics import TrialSummaries

REFERENCE_FUNCTION = "LIF_network_fnc.m"
DRIVERS = Path(__file__).resolve().parent / "reference_fidelity"
LOCKSTEP_SHADOW = DRIVERS / "lockstep_shadow"
OCTAVE_EXIT_NOISE = "ignoring const execution_exception& while preparing to exit"
PROGRESS_EVERY_TRIALS = 10  # the Octave run reports its progress every this many trials


def octave_literal(value: str | os.PathLike | float | int) -> str:
    """A Python value as an Octave literal: a path or text as a single-quoted string, a number exactly."""
    if isinstance(value, (str, os.PathLike)):
        return "'" + str(value).replace("'", "''") + "'"
    return repr(float(value)) if isinstance(value, float) else str(int(value))


@dataclass(frozen=True)
class ReferenceSimulator:
    """The original simulator: the ``octave`` executable, the folder holding ``LIF_network_fnc.m``, the
    reference-layout ``model`` file, a work folder for the ``.mat`` files and a progress ``log``."""

    octave: str
    reference_dir: Path
    model: Path
    workdir: Path
    log: Callable[[str], None]

    def trials(
        self,
        factor: float,
        inputs: np.ndarray,
        conditions: np.ndarray,
        window_start: int,
        stride: int,
        seed: int,
    ) -> tuple[TrialSummaries, dict[str, np.ndarray]]:
        """Run every trial through the original ``LIF_network_fnc`` in one Octave process.

        ``inputs`` is [n_trials, C, n_in] on the stimulus grid; ``window_start`` is the 1-based first LIF
        step of the scoring window. Returns the summaries and the transferred parameters of trial 1.
        """
        tag = f"s{factor:g}".replace(".", "p")
        inputs_file = self.workdir / f"inputs_{tag}.mat"
        result_file = self.workdir / f"reference_{tag}.mat"
        scipy.io.savemat(
            inputs_file, {"inputs": inputs.transpose(0, 2, 1).astype(float), "conditions": conditions.astype(float)}
        )
        elapsed = self._run(
            "reference_trials",
            [self.reference_dir.resolve(), inputs_file, self.model.resolve(), result_file, seed, float(factor)]
            + [window_start, stride, PROGRESS_EVERY_TRIALS],
            result_file,
        )
        data = scipy.io.loadmat(result_file)
        column = lambda key: np.asarray(data[key], dtype=float).reshape(-1)  # noqa: E731
        summaries = TrialSummaries(
            window_max=column("win_max"),
            window_mean=column("win_mean"),
            correct=column("correct").astype(bool),
            rate_exc_hz=column("rate_exc"),
            rate_inh_hz=column("rate_inh"),
            unit_counts=np.asarray(data["unit_counts"], dtype=float),
            trace=np.asarray(data["trace"], dtype=float),
            seconds=elapsed,
        )
        parameters = {
            "w_scaled": np.asarray(data["W_first"], dtype=float),
            "tau_d_s": column("td_first"),
            "w_out": column("w_out_first"),
            "duration_s": column("T"),
            "dt_s": column("dt"),
        }
        return summaries, parameters

    def lockstep(
        self, factors: list[float], uniform: np.ndarray, probe: np.ndarray, voltage_steps: int
    ) -> dict[str, np.ndarray]:
        """One noise-free trial of input ``probe`` [C, n_in] per factor through the original, starting
        from v = v_reset + ``uniform`` [N] · (30 mV − v_reset). Returns ``lockstep_trials.m``'s results:
        outs [n_factors, n_steps], spikes (per factor [n, 2] 1-based unit, step), volts (per factor the
        first ``voltage_steps`` of REC, [N, M]) and dt (s)."""
        inputs_file, result_file = self.workdir / "lockstep_in.mat", self.workdir / "lockstep.mat"
        scipy.io.savemat(
            inputs_file, {"uniform": uniform[:, None], "factors": np.asarray(factors, dtype=float), "u": probe.T}
        )
        self._run(
            "lockstep_trials",
            [self.reference_dir.resolve(), LOCKSTEP_SHADOW, inputs_file, self.model.resolve(), result_file]
            + [voltage_steps],
            result_file,
        )
        return scipy.io.loadmat(result_file)

    def _run(self, driver: str, arguments: list, result_file: Path) -> float:
        """Call the function ``driver`` of :data:`DRIVERS` with ``arguments`` in one single-threaded
        Octave process (stdout streamed to the log); returns its wall time in seconds. Raises
        RuntimeError with Octave's stderr when it fails or writes no ``result_file``."""
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        call = f"addpath({octave_literal(DRIVERS)}); {driver}({', '.join(map(octave_literal, arguments))});"
        command = [self.octave, "--no-gui", "--no-window-system", "--quiet", "--no-init-file", "--eval", call]
        stderr_file = self.workdir / f"{result_file.stem}.stderr"
        start = time.perf_counter()
        with (
            stderr_file.open("w") as stderr_sink,
            subprocess.Popen(
                command, cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=stderr_sink, text=True
            ) as process,
        ):
            assert process.stdout is not None
            for line in process.stdout:
                self.log(line.rstrip())
        elapsed = time.perf_counter() - start
        stderr = "\n".join(line for line in stderr_file.read_text().splitlines() if OCTAVE_EXIT_NOISE not in line)
        if process.returncode != 0 or not result_file.is_file():
            raise RuntimeError(f"octave failed (exit {process.returncode}) at {result_file.stem}:\n{stderr}")
        return elapsed
