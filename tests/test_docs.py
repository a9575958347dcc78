"""The documentation: the site builds in strict mode, and every worked example runs as written (tiny).

The examples in ``docs/examples/`` are executed in this process (as ``python <script> --tiny``
would run them, through ``runpy``) so that torch, MLflow and Lightning are imported once; the
commands they start are separate processes, as for a user. Output goes to a temporary folder.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
EXAMPLE_PAGES = {
    "train-convert-inspect": "train_convert_inspect.py",
    "import-reference": "import_reference_mat.py",
    "refractory-sweep": "refractory_sweep.py",
    "paper-figure": "paper_fig2b.py",
    "own-task": "own_task.py",
    "../population": "population_training.py",
    "../fine_tuning": "fine_tuning.py",
}


def test_site_builds_in_strict_mode_without_warnings(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert not re.search(r"^(WARNING|ERROR)", log, re.MULTILINE), log[-5000:]
    site = tmp_path / "site"
    for page in ("method", "parameters", "differences", "results", "operations", "examples", "api/rate", "api/spiking"):
        assert (site / page / "index.html").is_file(), page
    # the API reference is generated from the docstrings
    assert "search_scaling_factor" in (site / "api" / "transfer" / "index.html").read_text()
    # each example's page shows the script this file runs (its docstring's first line, verbatim)
    for page, script in EXAMPLE_PAGES.items():
        first_line = (EXAMPLES / script).read_text().split('"""')[1].splitlines()[0]
        assert first_line in (site / "examples" / page / "index.html").read_text(), page


COMMANDS = ("run", "train", "convert", "evaluate", "finetune")


def _keys(tree: dict, prefix: str) -> list[str]:
    return [
        k
        for key, v in tree.items()
        for k in (_keys(v, f"{prefix}{key}.") if isinstance(v, dict) else [f"{prefix}{key}"])
    ]


def test_every_config_key_is_documented() -> None:
    """Each key of every command's composed config (the groups' schemas and YAML files) is named on
    the parameter pages (unit, default, meaning)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from spikernn.apps.config import config_dir
    from spikernn.apps.schemas import without_unset_slots

    text = (ROOT / "docs" / "parameters.md").read_text() + (ROOT / "docs" / "fine_tuning.md").read_text()
    keys: set[str] = set()
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        for name in COMMANDS:
            config = without_unset_slots(OmegaConf.to_container(compose(name, overrides=["task=go_nogo"])))
            keys |= set(_keys(config, ""))
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"config keys not documented in docs/parameters.md or docs/fine_tuning.md: {missing}"


def test_no_reference_to_files_outside_the_repository() -> None:
    """A user's clone has only the repository: nothing may point into the folder beside it."""
    needle = re.compile(r"\.\./" + "shared|/work/" + "shared|" + "SPEC" + r"\.md")
    offenders = []
    for folder in ("docs", "src", "conf", "experiments", "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".md", ".py", ".yaml", ".yml", ".sh", ".txt"} and needle.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    for name in ("README.md", "mkdocs.yml", "pyproject.toml", "Makefile"):
        if needle.search((ROOT / name).read_text()):
            offenders.append(name)
    assert not offenders
    assert "docs/method.md" in (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output folder for all examples, as for a user: one MLflow store (created once, which
    costs seconds), one Optuna database."""
    return tmp_path_factory.mktemp("examples")


def run_example(name: str, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> str:
    """``python docs/examples/<name> --tiny`` with its outputs under ``out``; returns what it printed."""
    monkeypatch.setenv("SPIKERNN_OUTPUT_DIR", str(out))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), "--tiny"])
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.chdir(out)
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        mlflow.set_tracking_uri(None)  # an example may set it; it also sets MLFLOW_TRACKING_URI
    return capsys.readouterr().out


@pytest.mark.slow  # launches commands (~40-60 s); make test-slow
def test_example_train_convert_inspect(output_dir: Path, monkeypatch, capsys) -> None:
    out = run_example("train_convert_inspect.py", output_dir, monkeypatch, capsys)
    assert "LIF accuracy by s: {20: " in out and "stored with the model: s = " in out
    assert "after   200 trials: eval accuracy" in out  # the learning curve, read back from MLflow
    assert (output_dir / "runs" / "train").is_dir() and (output_dir / "mlflow.db").is_file()


@pytest.mark.slow  # launches commands (~40-60 s); make test-slow
@pytest.mark.long  # one spikernn-run (~20 s); tests/test_own_task.py runs the same commands in the default suite
def test_example_own_task(output_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))  # the example adds its folder
    out = run_example("own_task.py", output_dir, monkeypatch, capsys)
    assert "task=delayed_go task.delay_ms=300" in out and ", task delayed_go" in out
    assert "LIF network: s = " in out and "  Go: " in out and "  NoGo: " in out


def test_example_import_reference_mat(output_dir: Path, monkeypatch, capsys) -> None:
    out = run_example("import_reference_mat.py", output_dir, monkeypatch, capsys)
    assert (output_dir / "examples" / "reference_go_nogo.mat").is_file()
    assert "spikernn-convert source=" in out and "task=go_nogo" in out
    assert "imported: N = 30" in out and "best s = " in out


@pytest.mark.slow  # launches commands (~40-60 s); make test-slow
def test_example_refractory_sweep(output_dir: Path, monkeypatch, capsys) -> None:
    out = run_example("refractory_sweep.py", output_dir, monkeypatch, capsys)
    assert (output_dir / "optuna.db").is_file()
    for t_ref in ("0.0", "2.0", "10.0"):
        assert f"t_ref {t_ref:>4} ms: s = " in out
    assert "optuna-dashboard sqlite:///" in out and "best_value" in out


def test_example_paper_figure(output_dir: Path, monkeypatch, capsys) -> None:
    out = run_example("paper_fig2b.py", output_dir, monkeypatch, capsys)
    assert (output_dir / "examples" / "fig2b.png").stat().st_size > 0
    assert "| 1/25 | correct |" in out


def test_example_population_training(output_dir: Path, monkeypatch, capsys) -> None:
    out = run_example("population_training.py", output_dir, monkeypatch, capsys)
    for phi in ("sigmoid", "softplus", "clipped_relu"):
        assert f"| {phi} | 0 | " in out
    assert "population of 3:" in out


@pytest.mark.slow  # launches commands (~40-60 s); make test-slow
def test_example_fine_tuning(output_dir: Path, monkeypatch, capsys) -> None:
    out = run_example("fine_tuning.py", output_dir, monkeypatch, capsys)
    assert "converted:   s = " in out and "fine-tuned:  s = " in out
    assert "'finetuned_model.pt'" in out
    assert "'finetuning.png', 'readout_rate_vs_lif.png', 'readout_rate_vs_lif_finetuned.png'" in out
    assert "fine-tuning curve: 2 batches" in out
    assert "logged models: ['finetuned_spiking_model', 'rate_model', 'spiking_model']" in out
