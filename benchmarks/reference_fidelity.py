"""Check our spiking simulator against the original MATLAB code (rkim35/spikeRNN) run under GNU Octave.

Both simulators convert the same reference-layout ``.mat`` Go-NoGo model at each scaling factor and run
the same numbers of Go and NoGo trials with independent noise. Per factor and trial type the script
compares accuracy (Fisher exact), the readout's max and mean over the scoring window (Welch t for the
means, Brown-Forsythe for the SDs) and the mean firing rates of the E and I units (Welch t). It also
checks that the transferred parameters (W / s, τ_d, w_out) agree to float32 precision, and runs a
"lockstep" trial per factor: ``rand``/``randn`` are shadowed in Octave so both simulators start from the
same voltages without noise, and every voltage, spike and readout sample must agree step by step until
the runs part for a reason the script can name (the original ends ~1 % of refractory periods one step
early through float64 rounding of ``dt*k > tlast + tref``; float32/float64 ties at threshold).

The original code is never copied here: pass the folder that holds ``LIF_network_fnc.m``::

    python benchmarks/reference_fidelity.py --model go.mat --reference-dir /tmp/ref/spiking --out fidelity.json

Exit status: 0 if nothing differs at ``--alpha``, 1 if some comparison does, 2 on a usage or run error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.io
import torch
from scipy import stats

from spikernn.io import import_mat
from spikernn.spiking import SpikingRNN
from spikernn.tasks import get_task
from spikernn.tasks.base import first_index
from spikernn.transfer import to_spiking

REFERENCE_FUNCTION = "LIF_network_fnc.m"
TRIAL_TYPES = {1: "Go", 0: "NoGo"}
PARAMETER_RTOL = 1e-5  # our network holds float32 copies of the float64 reference parameters
# Lockstep probe input: 1 on stimulus columns 2-7 (LIF steps 150-749), so its onset and offset fall
# in the first ~50 ms, before float32/float64 and the original's refractory rounding make the runs part.
PROBE_COLUMNS = slice(2, 8)
LOCKSTEP_VOLTAGE_STEPS = 3000  # voltages of the original kept for the lockstep comparison (150 ms)
LOCKSTEP_VOLTAGE_TOL = 1e-3  # mV; float32 vs float64 stays ≲ 1.5e-4 mV until the runs part
LOCKSTEP_READOUT_RTOL = 1e-4
LOCKSTEP_MAX_REFRACTORY_MISMATCH = 0.1  # the original's float64 rounding alone gives ~1-2 %
REFERENCE_T_REF_S = 0.002  # ``tref`` in LIF_network_fnc.m
OCTAVE_EXIT_NOISE = "ignoring const execution_exception& while preparing to exit"

OCTAVE_DRIVER = r"""
more off;
addpath('{reference_dir}');
data = load('{inputs_file}');
model = load('{model_file}', 'exc', 'inh');
exc_ind = find(model.exc);
inh_ind = find(model.inh);
rand('state', {seed});
randn('state', {seed});
stims = struct('mode', 'none');
n = size(data.inputs, 1);
n_in = size(data.inputs, 2);
n_cols = size(data.inputs, 3);
win_start = {window_start};
stride = {stride};
win_max = zeros(n, 1); win_mean = zeros(n, 1); correct = zeros(n, 1);
rate_exc = zeros(n, 1); rate_inh = zeros(n, 1); seconds = zeros(n, 1);
trace = zeros(n, n_cols - 1);
unit_counts = zeros(n, numel(model.exc));
for t = 1:n
  u = reshape(data.inputs(t, :, :), n_in, n_cols);
  tic;
  [W, REC, spk, rs, all_fr, out, params] = LIF_network_fnc('{model_file}', {factor}, u, stims, 1, false);
  seconds(t) = toc;
  window = out(win_start:end);
  win_max(t) = max(window);
  win_mean(t) = mean(window);
  if data.conditions(t) == 1
    correct(t) = win_max(t) > 0.7;
  else
    correct(t) = win_max(t) < 0.3;
  end
  counts = sum(spk, 2);
  unit_counts(t, :) = counts';
  rate_exc(t) = mean(counts(exc_ind)) / params.T;
  rate_inh(t) = mean(counts(inh_ind)) / params.T;
  trace(t, :) = out(stride:stride:end);
  if t == 1
    W_first = W; td_first = params.td; w_out_first = params.w_out; T = params.T; dt = params.dt;
  end
  if mod(t, {progress_every}) == 0 || t == n
    fprintf('  octave s={factor_label}: trial %d/%d (%.2f s/trial)\n', t, n, mean(seconds(1:t)));
    fflush(stdout);
  end
