"""The fused spiking kernel of this checkout against a baseline commit's, on the same batch in one run.

The baseline's ``spikernn/spiking/fused_kernel.py`` is read from git (``git show <commit>:…``) and imported
as a module of its own beside this checkout's (it uses this checkout's helper modules — noise
generator, neuron constants — so compare commits whose helpers agree). Both simulate the same rows
(trials × factors of a trained Go-NoGo network, noise off and on) from the same initial voltages and
noise seed, alternating, ``--repeat`` times; printed (never asserted): ns per neuron-step, wall, per
repetition and the best, the speed-up, and a checksum of the readouts (equal when the two kernels
give the same numbers bit for bit). The load average is printed with the figures.

    python benchmarks/kernel_ab.py --model rate_model.pt                 # baseline: 39d5899 (before the vector widths)
    python benchmarks/kernel_ab.py --model rate_model.pt --threads 2 --baseline HEAD
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numba
import torch

from spikernn.spiking import fused_kernel
from spikernn.spiking.network import input_columns
from spikernn.tasks import get_task
from spikernn.transfer import to_spiking
from spiking_search import fresh_batch, load_or_train

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ("src/spikernn/spiking/fused_kernel.py", "src/spikernn/spiking/fused.py")  # its name before 2026-12-06


def baseline_kernel(commit: str, folder: str):
    """The baseline commit's kernel module (its own numba cache in ``folder``)."""
    for kernel in KERNELS:
        source = subprocess.run(["git", "show", f"{commit}:{kernel}"], cwd=ROOT, capture_output=True, text=True)
        if source.returncode == 0:
            break
    else:
        raise SystemExit(f"{commit} has none of {', '.join(KERNELS)}")
    path = Path(folder) / "fused_baseline.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("fused_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a Go-NoGo rate model (spikernn.io.save_rate_model); else one is trained")
    parser.add_argument("--baseline", default="39d5899", help="git commit whose kernel is the baseline")
    parser.add_argument("--factors", type=float, nargs="+", default=[20, 30, 40, 50, 60, 70, 80, 90])
    parser.add_argument("--trials", type=int, default=10, help="trials per factor")
    parser.add_argument("--steps", type=int, default=6000, help="steps simulated (dt = 0.05 ms: 300 ms)")
    parser.add_argument("--threads", type=int, default=1, help="numba threads")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    model, origin = load_or_train("go_nogo", args.model, seed=0)
    net = to_spiking(model)
    task = get_task("go_nogo")
    factors = torch.tensor(args.factors)
    inputs, _ = fresh_batch(task, len(factors), args.trials, seed=1)
    n_rows = len(factors) * args.trials
    flat = inputs.reshape(n_rows, *inputs.shape[2:]).float().contiguous()
    inv_s = (1.0 / factors).repeat_interleave(args.trials)
    v0 = -65 + 95 * torch.rand(n_rows, net.n_units, generator=torch.Generator().manual_seed(2))
    columns = input_columns(args.steps, net.steps_per_column)
    neuron_steps = n_rows * net.n_units * args.steps
    numba.set_num_threads(args.threads)
    print(f"model: {origin}")
    print(
        f"{n_rows} rows ({len(factors)} factors × {args.trials} trials) × {args.steps} steps × N = {net.n_units}, "
        f"{args.threads} thread(s); baseline {args.baseline} vs this checkout"
    )
    with tempfile.TemporaryDirectory(prefix="spikernn-kernel-") as folder:
        kernels = {"baseline": baseline_kernel(args.baseline, folder), "this checkout": fused_kernel}
        per = {}
        for rep in range(args.repeat + 1):  # the first round compiles
            for name, kernel in kernels.items():
                bundle = kernel.kernel_network(net.w_eff, net.w_in, net.w_out, net.tau_d_ms, net.params)
                for noise in (False, True):
                    start = time.perf_counter()
                    readout, _, _ = kernel.simulate_fused(
                        bundle, flat, inv_s, v0, columns, noise, torch.Generator().manual_seed(5), (), None, True
                    )
                    wall = time.perf_counter() - start
                    if rep:
                        per.setdefault((noise, name), []).append(wall / neuron_steps * 1e9)
                    else:
                        print(f"  {name:>13}, noise {noise!s:>5}: readout checksum {readout.double().sum().item():.9f}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'noise':>5} {'kernel':>13} {'best ns/neuron-step':>19}  all repetitions")
    for noise in (False, True):
        for name in kernels:
            times = per[(noise, name)]
            print(f"{noise!s:>5} {name:>13} {min(times):>19.3f}  {' '.join(f'{t:.3f}' for t in times)}")
        speedup = min(per[(noise, "baseline")]) / min(per[(noise, "this checkout")])
        print(f"{'':>5} {'speed-up':>13} {speedup:>18.2f}×")


if __name__ == "__main__":
    main()
