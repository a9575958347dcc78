"""Our spiking simulator against the original MATLAB ``LIF_network_fnc.m`` run under GNU Octave.

Needs Octave and ``SPIKERNN_REFERENCE_DIR`` = a folder holding ``LIF_network_fnc.m`` (rkim35/spikeRNN,
``spiking/``). The model is ``SPIKERNN_REFERENCE_MODEL`` (a reference-layout Go-NoGo .mat) when set,
else an untrained seeded network exported here. About a minute.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from spikernn.io import export_mat
from spikernn.rate import RateRNN, RateRNNConfig

REFERENCE_DIR = os.environ.get("SPIKERNN_REFERENCE_DIR")
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_fidelity.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not REFERENCE_DIR or not (Path(REFERENCE_DIR) / "LIF_network_fnc.m").is_file(),
        reason="SPIKERNN_REFERENCE_DIR does not point to a folder holding LIF_network_fnc.m",
    ),
    pytest.mark.skipif(shutil.which("octave") is None, reason="GNU Octave is not installed"),
]


def load_benchmark() -> ModuleType:
    """Import benchmarks/reference_fidelity.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location("reference_fidelity", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    """The reference-layout model to compare on."""
    given = os.environ.get("SPIKERNN_REFERENCE_MODEL")
    if given:
        return Path(given)
    return export_mat(tmp_path / "untrained.mat", RateRNN(RateRNNConfig(n_units=100), seed=3))


def test_spiking_simulator_matches_reference(model_path: Path) -> None:
    """10 Go + 10 NoGo trials at one factor: no statistic differs (Holm, α = 0.01), parameters and the
    noise-free spike-by-spike run agree."""
    bench = load_benchmark()
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