end
save('-7', '{result_file}', 'win_max', 'win_mean', 'correct', 'rate_exc', 'rate_inh', 'unit_counts', ...
     'trace', 'seconds', 'W_first', 'td_first', 'w_out_first', 'T', 'dt');
"""


# Lockstep run: rand/randn are shadowed (in a temporary folder, ahead of the reference on the path) so the
# original draws the initial voltages we give it and adds no voltage noise; our simulator gets the same.
LOCKSTEP_RAND = """function x = rand(varargin)
  global LOCKSTEP_UNIFORM
  x = LOCKSTEP_UNIFORM;
end
"""
LOCKSTEP_RANDN = """function x = randn(varargin)
  x = zeros(varargin{:});
end
"""
LOCKSTEP_DRIVER = r"""
more off;
warning('off', 'Octave:shadowed-function');
addpath('{reference_dir}');
addpath('{shadow_dir}');
global LOCKSTEP_UNIFORM
data = load('{inputs_file}');
LOCKSTEP_UNIFORM = data.uniform(:);
stims = struct('mode', 'none');
factors = data.factors(:)';
outs = [];
spikes = {{}};
volts = {{}};
for f = 1:numel(factors)
  [W, REC, spk, rs, all_fr, out, params] = LIF_network_fnc('{model_file}', factors(f), data.u, stims, 1, false);
  outs(f, 1:numel(out)) = out;
  [unit, step] = find(spk);
  spikes{{f}} = [unit, step];
  volts{{f}} = REC(:, 1:min({voltage_steps}, size(REC, 2)));
