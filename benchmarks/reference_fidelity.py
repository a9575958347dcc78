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

This file is the command (its options, both runs, the report); the statistics are in
``fidelity_statistics.py``, the lockstep analysis in ``fidelity_lockstep.py``, and the Octave side in
``fidelity_octave.py`` with its drivers in ``reference_fidelity/``.

The original code is never copied here: pass the folder that holds ``LIF_network_fnc.m``::

    python benchmarks/reference_fidelity.py --model go.mat --reference-dir /tmp/ref/spiking --out fidelity.json

Exit status: 0 if nothing differs at ``--alpha``, 1 if some comparison does, 2 on a usage or run error.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from fidelity_lockstep import LOCKSTEP_VOLTAGE_STEPS, compare_lockstep, refractory_mismatches
from fidelity_octave import REFERENCE_FUNCTION, ReferenceSimulator
from fidelity_statistics import (
    TestResult,
    TrialSummaries,
    adjust,
    compare_accuracy,
    compare_samples,
    describe_agreement,
)
from spikernn.io import import_mat
from spikernn.spiking import SpikingRNN
from spikernn.tasks import get_task
from spikernn.tasks.base import first_index
from spikernn.transfer import to_spiking

TRIAL_TYPES = {1: "Go", 0: "NoGo"}
PARAMETER_RTOL = 1e-5  # our network holds float32 copies of the float64 reference parameters
# Lockstep probe input: 1 on stimulus columns 2-7 (LIF steps 150-749), so its onset and offset fall
# in the first ~50 ms, before float32/float64 and the original's refractory rounding make the runs part.
PROBE_COLUMNS = slice(2, 8)


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


def log(config: FidelityConfig, message: str) -> None:
    """Progress on stderr, unless quiet."""
    if config.verbose:
        print(message, file=sys.stderr, flush=True)


def make_conditions(trials_per_type: int) -> np.ndarray:
    """Alternating Go (1) / NoGo (0) trial types, ``trials_per_type`` of each."""
    return np.tile([1, 0], trials_per_type)


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


def run_lockstep(
    config: FidelityConfig, network: SpikingRNN, reference: ReferenceSimulator, probe: torch.Tensor
) -> list[dict]:
    """One noise-free trial of input ``probe`` [C, n_in] per factor from identical initial voltages in both
    simulators."""
    p = network.params
    uniform = np.random.default_rng(config.seed).random(network.n_units)
    data = reference.lockstep(config.factors, uniform, probe.double().numpy(), LOCKSTEP_VOLTAGE_STEPS)
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
        octave = ReferenceSimulator(
            config.octave, config.reference_dir, config.model, Path(tmp), lambda message: log(config, message)
        )
        for i, factor in enumerate(config.factors):
            log(config, f"reference (Octave) at s={factor:g}: {len(conditions)} trials")
            summaries, parameters = octave.trials(
                factor, trials.inputs.numpy(), conditions, window_start, stride, config.seed + 1 + i
            )
            reference[float(factor)] = summaries
            parameter_checks[f"{factor:g}"] = check_parameters(network, factor, task.duration_ms / 1000.0, parameters)
        lockstep: list[dict] = []
        if config.lockstep:
            log(config, "lockstep: one noise-free probe trial per factor from the same initial voltages")
            probe = torch.zeros_like(trials.inputs[0])
            probe[PROBE_COLUMNS] = 1.0
            lockstep = run_lockstep(config, network, octave, probe)
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
