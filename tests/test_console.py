"""What a command shows: the JSON summary alone on stdout, messages and bars on stderr and in the
job log, no spurious tips or warnings, and an app-specific --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def command(name: str, args: list[str], out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(out)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", f"spikernn.apps.{name}", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_train_prints_the_summary_alone_and_logs_its_messages(tmp_path: Path) -> None:
    args = ["model.n_units=20", "trainer.max_trials=40", "trainer.batch_size=20", "eval_trials=4"]
    proc = command("train", args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)  # nothing else on stdout
    folder = Path(summary["run_folder"])
    assert summary["mlflow_run_id"] in proc.stderr
    assert "training" in proc.stderr  # the progress bar, on stderr
    for noise in ("Epoch 0/-2", "litlogger", "LeafSpec", "Downloading artifacts"):
        assert noise not in proc.stderr, noise
    job_log = (folder / "train.log").read_text()
    assert f"results in {folder}" in job_log and "GPU available" in job_log


@pytest.mark.parametrize(("name", "expected"), [("train", "trainer.resume_from"), ("convert", "models:/")])
def test_help_lists_the_commands_options_and_examples(tmp_path: Path, name: str, expected: str) -> None:
    proc = command(name, ["--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(f"spikernn-{name}: ")
    for part in ("== Main options ==", "== Examples ==", f"spikernn-{name} ", "== Config groups", expected):
        assert part in proc.stdout, part
    assert "powered by Hydra" not in proc.stdout


# torch._C: torch itself (a lazily loaded torch sits in sys.modules as a stub until first used)
HEAVY = ("torch._C", "scipy", "numba", "snntorch", "pytorch_lightning", "lightning_fabric", "mlflow", "matplotlib")
START = """
import sys
sys.argv = ["spikernn-{name}", *{args!r}]
from spikernn.apps.{name} import main
try:
    main()
except SystemExit as stop:
    print("exit", stop.code)
print("loaded", sorted(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("name", ["run", "train", "convert", "evaluate", "finetune"])
@pytest.mark.parametrize(
    "args", [["--help"], ["seed=-1"], ["source=/nowhere/rate_model.pt"]], ids=["help", "refused", "no-source"]
)
def test_help_and_a_refused_value_answer_without_torch_mlflow_or_matplotlib(
    tmp_path: Path, name: str, args: list[str]
) -> None:
    """A command's start is its imports: ``--help`` and a refused value (a bad seed, a model file
    that is not there) must not wait for the modules that only the work needs — torch, SciPy, numba,
    Lightning, MLflow, matplotlib: ~1 s instead of ~3 s (~10 s before any of them were deferred)."""
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(tmp_path)}
    code = START.format(name=name, args=args, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    lines = proc.stdout.splitlines()
    assert lines[-2] == ("exit 0" if args == ["--help"] else "exit 2"), proc.stderr[-2000:]
    assert lines[-1] == "loaded []"
    assert not list(tmp_path.iterdir())
