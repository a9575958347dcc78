"""A condition of many networks trained and converted end to end, as a user launches it.

Runs ``spikernn-run -m experiment=gonogo_n250_robust 'seed=range(FIRST, FIRST + N)'
hydra/launcher=population`` (the Fig. 7 sigmoid networks trained for robust conversion) in a fresh
output folder per way, and prints (never asserts) the wall time of the whole command, of the
population's training (from the launcher's log) and of the conversions (the rest), per network,
with the converted count, the mean LIF accuracy and the trials each factor search simulated. The
ways, each in its own folder so each trains its own networks (the same ones: same seeds):

- ``before``: what a population launch did before issue 30 — the full wide grid
  (``transfer=factor_search_wide``, 16 factors × 100 trials), every member's example figures and
  MLflow models (``hydra.launcher.member_figures=true hydra.launcher.member_models=true``), all in
  one process (``hydra.launcher.workers=1``);
- ``one_process``: the adaptive search (``transfer=adaptive_wide``), no per-member figures or MLflow
  models, in one process (``hydra.launcher.workers=1``): the launch of session 17;
- ``after``: the adaptive search and the launcher's defaults (no per-member figures or MLflow
  models; one worker process per core, each training its share of the networks and converting them).

The ways train the same networks and, but for ``before``'s grid, convert them alike: the table ends
with whether ``one_process`` and ``after`` gave every seed the same factor and LIF accuracy. With
workers, the populations train side by side: "training" is the longest of them.

    python benchmarks/population_end_to_end.py --networks 10 --ways one_process,after   # 10 networks each
    python benchmarks/population_end_to_end.py --networks 100 --ways after              # the full condition once
    python benchmarks/population_end_to_end.py --networks 10 --ways after --baseline d2bf283   # a commit, then this one

With ``--baseline REV`` each way runs first on that commit's code (a temporary git worktree, its
kernels compiled and cached by an untimed 2-network launch first), then on this checkout's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WAYS = {
    "before": [
        "transfer=factor_search_wide",
        "hydra.launcher.member_figures=true",
        "hydra.launcher.member_models=true",
        "hydra.launcher.workers=1",
    ],
    "one_process": ["transfer=adaptive_wide", "hydra.launcher.workers=1"],
    "after": ["transfer=adaptive_wide"],
}
TRAINED = re.compile(r"Population of (\d+): (\d+) met the criterion, (\d+) failed, ([\d.]+) s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def launch(way: str, first: int, n: int, folder: Path, src: Path | None = None, extra: tuple[str, ...] = ()) -> dict:
    """Run ``way`` for seeds first … first + n − 1 into ``folder``, with the code in ``src`` (default:
    this checkout's, as installed)."""
    command = [
        sys.executable, "-m", "spikernn.apps.run", "-m", "experiment=gonogo_n250_robust",
        f"seed=range({first},{first + n})", "hydra/launcher=population", *WAYS[way], *extra,
    ]  # fmt: skip
    env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(folder)}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if extra:  # the untimed warm-up: its networks are not trained to the criterion
        env["SPIKERNN_ALLOW_UNTRAINED"] = "true"
    env.pop("MLFLOW_TRACKING_URI", None)
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if proc.returncode != 0:
        raise SystemExit(f"{way}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    (folder / "launch.log").write_text(proc.stderr)
    training = max((float(m[3]) for m in TRAINED.findall(proc.stderr + proc.stdout)), default=0.0)
    summaries = [json.loads(p.read_text()) for p in (folder / "multiruns").rglob("summary.json")]
    converted = [s for s in summaries if s.get("lif_accuracy") is not None]
    return {
        "command": " ".join(command[3:]),
        "wall": wall,
        "cores": cpu / wall,
        "training": training,
        "networks": len(summaries),
        "converted": sum(s["lif_accuracy"] >= 0.95 for s in converted),
        "evaluated": len(converted),
        "lif": statistics.mean(s["lif_accuracy"] for s in converted) if converted else float("nan"),
        "trials": statistics.mean(s["search_trials"] for s in converted) if converted else float("nan"),
        "by_seed": {s["seed"]: (s.get("scaling_factor"), s.get("lif_accuracy")) for s in summaries},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=3000)
    parser.add_argument("--ways", default="before,after", help="comma-separated: " + ", ".join(WAYS))
    parser.add_argument("--output-dir", help="where each way's output folder goes (default: a new temporary folder)")
    parser.add_argument("--baseline", help="a commit whose code runs each way first (a temporary git worktree)")
    args = parser.parse_args()
    results = {}
    root = Path(args.output_dir or tempfile.mkdtemp(prefix="spikernn-e2e-"))
    trees: dict[str, Path | None] = {"": None}
    if args.baseline:
        worktree = root / "baseline-tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        trees = {f" @{args.baseline}": worktree / "src", "": None}
    try:
        for suffix, src in trees.items():
            if src is not None:  # compile and cache the baseline's kernels, untimed
                launch("after", 0, 2, root / "warm-up", src, ("trainer.max_trials=100",))
            for way in args.ways.split(","):
                name = way + suffix
                folder = root / name.replace(" @", "@")
                results[name] = launch(way, args.first_seed, args.networks, folder, src)
                print(f"{name}: {results[name]['command']} (output in {folder})", flush=True)
                (folder / "figures.json").write_text(json.dumps(results[name], indent=2))
    finally:
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", str(root / "baseline-tree")], cwd=ROOT, check=False)
    print(f"\n{args.networks} networks, seeds {args.first_seed}–{args.first_seed + args.networks - 1}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    header = ("way", "wall s", "cores busy", "training s", "conversion s", "conv. s/network", "converted", "LIF acc.",
              "trials")  # fmt: skip
    print("  " + " ".join(f"{h:>15}" for h in header))
    for way, r in results.items():
        conversion = r["wall"] - r["training"]
        print(
            "  "
            + " ".join(
                f"{v:>15}"
                for v in (
                    way,
                    f"{r['wall']:.0f}",
                    f"{r['cores']:.2f}",
                    f"{r['training']:.0f}",
                    f"{conversion:.0f}",
                    f"{conversion / max(r['networks'], 1):.1f}",
                    f"{r['converted']}/{r['evaluated']}",
                    f"{r['lif']:.3f}",
                    f"{r['trials']:.0f}",
                )
            )  # fmt: skip
        )
    print("  (conversion = wall − training: start, validation, every job's conversion, evaluation and tracking;")
    print("   cores busy = the command's CPU time / wall time, of 2 cores here; trials = per factor search)")
    if args.baseline:
        for way in args.ways.split(","):
            same = results[f"{way} @{args.baseline}"]["by_seed"] == results[way]["by_seed"]
            print(f"  {way} on {args.baseline} and on this checkout: every seed's factor and LIF accuracy "
                  f"{'the same' if same else 'NOT the same'}")  # fmt: skip
    if "one_process" in results and "after" in results:
        same = results["one_process"]["by_seed"] == results["after"]["by_seed"]
        print(f"  one_process and after: every seed's factor and LIF accuracy {'the same' if same else 'NOT the same'}")


if __name__ == "__main__":
    main()
