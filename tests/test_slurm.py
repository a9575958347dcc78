"""Slurm, for real (issue 35): a single-node Slurm cluster started by the tests (Debian's
``slurmctld``, ``slurmd``, ``slurmdbd`` and ``slurm-client``, 22.05, and ``mariadb-server``;
``.ci/run`` installs them where missing) runs ``hydra/launcher=slurm`` multiruns through the submitit
launcher — the jobs' runs, a job cancelled with ``scancel`` and the same command run again, a job at
its time limit — and a population launch as one batch job.

The cluster is the smallest that behaves as a real one for submitit: ``auth/none`` (no munge
daemon), accounting through ``slurmdbd`` on a MariaDB of its own (``mariadb-server``; submitit reads
job states with ``sacct`` — without accounting it never learns that a cancelled job ended, and
waits), ``proctrack/linuxproc``, daemons as root on loopback ports of their own, its configuration in
``SLURM_CONF``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tiny import TINY_RUN, command_environment

pytestmark = pytest.mark.long  # a Slurm cluster and jobs through it (~1-2 min)

SLURM = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1", "hydra.launcher.cpus_per_task=1"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(argv: list[str], env: dict[str, str], ready, what: str, log: Path) -> subprocess.Popen:
    """A daemon in the foreground of a session of its own, waited for until ``ready()``."""
    with log.open("a") as out:
        process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None, f"{what} stopped: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what} did not start: {log.read_text()[-3000:]}"
        time.sleep(0.3)
    return process


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def slurm() -> Iterator[dict[str, str]]:
    """The environment of a command that submits to a Slurm cluster started for these tests."""
    if os.geteuid() != 0:
        pytest.skip("the test's Slurm daemons run as root (slurmd starts jobs as their user)")
    for daemon in ("slurmctld", "slurmd", "slurmdbd", "sbatch", "mariadbd", "mariadb-install-db"):
        assert shutil.which(daemon), (
            f"{daemon} is missing: apt-get install slurmctld slurmd slurmdbd slurm-client mariadb-server"
        )
    folder = Path(tempfile.mkdtemp(prefix="spikernn-slurm-"))
    node, (database, dbd, ctld, slurmd) = socket.gethostname().split(".")[0], _free_ports(4)
    for name in ("state", "spool", "db"):
        (folder / name).mkdir()
    conf = folder / "slurm.conf"
    env = {"SLURM_CONF": str(conf)}  # slurmdbd reads slurmdbd.conf beside it
    common = {"AuthType": "auth/none", "SlurmUser": "root"}
    dbd_settings = {
        **common, "DbdHost": "localhost", "DbdPort": dbd, "StorageType": "accounting_storage/mysql",
        "StorageHost": "127.0.0.1", "StoragePort": database, "StorageUser": "root", "StorageLoc": "slurm_acct_db",
        "PidFile": folder / "slurmdbd.pid", "LogFile": folder / "slurmdbd.log",
    }  # fmt: skip
    settings = {
        **common, "ClusterName": "spikernn", "SlurmctldHost": node, "SlurmdUser": "root", "SlurmctldPort": ctld,
        "SlurmdPort": slurmd, "CredType": "cred/none", "StateSaveLocation": folder / "state",
        "SlurmdSpoolDir": folder / "spool", "SlurmctldPidFile": folder / "slurmctld.pid",
        "SlurmdPidFile": folder / "slurmd.pid", "SlurmctldLogFile": folder / "slurmctld.log",
        "SlurmdLogFile": folder / "slurmd.log", "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none",
        "SchedulerType": "sched/backfill", "SelectType": "select/cons_tres", "SelectTypeParameters": "CR_Core",
        "ReturnToService": 2, "MpiDefault": "none", "AccountingStorageType": "accounting_storage/slurmdbd",
        "AccountingStorageHost": "localhost", "AccountingStoragePort": dbd, "JobAcctGatherType": "jobacct_gather/none",
        "JobCompType": "jobcomp/none", "KillWait": 10,
    }  # fmt: skip
    (folder / "slurmdbd.conf").write_text("".join(f"{k}={v}\n" for k, v in dbd_settings.items()))
    (folder / "slurmdbd.conf").chmod(0o600)
    lines = [f"{key}={value}" for key, value in settings.items()]
    lines += [
        f"NodeName={node} CPUs={os.cpu_count()} RealMemory=4000 State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    ]
    conf.write_text("\n".join(lines) + "\n")
    init = [
        "mariadb-install-db",
        f"--datadir={folder / 'db'}",
        "--user=root",
        "--auth-root-authentication-method=normal",
    ]
    subprocess.run(init, check=True, capture_output=True, timeout=120)

    def idle() -> bool:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env={**os.environ, **env})
        return state.stdout.strip() == "idle"

    daemons = []
    try:
        daemons.append(_start(
            ["mariadbd", f"--datadir={folder / 'db'}", f"--socket={folder / 'db.sock'}", f"--port={database}",
             "--bind-address=127.0.0.1", "--user=root", "--skip-grant-tables", f"--pid-file={folder / 'db.pid'}"],
            env, lambda: _listening(database), "MariaDB", folder / "mariadb.log",
        ))  # fmt: skip
        daemons.append(_start(["slurmdbd", "-D"], env, lambda: _listening(dbd), "slurmdbd", folder / "daemons.log"))
        daemons.append(_start(["slurmctld", "-D", "-f", str(conf)], env, lambda: _listening(ctld), "slurmctld",
                              folder / "daemons.log"))  # fmt: skip
        daemons.append(_start(["slurmd", "-D", "-f", str(conf)], env, idle, "slurmd", folder / "daemons.log"))
        yield env
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            daemon.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _launch(out: Path, slurm: dict[str, str], args: list[str]) -> subprocess.Popen:
    argv = [sys.executable, "-m", "spikernn.apps.run", "-m", *TINY_RUN, *SLURM, *args]
    return subprocess.Popen(argv, env={**command_environment(out), **slurm}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _runs(out: Path) -> list:
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("spikernn")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_a_multirun_through_slurm_logs_every_job_and_keeps_submitits_logs_beside_them(
    tmp_path: Path, slurm: dict[str, str]
) -> None:
    launch = _launch(tmp_path, slurm, ["seed=0,1"])
    _, stderr = launch.communicate(timeout=600)
    assert launch.returncode == 0, stderr[-3000:]
    runs = _runs(tmp_path)
    assert sorted((r.data.tags["mlflow.runName"], r.info.status) for r in runs) == [
        ("go_nogo-N20-seed0", "FINISHED"), ("go_nogo-N20-seed1", "FINISHED")
    ]  # fmt: skip
    (sweep,) = (tmp_path / "multiruns" / "run").iterdir()  # one folder: the jobs' and submitit's
    assert {p.name for p in sweep.iterdir()} >= {"0", "1", ".submitit"}
    assert (sweep / "0" / "summary.json").is_file() and (sweep / "1" / "summary.json").is_file()


def _squeue(slurm: dict[str, str]) -> list[str]:
    jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, env={**os.environ, **slurm})
    return jobs.stdout.split()


def test_a_job_cancelled_with_scancel_ends_killed_and_the_same_command_runs_what_was_left(
    tmp_path: Path, slurm: dict[str, str]
) -> None:
    """Job 0 finishes, job 1 is cancelled while it trains: its run ends KILLED (SIGTERM, exit 143 in
    its log), the launch fails naming the cancelled job. The same command again submits job 1 only
    (job 0's FINISHED run is its result) and finishes; job 0 is not run twice."""
    sweep = ["seed=3", "trainer.max_trials=200,20000", "trainer.stopping.accuracy_threshold=1.0"]  # no early stop
    launch = _launch(tmp_path, slurm, sweep)
    deadline = time.monotonic() + 300
    while True:
        runs = {r.data.params.get("trainer.max_trials"): r.info.status for r in _runs(tmp_path)}
        if runs == {"200": "FINISHED", "20000": "RUNNING"}:
            break
        assert launch.poll() is None and time.monotonic() < deadline, f"runs {runs}"
        time.sleep(0.3)
    for job in _squeue(slurm):
        subprocess.run(["scancel", job], check=True, env={**os.environ, **slurm})
    _, stderr = launch.communicate(timeout=300)
    assert launch.returncode != 0 and "CANCELLED" in stderr, stderr[-3000:]
    runs = {r.data.params.get("trainer.max_trials"): r.info.status for r in _runs(tmp_path)}
    assert runs == {"200": "FINISHED", "20000": "KILLED"}
    (log,) = tmp_path.glob("multiruns/run/*/.submitit/*/*_1_0_log.err")
    assert "interrupted by SIGTERM" in log.read_text() and "exit code 143" in log.read_text()

    again = _launch(tmp_path, slurm, sweep)
    _, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-3000:]
    assert "1 of 2 jobs finished before" in stderr
    statuses = sorted((r.data.params.get("trainer.max_trials"), r.info.status) for r in _runs(tmp_path))
    assert statuses == [("200", "FINISHED"), ("20000", "FINISHED"), ("20000", "KILLED")]


