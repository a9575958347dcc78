"""Memory of backpropagation through time on the spiking network (issue 13).

Counts the bytes autograd keeps for the backward pass (every tensor saved by a forward
operation, through ``torch.autograd.graph.saved_tensors_hooks``) for one Go-NoGo batch at
several training steps dt and with/without checkpointing over time chunks, and the peak resident
memory of a forward + backward pass in a fresh process per setting.

    .venv/bin/python benchmarks/finetune_memory.py            # N = 250, batch 16
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def graph_bytes(n_units: int, batch: int, dt_ms: float, checkpoint_steps: int | None, duration_ms: float) -> dict:
    from spikernn.rate import RateRNN, RateRNNConfig
    from spikernn.spiking import SpikingParameters
    from spikernn.spiking.differentiable import simulate_surrogate
    from spikernn.tasks import get_task
    from spikernn.transfer import to_spiking

    torch.set_num_threads(1)
    task = get_task("go_nogo")
    net = to_spiking(RateRNN(RateRNNConfig(n_units=n_units), seed=0), SpikingParameters(dt_ms=dt_ms))
    w = net.w_eff.clone().requires_grad_()
    columns = round(duration_ms / task.step_ms) + 1
    inputs = task.make_trials(batch, torch.Generator().manual_seed(0)).inputs[:, :columns]
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = simulate_surrogate(
            net.neuron, w, net.w_in, net.w_out, net.tau_d_ms, torch.tensor(1 / 30), inputs, net.steps_per_column,
            generator=torch.Generator().manual_seed(1), sample_every=net.steps_per_column,
            checkpoint_steps=checkpoint_steps, exact=False,
        )  # fmt: skip
        forward_bytes = saved[0]
        out.readout.square().mean().backward()
    return {
        "n_units": n_units,
        "batch": batch,
        "dt_ms": dt_ms,
        "steps": (columns - 1) * net.steps_per_column,
        "checkpoint_steps": checkpoint_steps,
        "saved_MiB_forward": round(forward_bytes / 2**20, 1),
        "saved_MiB_total": round(saved[0] / 2**20, 1),  # with checkpointing: + every chunk's recomputation
        "seconds": round(time.perf_counter() - start, 2),
        "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-units", type=int, default=250)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--one", nargs=3, metavar=("DT_MS", "CHECKPOINT", "DURATION_MS"))
    args = parser.parse_args()
    if args.one:
        dt, chunk, duration = float(args.one[0]), int(args.one[1]) or None, float(args.one[2])
        print(json.dumps(graph_bytes(args.n_units, args.batch, dt, chunk, duration)))
        return
    settings = [(1.0, 0, 1000.0), (1.0, 100, 1000.0), (0.5, 0, 1000.0), (0.5, 200, 1000.0), (0.05, 0, 100.0)]
    for dt, chunk, duration in settings:
        cmd = [sys.executable, __file__, "--n-units", str(args.n_units), "--batch", str(args.batch), "--one"]
        out = subprocess.run([*cmd, str(dt), str(chunk), str(duration)], capture_output=True, text=True, check=True)
        print(out.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
