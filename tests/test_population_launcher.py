"""``hydra/launcher=population``: a multirun's jobs trained together end as the same runs as jobs
trained alone (models, summaries, MLflow metrics), nested under one parent run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from tiny import TINY_RUN, command_environment

TRAIN = [
    "model.n_units=20",
    "trainer.max_trials=300",
    "trainer.batch_size=20",
    "trainer.progress_bar=false",
    "eval_trials=8",
]


def _train(args: list[str], out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spikernn.apps.train", *args],
        capture_output=True,
        text=True,
        env=command_environment(out),
        timeout=600,
    )


def test_population_jobs_equal_jobs_trained_alone(tmp_path: Path) -> None:
    together = _train(
        ["-m", *TRAIN, "seed=3,4", "model.gain=1.5,2.0", "hydra/launcher=population", "hydra.launcher.workers=1"],
        tmp_path / "pop",
    )
    assert together.returncode == 0, together.stderr[-3000:]
    assert "Training a population of 4 networks" in together.stderr + together.stdout
    alone = _train([*TRAIN, "seed=4", "model.gain=2.0"], tmp_path / "alone")
    assert alone.returncode == 0, alone.stderr[-3000:]

    runs = sorted((tmp_path / "pop" / "multiruns").rglob("summary.json"))
    assert len(runs) == 4
    (solo_summary_path,) = (tmp_path / "alone" / "runs").rglob("summary.json")
    solo = json.loads(solo_summary_path.read_text())
    member_dir = next(p.parent for p in runs if _is(p, 4, 2.0))
    member = json.loads((member_dir / "summary.json").read_text())
    for key in ("trained", "trials_to_criterion", "rate_accuracy", "rate_loss", "training_history", "tau_d_ms_mean"):
        assert member[key] == solo[key], key
    assert member["population_size"] == 4 and solo["population_size"] == 1
    # a population's jobs leave out the figures (hydra.launcher.member_figures) and MLflow models
    assert member["figures"] == [] and not list(member_dir.glob("*.png"))
    assert solo["figures"] == ["training.png"] and (solo_summary_path.parent / "training.png").is_file()
    w_member = torch.load(member_dir / "rate_model.pt", weights_only=True)
    w_solo = torch.load(solo_summary_path.parent / "rate_model.pt", weights_only=True)
    for name, value in w_solo["state"].items():
        assert torch.equal(value, w_member["state"][name]), name

    client = MlflowClient(f"sqlite:///{tmp_path / 'pop' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id])
    parents = [r for r in runs if r.data.tags.get("command") == "population"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.metrics["jobs_completed"] == 4
    # the condition on the parent run: its numbers, one line, and a table of the networks
    parent = parents[0].data
    summaries = [json.loads(p.read_text()) for p in runs_folder(tmp_path / "pop")]
    trained = sum(s["trained"] for s in summaries)
    assert parent.metrics["networks"] == 4 and parent.metrics["trained"] == trained
    assert parent.metrics["rate_accuracy_mean"] == pytest.approx(sum(s["rate_accuracy"] for s in summaries) / 4)
    assert "converted" not in parent.metrics  # spikernn-train converts nothing
    assert parent.tags["mlflow.note.content"] == f"4 networks, {trained} trained"
    assert parent.tags["mlflow.user"] and parent.tags["mlflow.source.name"]  # the UI's "Created by", "Source"
    assert parents[0].info.run_name.startswith("population 4 × go_nogo-N20 ")
    # its params: the settings the four jobs share (as each job logs them), not the swept ones
    member_params = client.get_run(member["mlflow_run_id"]).data.params
    assert parent.params["model.n_units"] == "20" and parent.params["trainer.max_trials"] == member_params[
        "trainer.max_trials"]  # fmt: skip
    assert not {"seed", "model.gain"} & parent.params.keys() and parent.params.items() <= member_params.items()
    table = client.download_artifacts(parents[0].info.run_id, "networks.json", str(tmp_path))
    columns = json.loads(Path(table).read_text())["columns"]
    assert {"seed", "trained", "lif_accuracy", "mlflow_run_id"} <= set(columns)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == 4 and all(r.info.status == "FINISHED" for r in children)
    assert not client.search_logged_models([parents[0].info.experiment_id])  # member_models false
    history = client.get_metric_history(member["mlflow_run_id"], "eval_loss")
    assert [m.step for m in history] == solo["training_history"]["trials"]
    assert [m.value for m in history] == solo["training_history"]["eval_loss"]


def test_a_jobs_own_figure_and_model_settings_win_over_the_launchers(tmp_path: Path) -> None:
    """``logger.figures=true`` on the command line draws the job's figures in a population launch;
    ``hydra.launcher.member_models=true`` logs its MLflow model; without either, neither."""
    given = ["-m", *TRAIN, "seed=5", "logger.figures=true", "hydra/launcher=population",
             "hydra.launcher.member_models=true"]  # fmt: skip
    proc = _train(given, tmp_path / "asked")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (summary_path,) = (tmp_path / "asked" / "multiruns").rglob("summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["figures"] == ["training.png"] and (summary_path.parent / "training.png").is_file()
    client = MlflowClient(f"sqlite:///{tmp_path / 'asked' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("spikernn").experiment_id
    models = client.search_logged_models([experiment])
    assert [m.source_run_id for m in models] == [summary["mlflow_run_id"]]
    assert client.get_run(summary["mlflow_run_id"]).data.tags["logger.figures"] == "True"


def runs_folder(out: Path) -> list[Path]:
    return sorted((out / "multiruns").rglob("summary.json"))


def _is(summary_path: Path, seed: int, gain: float) -> bool:
    config = (summary_path.parent / ".hydra" / "overrides.yaml").read_text()
    return f"seed={seed}" in config and f"model.gain={gain}" in config


def test_a_bad_job_stops_the_launch_before_training(tmp_path: Path) -> None:
    proc = _train(["-m", *TRAIN, "seed=0,1", "model.p_inh=0.2,7", "hydra/launcher=population"], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "model.p_inh" in proc.stderr
    assert "Training a population" not in proc.stderr + proc.stdout
    assert not list(tmp_path.rglob("summary.json"))


def test_a_bad_launcher_setting_writes_nothing(tmp_path: Path) -> None:
    proc = _train(["-m", *TRAIN, "seed=0,1", "hydra/launcher=population", "hydra.launcher.max_members=0"], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "hydra.launcher.max_members must be in [1, inf], got 0" in proc.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.long
def test_a_launch_run_again_reuses_its_trained_networks(tmp_path: Path) -> None:
    """Trained networks are kept as soon as the population is done: the same sweep run again with
    its finished jobs run again too (``skip_finished=false``) trains nothing and ends with the same
    results; a damaged kept file (unreadable, or weights changed but finite) is reported and only
    that network trained again."""
    sweep = ["-m", *TRAIN, "seed=5,6", "hydra/launcher=population", "hydra.launcher.workers=1"]
    first = _train(sweep, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    kept = sorted((tmp_path / "populations").glob("*.pt"))
    assert len(kept) == 2
    skipped = _train(sweep, tmp_path)
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert "2 of 2 jobs finished before" in skipped.stderr and "networks reused" not in skipped.stderr
    assert len(list(tmp_path.glob("multiruns/*/*/*/summary.json"))) == 2
    sweep.append("hydra.launcher.skip_finished=false")
    again = _train(sweep, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert "2 of 2 networks reused" in log and "Training a population" not in log
    summaries = [sorted(tmp_path.glob(f"multiruns/*/*/{i}/summary.json")) for i in (0, 1)]
    for pair in summaries:
        assert len(pair) == 2, summaries
        before, after = (json.loads(p.read_text()) for p in pair)
        for key in ("trained", "trials_to_criterion", "rate_accuracy", "training_history"):
            assert before[key] == after[key], key
    kept[0].write_bytes(b"not a model")
    _damage_weights(kept[1])
    third = _train(sweep, tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    log = third.stdout + third.stderr
    assert log.count("not reused") == 2 and "Training a population of 2 networks" in log


def _damage_weights(path: Path) -> None:
    """Rewrite a kept file with one weight changed (finite, the file still readable)."""
    payload = torch.load(path, weights_only=True)
    payload["state"]["w"][0, 0] += 1.0
    torch.save(payload, path)


# job 0 converts quickly, job 1 searches the factor on 4000 trials per factor (~10 s on 2 cores; 400
# took ~1 s once the kernel vectorised, and a kill 1 s after the job started could come too late)
CONVERT_TWO = ["-m", *TRAIN[:3], "allow_untrained=true", "eval_trials=4", "transfer.scaling_factors=[20,40]",
               "seed=5", "transfer.trials_per_factor=4,4000", "hydra/launcher=population"]  # fmt: skip


def _run_command(args: list[str], out: Path, app: str = "run") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", f"spikernn.apps.{app}", *args], env=command_environment(out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.long
def test_a_killed_launch_resumes_with_the_jobs_it_had_not_finished(tmp_path: Path) -> None:
    """SIGKILL while the second job runs, then the same command: the finished job is not run again,
    the killed one is, each job ends with exactly one FINISHED run, and the runs the kill left open
    (the job's and the launch's parent) are closed KILLED."""
    proc = _run_command(CONVERT_TWO, tmp_path)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("multiruns/run/*/1/.hydra")):
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "the second job never started"
        time.sleep(0.1)
    time.sleep(1.0)
    proc.kill()
    proc.communicate(timeout=60)
    assert len(list(tmp_path.glob("multiruns/run/*/*/summary.json"))) == 1

    again = _run_command(CONVERT_TWO, tmp_path)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-3000:]
    assert "1 of 2 jobs finished before" in stderr and "Training a population" not in stderr
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id])
    jobs = [r for r in runs if r.data.tags.get("command") == "spikernn-run"]
    finished = [r for r in jobs if r.info.status == "FINISHED"]
    assert len(finished) == 2 and len({r.data.tags["job_key"] for r in finished}) == 2
    assert {r.data.params["transfer.trials_per_factor"] for r in finished} == {"4", "4000"}
    killed = [r for r in runs if r.info.status == "KILLED"]
    assert sorted(r.data.tags["command"] for r in killed) == ["population", "spikernn-run"]
    (resumed,) = [r for r in runs if r.data.tags.get("command") == "population" and r.info.status == "FINISHED"]
    assert resumed.data.metrics["jobs_completed"] == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_while_a_population_trains_ends_the_launch_killed(tmp_path: Path, workers: int) -> None:
    """SIGTERM (what SLURM sends) to the launcher alone while the population trains: exit 143 as for
    a killed process, the launch's parent run KILLED with no job completed, nothing kept or
    summarised, and with two workers both passed the signal and gone. (Lightning's own handler alone
    ended such a launch with exit code 0, which SLURM reads as success.)"""
    never_done = ["trainer.max_trials=1000000", "trainer.stopping.accuracy_threshold=1.0"]
    sweep = ["-m", *TRAIN[:1], *TRAIN[3:], *never_done, "seed=1,2", "hydra/launcher=population",
             f"hydra.launcher.workers={workers}"]  # fmt: skip
    proc = _run_command(sweep, tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    started = f"Training a population of {2 // workers} networks"
    while sum(started in line for line in lines) < workers:
        assert proc.poll() is None, "".join(lines)[-3000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.1)
    time.sleep(2.0)  # inside Lightning's fit loop
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143, "".join(lines)[-3000:]
    reader.join(timeout=10)
    log = "".join(lines)
    assert "interrupted by SIGTERM" in log
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (parent,) = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id])
    assert parent.data.tags["command"] == "population" and parent.info.status == "KILLED"
    assert parent.data.metrics["jobs_completed"] == 0
    assert not list(tmp_path.rglob("summary.json")) and not list(tmp_path.glob("populations/*.pt"))
    for pid in map(int, re.findall(r"Worker \d of \d \(pid (\d+)", log)):
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the launch"
    assert len(re.findall(r"Worker \d of 2", log)) == (2 if workers == 2 else 0)


def test_jobs_split_over_workers_end_as_in_one_process(tmp_path: Path) -> None:
    """``hydra.launcher.workers=2``: the jobs are split over two worker processes and end with the
    same numbers and weights as in one process, nested under one FINISHED parent run; jobs that
    share a network (same seed, other conversion settings) share one training, in one worker."""
    tiny = [o for o in TINY_RUN if not o.startswith("transfer.trials_per_factor=")]
    sweep = ["-m", *tiny, "allow_untrained=true", "seed=0,1", "transfer.trials_per_factor=4,8",
             "hydra/launcher=population"]  # fmt: skip
    results = {}
    for workers in (1, 2):
        out = tmp_path / str(workers)
        proc = subprocess.run([sys.executable, "-m", "spikernn.apps.run", *sweep, f"hydra.launcher.workers={workers}"],
                              capture_output=True, text=True, env=command_environment(out), timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        log = proc.stdout + proc.stderr
        if workers == 1:
            assert "Training a population of 2 networks" in log and "Worker" not in log
        else:
            assert "Worker 1 of 2" in log and "Worker 2 of 2" in log
            for worker in ("worker 1/2", "worker 2/2"):  # each worker's log lines say whose they are
                assert log.count(f"{worker}: Training a population of 1 networks") == 1
        client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id])
        (parent,) = [r for r in runs if r.data.tags.get("command") == "population"]
        assert parent.info.status == "FINISHED" and parent.data.metrics["jobs_completed"] == 4
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == 4 and all(r.info.status == "FINISHED" for r in children)
        results[workers] = {}
        for path in runs_folder(out):
            summary = json.loads(path.read_text())
            weights = torch.load(path.parent / "rate_model.pt", weights_only=True)["state"]
            key = (summary["seed"], summary["search_trials_per_factor"])
            results[workers][key] = (summary, weights)
    assert sorted(results[1]) == sorted(results[2]) and len(results[1]) == 4
    for key, (summary, weights) in results[1].items():
        other, other_weights = results[2][key]
        for name in ("rate_accuracy", "scaling_factor", "lif_accuracy", "lif_accuracy_by_scaling_factor", "lif_exc_hz"):
            assert summary[name] == other[name], (key, name)
        for name, value in weights.items():
            assert torch.equal(value, other_weights[name]), (key, name)


@pytest.mark.long
def test_a_launch_killed_while_its_population_trains_resumes_the_training(tmp_path: Path) -> None:
    """SIGTERM once the population has checkpointed, then the same command: training goes on from
    the checkpoint, not from trial 0, and ends with the same networks and training curves as a
    launch never interrupted; the checkpoint is removed once the networks are kept."""
    sweep = ["-m", "model.n_units=100", "trainer.max_trials=600", "trainer.progress_bar=false",
             "trainer.stopping.accuracy_threshold=1.0", "seed=1,2", "hydra/launcher=population"]  # fmt: skip
    proc = _run_command(sweep, tmp_path / "killed", app="train")
    deadline = time.monotonic() + 300
    while not list((tmp_path / "killed").glob("populations/training/*/last.ckpt")):
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "the population never checkpointed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-3000:]
    assert not list((tmp_path / "killed").glob("populations/*.pt"))

    again = _train(sweep, tmp_path / "killed")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resuming the population's training from" in again.stderr
    assert not list((tmp_path / "killed").glob("populations/training/*"))
    whole = _train(sweep, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    for seed in (1, 2):
        resumed, uninterrupted = (_member(tmp_path / name, seed) for name in ("killed", "whole"))
        assert resumed[0]["training_history"] == uninterrupted[0]["training_history"]
        assert resumed[0]["training_history"]["trials"][-1] == 600
        for name, value in uninterrupted[1].items():
            assert torch.equal(value, resumed[1][name]), name


def _member(out: Path, seed: int) -> tuple[dict, dict]:
    """The summary and weights of the job with ``seed`` a launch left in ``out``."""
    (path,) = (
        p
        for p in out.glob("multiruns/*/*/*/summary.json")
        if f"seed={seed}" in (p.parent / ".hydra" / "overrides.yaml").read_text()
    )
    return json.loads(path.read_text()), torch.load(path.parent / "rate_model.pt", weights_only=True)["state"]


def test_an_unreadable_population_checkpoint_is_reported_and_not_resumed(tmp_path: Path, caplog) -> None:
    """A checkpoint cut short (a kill while it was written): no resume, a warning naming the file,
    the file removed so that the population trains from the start."""
    from spikernn.apps.trained_networks import TrainedStore

    store = TrainedStore(tmp_path / "populations")
    folder = store.training_folder(["a", "b"])
    assert folder != store.training_folder(["b", "a"])  # the first member seeds the loop: order matters
    folder.mkdir(parents=True)
    (folder / "last.ckpt").write_bytes(b"PK\x03\x04 cut short")
    assert store.resumable(folder) is None
    assert "last.ckpt: not resumed, the population trains from the start" in caplog.text
    assert not (folder / "last.ckpt").exists()
    torch.save({"state_dict": {}}, folder / "last.ckpt")  # readable, but no population state
    assert store.resumable(folder) is None


def test_a_converting_launchs_parent_shows_the_condition_as_numbers_table_and_figure(tmp_path: Path) -> None:
    """spikernn-run through the population launcher: the parent run holds the converted count, the
    per-network table with the accuracy after the transfer, and the condition's figure."""
    argv = [sys.executable, "-m", "spikernn.apps.run", "-m", *TINY_RUN, "allow_untrained=true", "seed=0,1",
            "hydra/launcher=population"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=command_environment(tmp_path), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("spikernn").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("command") == "population"]
    assert parent.data.metrics["evaluated"] == 2 and "converted" in parent.data.metrics
    (child, *_) = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.params["transfer.scaling_factors"] == child.data.params["transfer.scaling_factors"]
    assert "seed" not in parent.data.params
    logged = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"condition.png", "condition.svg", "networks.json"} <= logged
    table = json.loads(Path(client.download_artifacts(parent.info.run_id, "networks.json", str(tmp_path))).read_text())
    columns = table["columns"]
    assert {"lif_accuracy", "transfer_lif_accuracy", "finetuned"} <= set(columns)