def test_a_job_past_its_time_limit_ends_killed_with_exit_143(tmp_path: Path, slurm: dict[str, str]) -> None:
    """Near the time limit (``hydra.launcher.timeout_min``; submitit's SIGUSR2 ``signal_delay_s``
    before it) the job stops as SIGTERM stops it: the run ends KILLED, the job exits 143, the launch
    fails naming the job."""
    limit = ["seed=4", "trainer.max_trials=1000000", "trainer.stopping.accuracy_threshold=1.0"]
    limit += ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=10"]
    launch = _launch(tmp_path, slurm, limit)
    _, stderr = launch.communicate(timeout=400)
    assert launch.returncode != 0 and "has not produced any output" in stderr, stderr[-3000:]
    (run,) = _runs(tmp_path)
    assert run.info.status == "KILLED"
    (log,) = tmp_path.glob("multiruns/run/*/.submitit/*/*_0_log.err")
    text = log.read_text()
    assert "time limit is near" in text and "interrupted by SIGTERM" in text and "exit code 143" in text


def test_a_population_launch_runs_as_one_slurm_batch_job(tmp_path: Path, slurm: dict[str, str]) -> None:
    """A population launch is one batch job (its networks share training loops, in one worker process
    per CPU the job was given: here one): ``sbatch --wrap 'spikernn-run -m … hydra/launcher=population'``."""
    command = [sys.executable, "-m", "spikernn.apps.run", "-m", *TINY_RUN, "seed=0,1,2", "hydra/launcher=population"]
    env = {**command_environment(tmp_path), **slurm}
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--cpus-per-task=1", "--mem=2G", f"--output={tmp_path / 'job.log'}",
         f"--chdir={tmp_path}", "--wrap", " ".join(command)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    job = submitted.stdout.strip().split(";")[0]
    deadline = time.monotonic() + 600
    while True:
        state = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "State", "-j", job], capture_output=True, text=True,
                               env=env).stdout.strip()  # fmt: skip
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"):
            break
        assert time.monotonic() < deadline, f"job {job}: {state}"
        time.sleep(1)
    assert state == "COMPLETED", (tmp_path / "job.log").read_text()[-3000:]
    runs = _runs(tmp_path)
    assert sorted((r.data.tags.get("command"), r.info.status) for r in runs) == [
        ("population", "FINISHED"), *[("spikernn-run", "FINISHED")] * 3
    ]  # fmt: skip