end
dt = params.dt;
save('-7', '{result_file}', 'outs', 'spikes', 'volts', 'dt');
"""


@dataclass
class FidelityConfig:
    """What to compare: one model, its scaling factors and trial counts, and how to judge them."""

    model: Path
    reference_dir: Path
    factors: list[float] = field(default_factory=lambda: [25.0, 40.0])
    trials_per_type: int = 30
    seed: int = 0
    octave: str = "octave"
    alpha: float = 0.01
    correction: str = "none"
    threads: int = 1
    lockstep: bool = True
    backend: str | None = None  # SpikingRNN.simulate's backend; None = its default
    verbose: bool = True

    def validate(self) -> None:
        """Fail before any simulation when an input is unusable."""
        if not self.model.is_file():
            raise ValueError(f"--model {self.model} is not a file")
        if not (self.reference_dir / REFERENCE_FUNCTION).is_file():
            raise ValueError(f"--reference-dir {self.reference_dir} holds no {REFERENCE_FUNCTION}")
        if shutil.which(self.octave) is None:
            raise ValueError(f"--octave {self.octave!r} is not an executable")
        if not self.factors or any(not s > 0 for s in self.factors):
            raise ValueError(f"--factors must be positive numbers, got {self.factors}")
        if self.trials_per_type < 3:
            raise ValueError(f"--trials-per-type must be at least 3, got {self.trials_per_type}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"--alpha must lie in (0, 1), got {self.alpha}")
        if self.correction not in ("none", "holm", "bonferroni"):
            raise ValueError(f"--correction must be none, holm or bonferroni, got {self.correction!r}")


@dataclass
class TrialSummaries:
    """Per-trial summaries of one simulator at one factor (arrays over trials, in trial order)."""

    window_max: np.ndarray
    window_mean: np.ndarray
    correct: np.ndarray
    rate_exc_hz: np.ndarray
    rate_inh_hz: np.ndarray
    unit_counts: np.ndarray  # [n_trials, N]
    trace: np.ndarray  # [n_trials, n_cols - 1], readout at the end of every stimulus step
    seconds: float


@dataclass
class TestResult:
    """One statistical comparison of the reference (Octave) and our simulator."""

    factor: float
    trial_type: str
    metric: str
    test: str
    reference: dict[str, float]
    ours: dict[str, float]
    statistic: float
    p_value: float
    p_adjusted: float = float("nan")
    differs: bool = False


def log(config: FidelityConfig, message: str) -> None:
    """Progress on stderr, unless quiet."""
    if config.verbose:
        print(message, file=sys.stderr, flush=True)


def make_conditions(trials_per_type: int) -> np.ndarray:
    """Alternating Go (1) / NoGo (0) trial types, ``trials_per_type`` of each."""
    return np.tile([1, 0], trials_per_type)


def octave_string(value: str | os.PathLike) -> str:
    """Quote a path for a single-quoted Octave string."""
    return str(value).replace("'", "''")


def run_octave(config: FidelityConfig, script: Path, result_file: Path, label: str) -> float:
    """Run an Octave script single-threaded (stdout streamed to the log); returns its wall time in seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [config.octave, "--no-gui", "--no-window-system", "--quiet", "--no-init-file", str(script)]
    stderr_file = script.with_suffix(".stderr")
    start = time.perf_counter()
    with (
        stderr_file.open("w") as stderr_sink,
        subprocess.Popen(
            command, cwd=script.parent, env=env, stdout=subprocess.PIPE, stderr=stderr_sink, text=True
        ) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            log(config, line.rstrip())
    elapsed = time.perf_counter() - start
    stderr = "\n".join(line for line in stderr_file.read_text().splitlines() if OCTAVE_EXIT_NOISE not in line)
    if process.returncode != 0 or not result_file.is_file():
        raise RuntimeError(f"octave failed (exit {process.returncode}) at {label}:\n{stderr}")
    return elapsed


def run_reference(
    config: FidelityConfig,
    factor: float,
    inputs: np.ndarray,
    conditions: np.ndarray,
    window_start: int,
    stride: int,
    seed: int,
    workdir: Path,
) -> tuple[TrialSummaries, dict[str, np.ndarray]]:
    """Run every trial through the original ``LIF_network_fnc`` in one Octave process.

    ``inputs`` is [n_trials, C, n_in] on the stimulus grid; ``window_start`` is the 1-based first LIF
    step of the scoring window. Returns the summaries and the transferred parameters of trial 1.
    """
    tag = f"s{factor:g}".replace(".", "p")
    inputs_file = workdir / f"inputs_{tag}.mat"
    result_file = workdir / f"reference_{tag}.mat"
    driver = workdir / f"driver_{tag}.m"
    scipy.io.savemat(
        inputs_file, {"inputs": inputs.transpose(0, 2, 1).astype(float), "conditions": conditions.astype(float)}
    )
    driver.write_text(
        OCTAVE_DRIVER.format(
            reference_dir=octave_string(config.reference_dir.resolve()),
            inputs_file=octave_string(inputs_file),
            model_file=octave_string(config.model.resolve()),
            result_file=octave_string(result_file),
            seed=seed,
            factor=repr(float(factor)),
            factor_label=f"{factor:g}",
            window_start=window_start,
            stride=stride,
            progress_every=10,
        )
    )
    elapsed = run_octave(config, driver, result_file, f"s={factor:g}")
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


def simulate_options(config: FidelityConfig) -> dict[str, str]:
    """Extra keyword arguments for ``SpikingRNN.simulate``."""
    return {} if config.backend is None else {"backend": config.backend}


def run_ours(
    config: FidelityConfig,
    network: SpikingRNN,
    inputs: torch.Tensor,
    conditions: torch.Tensor,
    seed: int,
) -> dict[float, TrialSummaries]:
    """Simulate all trials at all factors in one pass of our simulator and summarise them like Octave does."""
    factors = config.factors
    task = get_task("go_nogo")
    dt_ms = network.params.dt_ms
    start = time.perf_counter()
    result = network.simulate(
        inputs, torch.tensor(list(factors)), generator=torch.Generator().manual_seed(seed), **simulate_options(config)
    )
    elapsed = time.perf_counter() - start
    correct = task.score(result.readout, conditions, dt_ms, "spiking")
    window = result.readout[..., first_index(task.scoring_window("spiking").from_ms, dt_ms, "spiking") :]
    rates = result.firing_rates_hz()
    inhibitory = network.inhibitory
    stride = network.steps_per_column
    out: dict[float, TrialSummaries] = {}
    for i, factor in enumerate(factors):
        out[float(factor)] = TrialSummaries(
            window_max=window[i].amax(-1).double().numpy(),
            window_mean=window[i].double().mean(-1).numpy(),
            correct=correct[i].numpy().astype(bool),
            rate_exc_hz=rates[i][:, ~inhibitory].double().mean(-1).numpy(),
            rate_inh_hz=rates[i][:, inhibitory].double().mean(-1).numpy(),
            unit_counts=result.spike_counts[i].double().numpy(),
            trace=result.readout[i, :, stride - 1 :: stride].double().numpy(),
            seconds=elapsed / len(factors),
        )
    return out


def check_parameters(
    network: SpikingRNN, factor: float, duration_s: float, reference: dict[str, np.ndarray]
) -> dict[str, float]:
    """Largest relative differences between the reference's transferred parameters and ours."""

    def rel(ours: torch.Tensor, theirs: np.ndarray) -> float:
        ours_np = ours.double().numpy().reshape(theirs.shape)
        return float(np.max(np.abs(ours_np - theirs)) / max(np.max(np.abs(theirs)), 1e-300))

    return {
        "w_scaled": rel(network.w_eff / factor, reference["w_scaled"]),
        "tau_d": rel(network.tau_d_ms / 1000.0, reference["tau_d_s"]),
        "w_out": rel(network.w_out, reference["w_out"]),
        "duration_s": abs(float(reference["duration_s"][0]) - duration_s) / duration_s,
        "dt": abs(float(reference["dt_s"][0]) * 1000.0 - network.params.dt_ms) / network.params.dt_ms,
    }


def describe(values: np.ndarray) -> dict[str, float]:
    """Mean, SD (ddof 1) and n of a sample."""
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)), "n": int(values.size)}


