"""A real ``mlflow server`` for the tests that need one (its runs in SQLite or PostgreSQL, its
artifacts served from a folder), started and stopped by the tests themselves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class MlflowServer:
    """``mlflow server`` on a loopback port, its runs in PostgreSQL and its artifacts served from a
    folder (``--artifacts-destination``): what a lab runs for its members; stopped and started again
    on the same port and stores by ``restart``."""

    def __init__(self, backend: str, artifacts: Path, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", backend,
                     "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(self.port),
                     "--workers", "1"]  # fmt: skip
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                assert time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
