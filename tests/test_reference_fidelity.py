"""Our spiking simulator against the original MATLAB ``LIF_network_fnc.m`` run under GNU Octave
(benchmarks/reference_fidelity.py, with fidelity_statistics.py, fidelity_lockstep.py, fidelity_octave.py
and the Octave drivers in benchmarks/reference_fidelity/).

The comparison itself needs Octave and ``SPIKERNN_REFERENCE_DIR`` = a folder holding ``LIF_network_fnc.m``
(rkim35/spikeRNN, ``spiking/``); its model is ``SPIKERNN_REFERENCE_MODEL`` (a reference-layout Go-NoGo
.mat) when set, else an untrained seeded network exported here. About a minute. The checks' own logic
is tested without Octave.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from spikernn.io import export_mat
from spikernn.rate import RateRNN, RateRNNConfig

REFERENCE_DIR = os.environ.get("SPIKERNN_REFERENCE_DIR")
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_module(name: str) -> ModuleType:
    """A module of benchmarks/ (scripts, not a package: imported with that folder on the path, as
    ``python benchmarks/reference_fidelity.py`` runs them)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return benchmark_module("reference_fidelity")


@pytest.fixture(scope="module")
def statistics() -> ModuleType:
    return benchmark_module("fidelity_statistics")


@pytest.fixture(scope="module")
def lockstep() -> ModuleType:
    return benchmark_module("fidelity_lockstep")


def test_holm_correction(statistics: ModuleType) -> None:
    results = [statistics.TestResult(25.0, "Go", "m", "t", {}, {}, 0.0, p) for p in (0.004, 0.03, 0.002, 0.5)]
    statistics.adjust(results, alpha=0.01, correction="holm")
    assert [r.p_adjusted for r in results] == pytest.approx([0.012, 0.06, 0.008, 0.5])
    assert [r.differs for r in results] == [False, False, True, False]


def test_refractory_mismatch_follows_the_originals_float64_test(lockstep: ModuleType) -> None:
    """A spike at step 381 after one at step 1: the original's ``dt*k > tlast + tref`` already holds at
    k = 421, one step before our 40-step refractory period ends (k = 422)."""
    spikes = np.array([[1, 1], [1, 381], [2, 1]])
    first, periods = lockstep.refractory_mismatches(spikes, n_units=3, dt_s=0.00005, refractory_steps=40, n_steps=2000)
    assert first.tolist() == [420, 2000, 2000]
    assert sorted(map(tuple, periods.tolist())) == [(0, 0), (0, 0), (0, 0), (1, 0), (1, 0), (381, 1)]


def lockstep_case(lockstep: ModuleType, shift_spike: bool, near_threshold: bool = False) -> dict:
    """Two units, 100 steps; unit 1 spikes at step 50 in the original and (maybe) at 51 in ours."""
    n_steps, voltage = 100, torch.full((100, 2), -50.0)
    spikes = torch.zeros(n_steps, 2, dtype=torch.bool)
    spikes[50 if shift_spike else 49, 0] = True
    reference_voltage = np.full((2, n_steps), -50.0)
    reference_voltage[0, 49] = 30.0
    if near_threshold:
        voltage[49, 0] = -40.0005
    out = np.linspace(0.0, 1.0, n_steps)
    return lockstep.compare_lockstep(
        25.0,
        np.array([[1, 50]]),
        out,
        reference_voltage,
        spikes,
        voltage,
        torch.as_tensor(out),
        np.full(2, n_steps),
        np.array([[0, 0], [0, 0], [50, 0]]),
        -40.0,
    )


def test_lockstep_accepts_identical_runs_and_flags_unexplained_spikes(lockstep: ModuleType) -> None:
    same = lockstep_case(lockstep, shift_spike=False)
    assert same["passed"] and same["first_difference_step"] is None and same["identical_spikes"] == 1
    shifted = lockstep_case(lockstep, shift_spike=True)
    assert not shifted["passed"] and shifted["first_difference_step"] == 50
    assert shifted["first_difference_explanation"] == "UNEXPLAINED"
    tie = lockstep_case(lockstep, shift_spike=True, near_threshold=True)
    assert tie["passed"] and tie["first_difference_explanation"] == "threshold tie (float precision)"


def test_octave_drivers_are_functions_named_after_their_files_and_get_exact_literals() -> None:
    """Octave runs a function file only if the function is named after it; paths with quotes and
    factors must reach the drivers unchanged."""
    octave = benchmark_module("fidelity_octave")
    drivers = sorted(octave.DRIVERS.rglob("*.m"))
    assert {d.stem for d in drivers} == {"reference_trials", "lockstep_trials", "rand", "randn"}
    for driver in drivers:
        assert re.match(rf"function (\w+ = )?{driver.stem}\(", driver.read_text()), driver
    assert octave.octave_literal(Path("/tmp/it's")) == "'/tmp/it''s'"
    assert float(octave.octave_literal(0.1 + 0.2)) == 0.1 + 0.2 and octave.octave_literal(7) == "7"


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    """The reference-layout model to compare on."""
    given = os.environ.get("SPIKERNN_REFERENCE_MODEL")
    if given:
        return Path(given)
    return export_mat(tmp_path / "untrained.mat", RateRNN(RateRNNConfig(n_units=100), seed=3))


@pytest.mark.slow
@pytest.mark.skipif(
    not REFERENCE_DIR or not (Path(REFERENCE_DIR) / "LIF_network_fnc.m").is_file(),
    reason="SPIKERNN_REFERENCE_DIR does not point to a folder holding LIF_network_fnc.m",
)
@pytest.mark.skipif(shutil.which("octave") is None, reason="GNU Octave is not installed")
def test_spiking_simulator_matches_reference(bench: ModuleType, model_path: Path) -> None:
    """10 Go + 10 NoGo trials at one factor: no statistic differs (Holm, α = 0.01); the transferred
    parameters and the noise-free step-by-step run agree."""
    config = bench.FidelityConfig(
        model=model_path,
        reference_dir=Path(REFERENCE_DIR),
        factors=[25.0],
        trials_per_type=10,
        seed=0,
        correction="holm",
        verbose=False,
    )
    report = bench.run_comparison(config)
    table = bench.format_report(report)
    assert report["parameters_ok"], table
    assert report["lockstep_ok"], table
    assert report["n_tests"] == 14, table
    assert report["n_differ"] == 0, table
    assert report["passed"], table