def safe_p(p: float, a: np.ndarray, b: np.ndarray) -> float:
    """A NaN p (both samples constant) means no difference if they are equal, a sure one otherwise."""
    if np.isfinite(p):
        return float(p)
    return 1.0 if np.allclose(np.mean(a), np.mean(b)) else 0.0


def compare_samples(
    factor: float, trial_type: str, metric: str, reference: np.ndarray, ours: np.ndarray
) -> list[TestResult]:
    """Welch t-test on the means; for readout statistics also Brown-Forsythe on the spreads."""
    t = stats.ttest_ind(reference, ours, equal_var=False)
    results = [
        TestResult(
            factor,
            trial_type,
            metric,
            "Welch t",
            describe(reference),
            describe(ours),
            float(t.statistic),
            safe_p(t.pvalue, reference, ours),
        )
    ]
    if metric.startswith("window"):
        lev = stats.levene(reference, ours, center="median")
        results.append(
            TestResult(
                factor,
                trial_type,
                f"{metric} SD",
                "Brown-Forsythe",
                describe(reference),
                describe(ours),
                float(lev.statistic),
                safe_p(lev.pvalue, reference, ours),
            )
        )
    return results


def compare_accuracy(factor: float, trial_type: str, reference: np.ndarray, ours: np.ndarray) -> TestResult:
    """Fisher exact test on the 2×2 table of correct / wrong trials."""
    table = [[int(reference.sum()), int((~reference).sum())], [int(ours.sum()), int((~ours).sum())]]
    fisher = stats.fisher_exact(table)
    summary = lambda x: {"mean": float(x.mean()), "correct": int(x.sum()), "n": int(x.size)}  # noqa: E731
    return TestResult(
        factor,
        trial_type,
        "accuracy",
        "Fisher exact",
        summary(reference),
        summary(ours),
        float(fisher.statistic),
        float(fisher.pvalue),
    )


def adjust(results: list[TestResult], alpha: float, correction: str) -> None:
    """Fill ``p_adjusted`` and ``differs`` (Holm step-down, Bonferroni, or none)."""
    m = len(results)
    p = np.array([r.p_value for r in results])
    if correction == "bonferroni":
        adjusted = np.minimum(p * m, 1.0)
    elif correction == "holm":
        order = np.argsort(p)
        steps = np.maximum.accumulate(np.minimum(p[order] * (m - np.arange(m)), 1.0))
        adjusted = np.empty(m)
        adjusted[order] = steps
    else:
        adjusted = p
    for result, q in zip(results, adjusted, strict=True):
        result.p_adjusted = float(q)
        result.differs = bool(q < alpha)


def describe_agreement(
    reference: TrialSummaries, ours: TrialSummaries, mask_ref: np.ndarray, mask_ours: np.ndarray
) -> dict[str, float]:
    """Descriptive (untested) agreement: readout trace and per-unit mean rates across trials."""
    trace_ref, trace_ours = reference.trace[mask_ref], ours.trace[mask_ours]
    se = np.sqrt(trace_ref.var(0, ddof=1) / len(trace_ref) + trace_ours.var(0, ddof=1) / len(trace_ours))
    gap = np.abs(trace_ref.mean(0) - trace_ours.mean(0))
    counts_ref, counts_ours = reference.unit_counts[mask_ref].mean(0), ours.unit_counts[mask_ours].mean(0)
    both = (counts_ref.std() > 0) and (counts_ours.std() > 0)
    return {
        "trace_max_abs_gap": float(gap.max()),
        "trace_max_gap_over_se": float(np.max(gap / np.maximum(se, 1e-12))),
        "unit_rate_pearson_r": float(np.corrcoef(counts_ref, counts_ours)[0, 1]) if both else float("nan"),
    }


