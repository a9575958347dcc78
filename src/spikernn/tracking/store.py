"""Where runs are tracked: a local SQLite store under ``outputs/`` by default, any tracking URI else.

MLflow builds a new SQLite store by running its schema migrations one by one; an interruption or a
second process doing the same leaves a half-made file that every later command fails on. So the
local store is made under an inter-process lock, in a temporary file that is moved into place only
once complete, and a half-made store without runs (left by an older version) is set aside and made
again.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from spikernn.tracking.logger_config import LOCAL_DB, resolve_tracking_uri

T = TypeVar("T")

LOCAL_ARTIFACTS = "mlartifacts"


def open_tracking_store(uri: str | None, output_dir: str | Path) -> str:
    """The tracking URI, with the local SQLite store made first if it is the one (see the module)."""
    resolved = resolve_tracking_uri(uri, output_dir)
    if not uri:
        path = Path(output_dir).resolve()
        path.mkdir(parents=True, exist_ok=True)
        ensure_sqlite_store(path / LOCAL_DB, _create_mlflow_store(path / LOCAL_ARTIFACTS), _mlflow_store_complete)
    return resolved


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock on ``path`` (released by the kernel if the holder dies)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_sqlite_store(db: Path, create: Callable[[Path], None], complete: Callable[[Path], bool | None]) -> None:
    """Make sure ``db`` is a complete SQLite store.

    ``complete(db)`` says True (ready), False (half-made and empty: may be remade) or None (made
    by someone else in a form we do not know: left to the library, which says what is wrong).
    ``create(tmp)`` builds a new store in ``tmp``; it is moved onto ``db`` atomically once done,
    so a killed creator leaves only a temporary file, removed by the next one.
    """
    if complete(db):
        return
    with file_lock(db.with_name(f".{db.name}.lock")):
        state = complete(db)
        if state or (state is None and db.exists()):
            return
        if db.exists():  # half-made by an interrupted or concurrent creation of an older version
            aside = db.with_name(f"{db.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
            os.replace(db, aside)
            for suffix in ("-journal", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{db}{suffix}", f"{aside}{suffix}")
        for stale in db.parent.glob(f".{db.name}.*.tmp*"):  # left by a creator that was killed
            stale.unlink(missing_ok=True)
        tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
        create(tmp)
        os.replace(tmp, db)


@functools.lru_cache(maxsize=1)
def _mlflow_schema_head() -> str:
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def _mlflow_store_complete(db: Path) -> bool | None:
    """True: schema at MLflow's head; False: missing or half-made and without runs; None: else."""
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = None
            if "alembic_version" in tables:
                rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
                version = rows[0][0] if len(rows) == 1 else None
            if version == _mlflow_schema_head() and {"experiments", "runs", "datasets"} <= tables:
                return True
            has_runs = "runs" in tables and conn.execute("SELECT count(*) FROM runs").fetchone()[0] > 0
    except sqlite3.DatabaseError:  # not a database at all (e.g. killed before its first page)
        return False if db.stat().st_size == 0 else None
    return None if has_runs else False


def _create_mlflow_store(artifacts: Path) -> Callable[[Path], None]:
    def create(tmp: Path) -> None:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(f"sqlite:///{tmp}", artifacts.as_uri())
        store.engine.dispose()

    return create


def retrying(call: Callable[[], T], attempts: int = 20, wait_s: float = 0.1) -> T:
    """Run ``call``, retrying while a concurrent writer holds the SQLite store ("database is locked")."""
    for attempt in range(attempts):
        try:
            return call()
        except MlflowException as err:
            if "database is locked" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(wait_s * (attempt + 1))
    raise AssertionError("unreachable")


def ensure_experiment(client: MlflowClient, name: str, output_dir: str | Path, tracking_uri: str) -> str:
    """The id of experiment ``name``, created if missing (safe when several processes race to create it).

    On the embedded SQLite store, artifacts go to ``<output_dir>/mlartifacts``; a server decides itself.
    """
    found = retrying(lambda: client.get_experiment_by_name(name))
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(output_dir).resolve() / LOCAL_ARTIFACTS).as_uri()
    try:
        return retrying(lambda: client.create_experiment(name, artifact_location=location))
    except MlflowException:
        found = client.get_experiment_by_name(name)  # another process created it first
        if found is None:
            raise
        return found.experiment_id
