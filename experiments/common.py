"""What the figure scripts share: runs read back from MLflow, the paper's statistics, output files.

Runs are found in the MLflow store the commands wrote to (``MLFLOW_TRACKING_URI``, else
``$SPIKERNN_OUTPUT_DIR/mlflow.db``, else ``outputs/mlflow.db``). Figures and tables go to
``experiments/results/``.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from mlflow.entities import Run  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from scipy import stats  # noqa: E402

from spikernn.apps.config import build_run_config, config_dir, plain  # noqa: E402
from spikernn.io import load_rate_model  # noqa: E402
from spikernn.plots.stats import wilson_interval  # noqa: E402
from spikernn.plots.style import STYLE, save  # noqa: E402
from spikernn.rate.training import train_population  # noqa: E402
from spikernn.tracking.store import resolve_tracking_uri  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CONVERTED = 0.95  # the paper's success threshold for a converted network

plt.rcParams.update(STYLE)  # the package's figure style (spikernn.plots.style) for every experiment figure


def client() -> MlflowClient:
    output_dir = os.environ.get("SPIKERNN_OUTPUT_DIR", "outputs")
    return MlflowClient(resolve_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI"), output_dir))


def latest_per_seed(runs: list[Run], *keys: str) -> list[Run]:
    """One run per (seed, source, params ``keys``): the latest, so that re-running a figure's
    commands replaces its networks instead of counting them twice."""
    latest: dict[tuple, Run] = {}
    for run in sorted(runs, key=lambda r: r.info.start_time):
        ident = (run.data.params.get("seed"), run.data.params.get("source"), *(run.data.params.get(k) for k in keys))
        latest[ident] = run
    return list(latest.values())


def finished_runs(experiment: str, command: str, extra_filter: str = "") -> list[Run]:
    """FINISHED runs of ``command`` (e.g. ``spikernn-run``) in MLflow experiment ``experiment``,
    the latest one per seed and configuration."""
    c = client()
    found = c.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"no MLflow experiment {experiment!r} in {c.tracking_uri}: run the figure's commands first")
    query = f"attributes.status = 'FINISHED' and tags.command = '{command}'"
    if extra_filter:
        query += f" and {extra_filter}"
    runs = c.search_runs([found.experiment_id], filter_string=query, max_results=5000)
    return latest_per_seed(runs, *CONDITION_PARAMS)


# the params that tell the conditions of the figures apart
CONDITION_PARAMS = (
    "model.activation",
    "model.tau_min_ms",
    "model.tau_max_ms",
    "model.gain",
    "model.n_units",
    "spiking.t_ref_ms",
    "spiking.tau_rise_ms",
)


def trained(runs: Iterable[Run]) -> list[Run]:
    """The runs whose rate network met the training criterion (tag ``trained``; a conversion run,
    which has none, counts: only trained networks are converted)."""
    return [r for r in runs if r.data.tags.get("trained", "True") == "True"]


def constant(run: Run, name: str) -> float:
    """A constant of a run (``N``, ``n_exc``, ``n_inh``): a tag, or a metric in runs logged before."""
    return float(run.data.tags[name]) if name in run.data.tags else run.data.metrics[name]


def lif_accuracies(runs: Iterable[Run]) -> list[float]:
    """LIF accuracy (fresh trials, best factor) of the trained ones among ``runs``."""
    return [r.data.metrics["lif_accuracy"] for r in trained(runs)]


def accuracy_by_factor(run: Run) -> dict[float, float]:
    """The LIF accuracy of a run's factor search per s: metrics ``lif_accuracy_s<s>`` (runs logged
    before: the series ``lif_accuracy_by_factor`` with step = s)."""
    by_factor = {
        float(name.removeprefix("lif_accuracy_s")): value
        for name, value in run.data.metrics.items()
        if name.startswith("lif_accuracy_s") and name.removeprefix("lif_accuracy_s")[:1].isdigit()
    }
    if by_factor:
        return dict(sorted(by_factor.items()))
    history = client().get_metric_history(run.info.run_id, "lif_accuracy_by_factor")
    return {float(m.step): m.value for m in history}


def load_model(run: Run, artifact: str = "converted_model.pt"):
    """A model file logged by ``run`` → (RateRNN, what the file says of it: ``spikernn.io.ModelInfo``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = client().download_artifacts(run.info.run_id, artifact, tmp)
        return load_rate_model(path)


def param(run: Run, name: str) -> str:
    return run.data.params[name]


def group(runs: Iterable[Run], key: Callable[[Run], object]) -> dict[object, list[Run]]:
    groups: dict[object, list[Run]] = {}
    for run in runs:
        groups.setdefault(key(run), []).append(run)
    return groups


@dataclass
class Sample:
    """Values across networks, reported as the paper does."""

    values: list[float]

    def mean_sd(self, scale: float = 100.0, unit: str = " %") -> str:
        if not self.values:
            return "–"
        return f"{self.mean(scale):.1f} ± {self.sd(scale):.1f}{unit} (n = {len(self.values)})"

    def mean(self, scale: float = 100.0) -> float:
        return statistics.fmean(self.values) * scale if self.values else float("nan")

    def sd(self, scale: float = 100.0) -> float:
        return statistics.stdev(self.values) * scale if len(self.values) > 1 else 0.0

    def converted_percent(self) -> float:
        """Share of networks at ≥ 95 % (%)."""
        hits = sum(v >= CONVERTED for v in self.values)
        return 100 * hits / len(self.values) if self.values else float("nan")

    def converted(self) -> str:
        hits = sum(v >= CONVERTED for v in self.values)
        return f"{hits}/{len(self.values)}"


def converted_fraction(hits: int, n: int) -> str:
    """``hits/n = p % [low, high]``: a converted fraction with its Wilson 95 % interval."""
    if n == 0:
        return "0/0"
    low, high = wilson_interval(hits, n)
    return f"{hits}/{n} = {100 * hits / n:.0f} % [{100 * low:.0f}, {100 * high:.0f}]"


GRID_NOTE = (
    "LIF accuracy and converted: the chosen factor scored on 200 fresh trials. Best grid accuracy: the "
    "highest of the search's 100-trial accuracies, the number the reference code's lambda_grid_search.m "
    "keeps per network."
)


def grid_search_column(runs: Iterable[Run]) -> str:
    """The reference code's number for a network: the best of the factor grid's 100-trial accuracies
    (``lambda_grid_search.m``; biased upwards as a maximum of 12), and how many networks reach 95 % by it."""
    sample = Sample([r.data.metrics["search_accuracy"] for r in runs])
    return f"{sample.mean_sd()}; {sample.converted()}"


def no_difference_test(a: list[float], b: list[float]) -> str:
    """Two-sided Mann–Whitney U and Welch t-test p-values (the paper's "no significant difference")."""
    if len(a) < 2 or len(b) < 2:
        return "n too small"
    u = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
    t = stats.ttest_ind(a, b, equal_var=False).pvalue
    return f"Mann–Whitney p = {u:.2f}, Welch p = {t:.2f}"


@dataclass
class PairedComparison:
    """The same networks converted two ways (A, B): converted (≥ 95 %) in each, the discordant
    networks and McNemar's exact test on them, the paired differences B − A and Wilcoxon's
    signed-rank test."""

    converted_a: int
    converted_b: int
    only_a: int
    only_b: int
    mcnemar_p: float
    diffs: list[float]
    wilcoxon_p: float


def paired_comparison(acc_a: list[float], acc_b: list[float]) -> PairedComparison:
    ok_a, ok_b = [v >= CONVERTED for v in acc_a], [v >= CONVERTED for v in acc_b]
    only_a = sum(x and not y for x, y in zip(ok_a, ok_b, strict=True))
    only_b = sum(y and not x for x, y in zip(ok_a, ok_b, strict=True))
    diffs = [y - x for x, y in zip(acc_a, acc_b, strict=True)]
    return PairedComparison(
        converted_a=sum(ok_a),
        converted_b=sum(ok_b),
        only_a=only_a,
        only_b=only_b,
        mcnemar_p=stats.binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0,
        diffs=diffs,
        wilcoxon_p=stats.wilcoxon(diffs).pvalue if any(diffs) else 1.0,
    )


def write_table(name: str, title: str, header: list[str], rows: list[list[str]], notes: str = "") -> Path:
    """A markdown table ``results/<name>.md`` (paper vs ours)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if notes:
        lines += ["", notes]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    print(path.read_text())
    return path


def label_axes(axes, xlabel: str, ylabels: Iterable[str]) -> None:
    """One x label for every panel, each its y label, and a legend where a panel has labelled lines."""
    for ax, ylabel in zip(axes, ylabels, strict=True):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()


def save_figure(fig, name: str) -> Path:
    """Write ``results/<name>.png`` and the SVG beside it, as the package writes its figures."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = save(fig, RESULTS / f"{name}.png")
    plt.close(fig)
    print(f"wrote {saved.png} and {saved.vector.name}")
    return saved.png


@dataclass
class NetworkTable:
    """A condition's per-network CSV, ``results/<name>_networks.csv``: one row per seed, appended the
    moment a network is done, so that a script resumes from the committed file (seeds already in it
    are skipped), never from a store alone."""

    name: str
    fields: list[str]

    @property
    def path(self) -> Path:
        return RESULTS / f"{self.name}_networks.csv"

    def rows(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with self.path.open() as f:
            return list(csv.DictReader(f))

    def done_seeds(self) -> set[int]:
        return {int(row["seed"]) for row in self.rows()}

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the table for one process: a second command on the same condition stops at once with
        the holder's pid instead of simulating the same seeds again and appending them twice. The
        lock (``flock`` on ``<csv>.lock``, git-ignored) dies with its process, SIGKILL included."""
        lock = self.path.with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise SystemExit(
                    f"{self.path.name} is being written by another process (pid {holder}); "
                    "wait for it or stop it, then run the same command again (it resumes)"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield

    def append(self, row: dict) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, self.fields)
            if new:
                writer.writeheader()
            writer.writerow(row)


def run_config(overrides: list[str]):
    """spikernn-run's typed config for ``overrides``, composed as the command composes it (the
    schemas are registered when ``spikernn.apps.config`` is imported)."""
    with initialize_config_dir(config_dir(), version_base=None):
        return build_run_config(plain(compose("run", overrides=overrides)))


def trained_in_pieces(base, task, seeds: list[int], piece: int):
    """(seed, trained member) for each of ``seeds``, trained by population training ``piece`` at a
    time with ``base``'s model and trainer; the wall time of each piece is printed."""
    for i in range(0, len(seeds), piece):
        part = seeds[i : i + piece]
        start = time.perf_counter()
        members = train_population(task, [(base.model, s) for s in part], base.trainer)
        print(f"seeds {part[0]}–{part[-1]}: trained in {time.perf_counter() - start:.0f} s", flush=True)
        yield from zip(part, members, strict=True)
