"""Population training of this checkout against a baseline commit's, the same networks in one run.

The baseline commit is checked out into a temporary git worktree; each tree trains the same
population (``experiment=gonogo_n250_robust``'s model and trainer, seeds FIRST … FIRST + K − 1, a
fixed number of trials, stopping rule on) in a fresh process with its own ``src/``, ``--repeat``
times, alternating. Each tree first trains once untimed, so that its numba kernels are compiled and
cached and every timed run loads them. Printed (never asserted): wall time per network-trial
(median and range), the profile's top entries for one run of each tree when ``--profile``, and a
digest of the trained weights — equal when both trees train the same networks bit for bit.

    python benchmarks/training_ab.py                            # baseline: 995771b (before the stacked buffers)
    python benchmarks/training_ab.py --members 20 --trials 600 --repeat 3 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# run in each tree's own process: train, then print wall, digest and (optionally) the profile's top
TRAIN = r"""
import cProfile, dataclasses, hashlib, io, json, pstats, sys, time, warnings
warnings.filterwarnings("ignore")
from hydra import compose, initialize_config_dir
from spikernn.apps.config import build_run_config, config_dir, plain
from spikernn.rate.training import train_population
from spikernn.tasks import get_task

first, members, trials, profile = map(int, sys.argv[1:5])
with initialize_config_dir(str(config_dir()), version_base=None):
    cfg = build_run_config(plain(compose("run", overrides=["experiment=gonogo_n250_robust"])))
training = dataclasses.replace(cfg.trainer, max_trials=trials, progress_bar=False)
task = get_task(cfg.task)
profiler = cProfile.Profile()
start = time.perf_counter()
if profile:
    profiler.enable()
trained = train_population(task, [(cfg.model, s) for s in range(first, first + members)], training)
if profile:
    profiler.disable()
wall = time.perf_counter() - start
digest = hashlib.sha256()
for member in trained:
    for _, tensor in sorted(member.model.state_dict().items()):
        digest.update(tensor.numpy().tobytes())
member_trials = sum(m.record.trials_seen[-1] for m in trained if m.record.trials_seen)
text = io.StringIO()
if profile:
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(8)
print(json.dumps({"wall": wall, "member_trials": member_trials, "digest": digest.hexdigest()[:16],
                  "profile": text.getvalue()}))
"""


def train(src: Path, args: argparse.Namespace, profile: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_NUM_THREADS": str(args.threads)}
    command = [
        sys.executable,
        "-c",
        TRAIN,
        str(args.first_seed),
        str(args.members),
        str(args.trials),
        str(int(profile)),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"training with {src} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="995771b", help="git commit whose src/ is the baseline")
    parser.add_argument("--members", type=int, default=10, help="networks in the population")
    parser.add_argument("--trials", type=int, default=400, help="trials each member trains (a cap: members may stop)")
    parser.add_argument("--first-seed", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2, help="numba threads")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print each tree's top functions (one extra run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            trees = {f"baseline {args.baseline}": worktree / "src", "this checkout": ROOT / "src"}
            for src in trees.values():  # compile and cache each tree's kernels
                train(src, argparse.Namespace(**{**vars(args), "members": 1, "trials": 100}), profile=False)
            runs: dict[str, list[dict]] = {tree: [] for tree in trees}
            for _ in range(args.repeat):
                for tree, src in trees.items():
                    runs[tree].append(train(src, args, profile=False))
            profiles = (
                {tree: train(src, args, profile=True)["profile"] for tree, src in trees.items()} if args.profile else {}
            )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    print(f"population of {args.members} (experiment=gonogo_n250_robust, seeds {args.first_seed}–"
          f"{args.first_seed + args.members - 1}), up to {args.trials} trials each, {args.threads} numba threads, "
          f"{args.repeat} runs per tree; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"  {'tree':<22} {'ms per network-trial':>21} {'min–max':>13} {'network-trials':>15} {'weights digest':>17}")
    medians = {}
    for tree, results in runs.items():
        per_trial = [1e3 * r["wall"] / r["member_trials"] for r in results]
        medians[tree] = statistics.median(per_trial)
        digests = {r["digest"] for r in results}
        print(f"  {tree:<22} {medians[tree]:>21.2f} {min(per_trial):>6.2f}–{max(per_trial):<6.2f} "
              f"{results[0]['member_trials']:>15} {' '.join(sorted(digests)):>17}")  # fmt: skip
    base, this = medians.values()
    print(
        f"  speed-up {base / this:.2f}×; the same networks: {len({r['digest'] for v in runs.values() for r in v}) == 1}"
    )
    for tree, text in profiles.items():
        print(f"\n{tree}, top functions by own time:\n{text}")


if __name__ == "__main__":
    main()
