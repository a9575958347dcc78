"""How long a command takes to answer ``--help`` and to refuse a bad value, against a baseline commit.

Each command is started as a user starts it (a fresh Python process running the entry point) from
this checkout's ``src/`` and from a baseline commit's (checked out into a temporary git worktree, so
both run on the same machine in the same run), ``--repeat`` times each, alternating; the median
and the range of the wall times are printed (never asserted), with the load average.

    python benchmarks/command_start.py                           # baseline: ff4c14c (before the lazy imports)
    python benchmarks/command_start.py --baseline HEAD~3 --repeat 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {"--help": ["--help"], "refused value (seed=-1)": ["seed=-1"]}
START = "import sys; sys.argv[0] = 'spikernn-run'; from spikernn.apps.run import main; main()"


def wall_time(src: Path, args: list[str], output_dir: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "SPIKERNN_OUTPUT_DIR": str(output_dir)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", START, *args], env=env, capture_output=True, check=False, cwd=src.parent)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="ff4c14c", help="git commit to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spikernn-start-") as tmp:
        worktree = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            trees = {f"baseline {args.baseline}": worktree / "src", "this checkout": ROOT / "src"}
            times: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in CASES}
            for _ in range(args.repeat):
                for tree, src in trees.items():
                    for case, case_args in CASES.items():
                        times[tree, case].append(wall_time(src, case_args, Path(tmp) / "out"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    print(f"spikernn-run start, {args.repeat} runs each, load average {os.getloadavg()[0]:.2f}")
    print(f"  {'case':<26} {'tree':<22} {'median s':>9} {'min–max s':>12}")
    for (tree, case), values in times.items():
        print(f"  {case:<26} {tree:<22} {statistics.median(values):>9.2f} {min(values):>5.2f}–{max(values):<5.2f}")


if __name__ == "__main__":
    main()