def refractory_mismatches(
    spikes: np.ndarray, n_units: int, dt_s: float, refractory_steps: int, n_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where the original's refractory periods end on a different step than ours.

    The original integrates unit i at step k iff ``dt*k > tlast + tref`` in float64 (``tref`` =
    ``REFERENCE_T_REF_S``), with ``tlast ← tlast + (dt*j − tlast)`` at a spike at step j (tlast = 0 at
    the start, j = 0); we integrate again at step j + ``refractory_steps`` + 1. For ~1-2 % of spikes the
    float64 test already passes one step earlier (a 39-step, 1.95-ms refractory period).
    ``spikes`` is [n, 2] (unit, step), 1-based.
    Returns, per unit, the first 0-based step at which its history differs from ours (``n_steps`` if
    never), and for each refractory period (every spike and each unit's start) its start step (0 at the
    start) and whether its end differs.
    """
    first = np.full(n_units, n_steps)
    starts, differs = [], []
    for unit in range(1, n_units + 1):
        tlast = 0.0
        for j in [0, *sorted(spikes[spikes[:, 0] == unit, 1].tolist())]:
            tlast = tlast + (dt_s * j - tlast)
            k = j + 1
            while not dt_s * k > tlast + REFERENCE_T_REF_S:
                k += 1
            ours = j + refractory_steps + 1
            starts.append(j)
            differs.append(k != ours)
            if k != ours:
                first[unit - 1] = min(first[unit - 1], min(k, ours) - 1)
    return first, np.column_stack([starts, differs]).astype(int)


def compare_lockstep(
    factor: float,
    reference_spikes: np.ndarray,
    reference_out: np.ndarray,
    reference_voltage: np.ndarray,
    spikes: torch.Tensor,
    voltage: torch.Tensor,
    readout: torch.Tensor,
    early_end: np.ndarray,
    periods: np.ndarray,
    v_th_mv: float,
) -> dict:
    """Step-by-step comparison of one noise-free trial run from the same initial voltages.

    Up to the first step where the spike rasters differ (within the recorded reference voltages), every
    voltage must agree to ``LOCKSTEP_VOLTAGE_TOL`` mV (a unit only until the original ends one of its
    refractory periods early) and the readout to ``LOCKSTEP_READOUT_RTOL``. The first differing spike must
    be explained: by such an early refractory end of its unit, or by a float32/float64 threshold tie (the
    simulator that did not spike was within ``LOCKSTEP_VOLTAGE_TOL`` of threshold). Refractory periods
    that end on another step than ours (``periods``, see ``refractory_mismatches``) must stay rare
    (≤ ``LOCKSTEP_MAX_REFRACTORY_MISMATCH`` of those begun in the identical stretch).
    ``reference_voltage`` is [N, M] (the original's REC, 30 mV at spikes); our tensors are [n_steps, …].
    """
    n_steps, n_units = spikes.shape
    ours = spikes.numpy()
    theirs = np.zeros_like(ours)
    theirs[reference_spikes[:, 1] - 1, reference_spikes[:, 0] - 1] = True
    differing = np.flatnonzero((ours != theirs).any(1))
    first = int(differing[0]) if differing.size else None
    window = n_steps if first is None else first
    recorded = min(window, reference_voltage.shape[1])
    v_ours = voltage[:recorded].double().numpy()
    v_theirs = reference_voltage[:, :recorded].T
    same_history = np.arange(recorded)[:, None] < early_end[None, :]
    mask = same_history & ~theirs[:recorded] & ~ours[:recorded]
    voltage_gap = float(np.max(np.abs(v_ours - v_theirs), where=mask, initial=0.0))
    scale = float(np.max(np.abs(reference_out))) or 1.0
    readout_gap = float(np.max(np.abs(readout[:window].double().numpy() - reference_out[:window]), initial=0.0))
    explanation = "none needed"
    units: list[int] = []
    if first is not None:
        units = np.flatnonzero(ours[first] != theirs[first]).tolist()
        reasons = []
        for unit in units:
            if early_end[unit] <= first:
                reasons.append("early refractory end in the original")
                continue
            silent = float(voltage[first, unit]) if theirs[first, unit] else None
            if silent is None and first < reference_voltage.shape[1]:
                silent = float(reference_voltage[unit, first])
            near = silent is not None and v_th_mv - silent <= LOCKSTEP_VOLTAGE_TOL
            reasons.append("threshold tie (float precision)" if near else "UNEXPLAINED")
        explanation = "; ".join(sorted(set(reasons)))
    begun = periods[:, 0] < window
    mismatch_fraction = float(periods[begun, 1].mean()) if begun.any() else 0.0
    passed = (
        mismatch_fraction <= LOCKSTEP_MAX_REFRACTORY_MISMATCH
        and voltage_gap <= LOCKSTEP_VOLTAGE_TOL
        and readout_gap / scale <= LOCKSTEP_READOUT_RTOL
        and "UNEXPLAINED" not in explanation
    )
    return {
        "factor": float(factor),
        "spikes_reference": int(theirs.sum()),
        "spikes_ours": int(ours.sum()),
        "identical_steps": window,
        "identical_spikes": int(theirs[:window].sum()),
        "voltage_compared_steps": recorded,
        "voltage_max_abs_diff_mv": voltage_gap,
        "readout_max_rel_diff": readout_gap / scale,
        "units_with_early_refractory_end_before": int((early_end < window).sum()),
        "refractory_periods_begun": int(begun.sum()),
        "refractory_mismatch_fraction": mismatch_fraction,
        "first_difference_step": None if first is None else first + 1,
        "first_difference_units": [u + 1 for u in units],
        "first_difference_explanation": explanation,
        "passed": bool(passed),
    }


def run_lockstep(config: FidelityConfig, network: SpikingRNN, probe: torch.Tensor, workdir: Path) -> list[dict]:
    """One noise-free trial of input ``probe`` [C, n_in] per factor from identical initial voltages in both
    simulators."""
    p = network.params
    uniform = np.random.default_rng(config.seed).random(network.n_units)
    shadow = workdir / "lockstep_shadow"
    shadow.mkdir()
    (shadow / "rand.m").write_text(LOCKSTEP_RAND)
    (shadow / "randn.m").write_text(LOCKSTEP_RANDN)
    inputs_file, result_file, driver = (workdir / n for n in ("lockstep_in.mat", "lockstep.mat", "lockstep.m"))
    scipy.io.savemat(
        inputs_file,
        {
            "uniform": uniform[:, None],
            "factors": np.asarray(config.factors, dtype=float),
            "u": probe.T.double().numpy(),
        },
    )
    driver.write_text(
        LOCKSTEP_DRIVER.format(
            reference_dir=octave_string(config.reference_dir.resolve()),
            shadow_dir=octave_string(shadow),
            inputs_file=octave_string(inputs_file),
            model_file=octave_string(config.model.resolve()),
            result_file=octave_string(result_file),
            voltage_steps=LOCKSTEP_VOLTAGE_STEPS,
        )
    )
    run_octave(config, driver, result_file, "lockstep")
    data = scipy.io.loadmat(result_file)
    v0 = torch.as_tensor(p.v_init_min_mv + uniform * (p.v_init_max_mv - p.v_init_min_mv)).float()
    result = network.simulate(
        probe[None],
        torch.tensor(config.factors),
        record=("spikes", "voltage"),
        noise=False,
        initial_voltage_mv=v0,
        **simulate_options(config),
    )
    dt_s = float(np.asarray(data["dt"]).item())
    reports = []
    for i, factor in enumerate(config.factors):
        reference_spikes = np.asarray(data["spikes"][0, i], dtype=int).reshape(-1, 2)
        early_end, periods = refractory_mismatches(
            reference_spikes, network.n_units, dt_s, p.refractory_steps, result.spikes.shape[-2]
        )
        reports.append(
            compare_lockstep(
                factor,
                reference_spikes,
                np.asarray(data["outs"][i], dtype=float),
                np.asarray(data["volts"][0, i], dtype=float),
                result.spikes[i, 0],
                result.voltage[i, 0],
                result.readout[i, 0],
                early_end,
                periods,
                p.v_th_mv,
            )
        )
    return reports


def run_comparison(config: FidelityConfig) -> dict:
    """Run both simulators and compare them; returns the JSON-ready report."""
    config.validate()
    torch.set_num_threads(config.threads)
    task = get_task("go_nogo")
    model = import_mat(config.model)
    network = to_spiking(model)
    conditions = make_conditions(config.trials_per_type)
    trials = task.make_trials(
        len(conditions), torch.Generator().manual_seed(config.seed), conditions=torch.as_tensor(conditions)
    )
    reference_go = np.zeros(task.n_steps + 1)
    reference_go[50:75] = 1.0  # the original's u(51:75) = 1
    go_rows = trials.inputs[conditions == 1, :, 0].numpy()
    if not (np.all(go_rows == reference_go) and np.all(trials.inputs[conditions == 0].numpy() == 0)):
        raise RuntimeError("our Go-NoGo inputs differ from the original's u(51:75) = 1 pulse")
    dt_ms = network.params.dt_ms
    window_start = first_index(task.scoring_window("spiking").from_ms, dt_ms, "spiking") + 1
    stride = network.steps_per_column

    reference: dict[float, TrialSummaries] = {}
    parameter_checks: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="spikernn-fidelity-") as tmp:
        for i, factor in enumerate(config.factors):
            log(config, f"reference (Octave) at s={factor:g}: {len(conditions)} trials")
            summaries, parameters = run_reference(
                config,
                factor,
                trials.inputs.numpy(),
                conditions,
                window_start,
                stride,
                config.seed + 1 + i,
                Path(tmp),
            )
            reference[float(factor)] = summaries
            parameter_checks[f"{factor:g}"] = check_parameters(network, factor, task.duration_ms / 1000.0, parameters)
        lockstep: list[dict] = []
        if config.lockstep:
            log(config, "lockstep: one noise-free probe trial per factor from the same initial voltages")
            probe = torch.zeros_like(trials.inputs[0])
            probe[PROBE_COLUMNS] = 1.0
            lockstep = run_lockstep(config, network, probe, Path(tmp))
    log(config, f"ours at s={', '.join(f'{s:g}' for s in config.factors)}: {len(conditions)} trials each")
    ours = run_ours(config, network, trials.inputs, trials.labels, config.seed + 1000)

    results: list[TestResult] = []
    agreement: dict[str, dict[str, dict[str, float]]] = {}
    for factor in map(float, config.factors):
        ref, our = reference[factor], ours[factor]
        agreement[f"{factor:g}"] = {}
        for label, name in TRIAL_TYPES.items():
            mask = conditions == label
            results.append(compare_accuracy(factor, name, ref.correct[mask], our.correct[mask]))
            for metric, attribute in (
                ("window max", "window_max"),
                ("window mean", "window_mean"),
                ("E rate (Hz)", "rate_exc_hz"),
                ("I rate (Hz)", "rate_inh_hz"),
            ):
                results.extend(
                    compare_samples(factor, name, metric, getattr(ref, attribute)[mask], getattr(our, attribute)[mask])
                )
            agreement[f"{factor:g}"][name] = describe_agreement(ref, our, mask, mask)
    adjust(results, config.alpha, config.correction)
    parameters_ok = all(v <= PARAMETER_RTOL for check in parameter_checks.values() for v in check.values())
    n_differ = sum(r.differs for r in results)
    lockstep_ok = all(entry["passed"] for entry in lockstep)
    return {
        "config": {**asdict(config), "model": str(config.model), "reference_dir": str(config.reference_dir)},
        "n_tests": len(results),
        "n_differ": n_differ,
        "expected_false_alarms": len(results) * config.alpha if config.correction == "none" else config.alpha,
        "parameters_ok": parameters_ok,
        "parameter_max_rel_diff": parameter_checks,
        "lockstep_ok": lockstep_ok,
        "lockstep": lockstep,
        "seconds": {
            "reference": {f"{s:g}": reference[float(s)].seconds for s in config.factors},
            "ours": sum(ours[float(s)].seconds for s in config.factors),
        },
        "descriptive_agreement": agreement,
        "tests": [asdict(r) for r in results],
        "passed": parameters_ok and lockstep_ok and n_differ == 0,
    }


def format_report(report: dict) -> str:
    """A fixed-width table of every comparison, then the verdict."""
    head = (
        f"{'s':>4} {'type':<5} {'metric':<15} {'reference':>17} {'ours':>17} {'test':<14} "
        f"{'stat':>8} {'p':>8} {'p_adj':>8}  verdict"
    )
    lines = [head, "-" * len(head)]
    for r in report["tests"]:
        if r["metric"] == "accuracy":
            ref = f"{r['reference']['correct']}/{r['reference']['n']} ({r['reference']['mean']:.2f})"
            our = f"{r['ours']['correct']}/{r['ours']['n']} ({r['ours']['mean']:.2f})"
        else:
            ref = f"{r['reference']['mean']:.3f} ± {r['reference']['sd']:.3f}"
            our = f"{r['ours']['mean']:.3f} ± {r['ours']['sd']:.3f}"
        lines.append(
            f"{r['factor']:>4g} {r['trial_type']:<5} {r['metric']:<15} {ref:>17} {our:>17} {r['test']:<14} "
            f"{r['statistic']:>8.3g} {r['p_value']:>8.3g} {r['p_adjusted']:>8.3g}  "
            f"{'DIFFERS' if r['differs'] else 'ok'}"
        )
    lines.append("")
    for factor, checks in report["parameter_max_rel_diff"].items():
        pretty = ", ".join(f"{k} {v:.1e}" for k, v in checks.items())
        lines.append(f"parameters at s={factor}: max relative difference {pretty}")
    for entry in report["lockstep"]:
        first = entry["first_difference_step"]
        lines.append(
            f"lockstep s={entry['factor']:g}: identical for {entry['identical_steps']} steps "
            f"({entry['identical_spikes']} spikes), max |Δv| {entry['voltage_max_abs_diff_mv']:.1e} mV over "
            f"{entry['voltage_compared_steps']} steps, readout rel. gap {entry['readout_max_rel_diff']:.1e}; "
            f"first difference at step {first if first is not None else '-'} "
            f"(units {entry['first_difference_units']}: {entry['first_difference_explanation']}; "
            f"{entry['units_with_early_refractory_end_before']} units had an early refractory end before; "
            f"{entry['refractory_mismatch_fraction']:.1%} of {entry['refractory_periods_begun']} refractory "
            "periods end on another step): "
            f"{'ok' if entry['passed'] else 'DIFFERS'}"
        )
    for factor, per_type in report["descriptive_agreement"].items():
        for name, a in per_type.items():
            lines.append(
                f"descriptive s={factor} {name}: mean-trace max gap {a['trace_max_abs_gap']:.3f} "
                f"({a['trace_max_gap_over_se']:.1f} SE), per-unit rate r = {a['unit_rate_pearson_r']:.3f}"
            )
    cfg = report["config"]
    seconds = report["seconds"]
    lines.append(f"our backend: {cfg['backend'] or 'default'}")
    lines.append(
        f"time: Octave {', '.join(f's={k}: {v:.0f} s' for k, v in seconds['reference'].items())}; "
        f"ours {seconds['ours']:.0f} s"
    )
    lines.append(
        f"{report['n_tests']} tests at alpha={cfg['alpha']} (correction: {cfg['correction']}; "
        f"≈{report['expected_false_alarms']:.2f} false alarms expected if the simulators agree): "
        f"{report['n_differ']} differ; parameters {'agree' if report['parameters_ok'] else 'DIFFER'}; "
        f"lockstep {'agrees' if report['lockstep_ok'] else 'DIFFERS'}"
    )
    lines.append("PASS" if report["passed"] else "FAIL")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[FidelityConfig, Path | None]:
    """Command line → (config, path of the JSON report)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="Go-NoGo model in the reference .mat layout")
    parser.add_argument("--reference-dir", type=Path, required=True, help=f"folder holding {REFERENCE_FUNCTION}")
    parser.add_argument("--factors", type=float, nargs="+", default=[25.0, 40.0], help="scaling factors s")
    parser.add_argument("--trials-per-type", type=int, default=30, help="Go trials and NoGo trials per factor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON report to write")
    parser.add_argument("--octave", default="octave", help="Octave executable")
    parser.add_argument("--alpha", type=float, default=0.01, help="a comparison differs if p < alpha")
    parser.add_argument(
        "--correction",
        choices=("none", "holm", "bonferroni"),
        default="none",
        help="multiple-comparison correction of the p-values",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for our simulator")
    parser.add_argument("--backend", help="our simulator's backend (SpikingRNN.simulate); default: its own default")
    parser.add_argument("--no-lockstep", action="store_true", help="skip the noise-free spike-by-spike run")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    config = FidelityConfig(
        model=args.model,
        reference_dir=args.reference_dir,
        factors=args.factors,
        trials_per_type=args.trials_per_type,
        seed=args.seed,
        octave=args.octave,
        alpha=args.alpha,
        correction=args.correction,
        threads=args.threads,
        lockstep=not args.no_lockstep,
        backend=args.backend,
        verbose=not args.quiet,
    )
    return config, args.out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison, print the table, write the JSON; 0 = agree, 1 = differ, 2 = error."""
    config, out = parse_args(argv)
    start = time.perf_counter()
    try:
        report = run_comparison(config)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report["seconds"]["total"] = time.perf_counter() - start
    print(format_report(report))
    print(f"wall time {report['seconds']['total']:.0f} s")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
