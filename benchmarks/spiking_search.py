"""Time the scaling-factor search at paper scale and compare it with two baselines in the same run.

Go-NoGo (default): N = 200, the reference grid of 12 factors × 100 trials = 1200 one-second trials
at dt = 0.05 ms (20 000 steps), noise on: 4.8e9 neuron-steps. ``--task mante``: N = 250, 2.5-s
trials (50 000 steps), 1.2e10 neuron-steps, on an *untrained* network of the right shape unless
``--model`` is given (the timing depends on the firing rates, the accuracy is then meaningless).

Printed (never asserted): wall and CPU time of ``search_scaling_factor`` on the fused backend, the
same search with every trial simulated to its end (no settled-trial stop; the same numbers),
neuron-steps/s, the peak resident memory during the search, accuracy per factor; a profile of the
kernel (noise off/on, readout off/on, 1 thread vs all); the plain torch module (backend "torch")
on ``--torch-trials`` trials per factor, scaled to the full search; a straightforward loop (one
trial at a time, the SPEC §3 update written out in numpy, float64) on ``--loop-trials`` trials,
scaled per trial; and the ratios. The machine's load average is printed with the figures.

    python benchmarks/spiking_search.py                    # Go-NoGo, trains (~1 min) or loads a cached model
    python benchmarks/spiking_search.py --task mante
    python benchmarks/spiking_search.py --model my_go_nogo.pt --torch-trials 5 --loop-trials 1
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from pathlib import Path

import numba
import numpy as np
import torch

from spikernn.io import ModelInfo, load_rate_model, save_rate_model
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.training import TrainerConfig, train_rate_model
from spikernn.spiking import SpikingRNN
from spikernn.spiking.fused_kernel import kernel_network, simulate_fused
from spikernn.spiking.network import input_columns
from spikernn.tasks import Task, get_task
from spikernn.transfer import search_scaling_factor, to_spiking
from spikernn.transfer_config import default_grid

CACHE = Path("outputs/benchmarks")
TASK_UNITS = {"go_nogo": 200, "mante": 250}


class PeakRSS:
    """Samples the resident set size every 20 ms while active (the kernel releases the GIL)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def load_or_train(task_name: str, model_path: str | None, seed: int) -> tuple[RateRNN, str]:
    """The rate model and a line saying where it came from."""
    if model_path:
        model, extra = load_rate_model(model_path)
        return model, f"loaded {model_path} ({extra})"
    if task_name == "mante":
        config = RateRNNConfig(n_units=250, n_inputs=4, taus_ms=[20.0, 50.0])
        return RateRNN(config, seed=seed), "UNTRAINED Mante-shaped network (N = 250, 4 inputs, τ 20–50 ms): timing only"
    cached = CACHE / f"go_nogo_n200_seed{seed}.pt"
    if cached.exists():
        model, extra = load_rate_model(cached)
        return model, f"cached {cached} ({extra})"
    start = time.perf_counter()
    model, record = train_rate_model(
        get_task("go_nogo"), RateRNNConfig(n_units=200), TrainerConfig(progress_bar=False), seed=seed
    )
    took = time.perf_counter() - start
    extra = ModelInfo(task="go_nogo", trained=record.trained, other={"trials_to_criterion": record.trials_to_criterion})
    save_rate_model(cached, model, extra)
    return model, f"trained in {took:.0f} s and cached at {cached} ({extra})"


def straightforward_trial(net: SpikingRNN, inputs: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """One trial, one step at a time, SPEC §3 written out in numpy (float64, like the MATLAB code)."""
    p = net.params
    n = net.n_units
    w = net.w_eff.double().numpy() / s
    w_in = net.w_in.double().numpy()
    w_out = net.w_out.double().numpy() / s
    tau_d = net.tau_d_ms.double().numpy() / 1000.0
    dt = p.dt_ms / 1000.0
    tau_r = p.tau_rise_ms / 1000.0
    n_steps = (inputs.shape[0] - 1) * net.steps_per_column
    columns = input_columns(n_steps, net.steps_per_column).numpy()
    v = rng.uniform(p.v_init_min_mv, p.v_init_max_mv, n)
    refractory = np.full(n, p.refractory_steps)
    ipsc, h, r, h_r = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    out = np.empty(n_steps)
    for k in range(n_steps):
        current = ipsc + p.i_bias_mv + w_in @ inputs[columns[k]]
        drive = v * v + current if p.neuron == "qif" else current - v
        v = v + np.where(refractory == 0, p.dt_ms * drive / p.tau_m_ms, 0.0)
        v = v + rng.normal(0.0, p.noise_std_mv, n)
        spikes = v >= p.v_th_mv
        v[spikes] = p.v_reset_mv
        refractory = np.where(spikes, p.refractory_steps, np.maximum(refractory - 1, 0))
        jd = w[:, spikes].sum(1)
        if tau_r > 0:
            ipsc = ipsc * np.exp(-dt / tau_d) + h * dt
            h = h * np.exp(-dt / tau_r) + jd / (tau_r * tau_d)
            r = r * np.exp(-dt / tau_d) + h_r * dt
            h_r = h_r * np.exp(-dt / tau_r) + spikes / (tau_r * tau_d)
        else:
            ipsc = ipsc * np.exp(-dt / tau_d) + jd / tau_d
            r = r * np.exp(-dt / tau_d) + spikes / tau_d
        out[k] = w_out @ r
    return out


def fresh_batch(task: Task, n_factors: int, n_trials: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    trials = [task.make_trials(n_trials, g) for _ in range(n_factors)]
    return torch.stack([t.inputs for t in trials]), torch.stack([t.labels for t in trials])


def profile_kernel(net: SpikingRNN, task: Task, factors: torch.Tensor, n_trials: int, n_steps: int) -> None:
    """Wall time per neuron-step of the kernel alone on the full batch over the first ``n_steps``."""
    inputs, _ = fresh_batch(task, len(factors), n_trials, seed=1)
    n_rows = len(factors) * n_trials
    flat = inputs.reshape(n_rows, *inputs.shape[2:]).float().contiguous()
    inv_s = (1.0 / factors).repeat_interleave(n_trials)
    g = torch.Generator().manual_seed(2)
    v0 = -65 + 95 * torch.rand(n_rows, net.n_units, generator=g)
    columns = input_columns(n_steps, net.steps_per_column)
    neuron_steps = n_rows * net.n_units * n_steps
    bundle = kernel_network(net.w_eff, net.w_in, net.w_out, net.tau_d_ms, net.params)
    threads = numba.get_num_threads()
    print(
        f"\nkernel profile: {n_rows} rows × {n_steps} steps × N = {net.n_units} "
        f"(the first {n_steps * net.params.dt_ms:.0f} ms of the trials)"
    )
    print(
        f"  {'threads':>7} {'noise':>5} {'readout':>7} {'wall s':>7} {'ns/neuron-step':>14} {'core-ns':>8} "
        f"{'rate (Hz)':>9}"
    )
    for n_threads in sorted({1, threads}):
        numba.set_num_threads(n_threads)
        for noise in (False, True):
            for readout in (False, True):
                start = time.perf_counter()
                _, counts, _ = simulate_fused(bundle, flat, inv_s, v0, columns, noise, g, (), None, readout)
                wall = time.perf_counter() - start
                per = wall / neuron_steps * 1e9
                rate = counts.double().mean().item() / (n_steps * net.params.dt_ms / 1000)
                print(
                    f"  {n_threads:>7} {noise!s:>5} {readout!s:>7} {wall:>7.2f} {per:>14.3f} {per * n_threads:>8.3f} "
                    f"{rate:>9.1f}"
                )
    numba.set_num_threads(threads)
    print("  (readout False skips only the final lane sums; the float64 products are formed in the synapse loop)")


class EveryStep:
    """``task`` without :meth:`~spikernn.tasks.Task.settled_bounds`: the search simulates every trial
    to its end (the baseline of the settled-trial stop)."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def __getattr__(self, name: str):
        return getattr(self._task, name)

    def settled_bounds(self, *args) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASK_UNITS), default="go_nogo")
    parser.add_argument("--model", help="rate model saved by spikernn.io.save_rate_model")
    parser.add_argument("--trials", type=int, default=100, help="trials per factor (paper: 100)")
    parser.add_argument("--torch-trials", type=int, default=10, help="trials per factor for the torch baseline")
    parser.add_argument("--loop-trials", type=int, default=3, help="trials for the straightforward loop")
    parser.add_argument("--profile-steps", type=int, default=2000, help="steps of the kernel profile (0: skip)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="numba threads")
    parser.add_argument(
        "--torch-threads", type=int, default=os.cpu_count(), help="torch threads (on a loaded machine 1 is faster)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--every-step", action=argparse.BooleanOptionalAction, default=True,
        help="also search with every trial simulated to its end (the settled-trial stop's baseline)",
    )  # fmt: skip
    args = parser.parse_args()

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(args.torch_threads)
    task = get_task(args.task)
    model, origin = load_or_train(args.task, args.model, args.seed)
    net = to_spiking(model)
    factors = default_grid(model.config.activation)
    n = net.n_units
    n_steps = round(task.duration_ms / net.params.dt_ms)
    n_rows = len(factors) * args.trials
    neuron_steps = n_rows * n * n_steps
    print(
        f"task {task.name}: N = {n}, {len(factors)} factors × {args.trials} trials = {n_rows} trials of "
        f"{n_steps} steps (dt = {net.params.dt_ms} ms), noise on: {neuron_steps:.3g} neuron-steps"
    )
    print(f"model: {origin}")
    start = time.perf_counter()
    net.simulate(torch.zeros(1, 3, task.n_inputs), 1.0)  # compile, or load the cached machine code
    print(f"kernel warm-up (compile or cache load): {time.perf_counter() - start:.1f} s")
    print(
        f"threads: numba {numba.get_num_threads()} ({numba.threading_layer()} layer), torch "
        f"{torch.get_num_threads()}; cpus {os.cpu_count()}; load average {os.getloadavg()}"
    )

    rss_before = PeakRSS.current()
    cpu0 = time.process_time()
    start = time.perf_counter()
    with PeakRSS() as rss:
        result = search_scaling_factor(
            net, task, factors, trials_per_factor=args.trials, generator=torch.Generator().manual_seed(args.seed)
        )
    fused_wall = time.perf_counter() - start
    fused_cpu = time.process_time() - cpu0
    print(
        f"\nFUSED search_scaling_factor: {fused_wall:.2f} s wall, {fused_cpu:.2f} s CPU "
        f"({neuron_steps / fused_wall / 1e9:.2f} G neuron-steps/s, "
        f"{fused_wall / neuron_steps * 1e9:.3f} ns/neuron-step wall, "
        f"{fused_cpu / neuron_steps * 1e9:.3f} CPU-ns/neuron-step)"
    )
    print(
        f"  resident memory: {rss_before / 2**20:.0f} MiB before, peak {rss.peak / 2**20:.0f} MiB during the search "
        f"(process peak so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB)"
    )
    print(
        "  accuracy per factor: "
        + ", ".join(f"{s:g}: {a:.2f}" for s, a in zip(result.scaling_factors, result.accuracy, strict=True))
    )
    print(f"  best factor {result.best_factor:g} (accuracy {result.best_accuracy:.2f}); load average {os.getloadavg()}")
    if args.every_step:
        start = time.perf_counter()
        full = search_scaling_factor(
            net, EveryStep(task), factors, trials_per_factor=args.trials,
            generator=torch.Generator().manual_seed(args.seed),
        )  # fmt: skip
        wall = time.perf_counter() - start
        print(
            f"FUSED, every trial to its end (no settled-trial stop): {wall:.2f} s wall — the stop "
            f"{wall / fused_wall:.2f}× faster; accuracies and choice {'the same' if full == result else 'NOT the same'}"
        )

    if args.profile_steps:
        profile_kernel(net, task, torch.tensor(factors), args.trials, min(args.profile_steps, n_steps))

    ratios = []
    if args.torch_trials:
        inputs, _ = fresh_batch(task, len(factors), args.torch_trials, seed=3)
        start = time.perf_counter()
        net.simulate(inputs, torch.tensor(factors), generator=torch.Generator().manual_seed(4), backend="torch")
        wall = time.perf_counter() - start
        scaled = wall * args.trials / args.torch_trials
        ratios.append(("plain torch module", scaled))
        print(
            f"\nTORCH (backend='torch'): {len(factors)} × {args.torch_trials} trials in {wall:.2f} s → "
            f"{scaled:.1f} s scaled to {n_rows} trials; load average {os.getloadavg()}"
        )
    if args.loop_trials:
        rng = np.random.default_rng(args.seed)
        trials = task.make_trials(args.loop_trials, torch.Generator().manual_seed(5))
        s = result.best_factor
        start = time.perf_counter()
        outs = [straightforward_trial(net, trials.inputs[i].double().numpy(), s, rng) for i in range(args.loop_trials)]
        wall = time.perf_counter() - start
        scaled = wall / args.loop_trials * n_rows
        ratios.append(("straightforward loop", scaled))
        correct = task.score(torch.tensor(np.stack(outs)), trials.labels, net.params.dt_ms, "spiking")
        print(
            f"\nLOOP (one trial at a time, numpy): {args.loop_trials} trials in {wall:.2f} s → {scaled:.0f} s scaled "
            f"to {n_rows} trials ({int(correct.sum())}/{args.loop_trials} correct at s = {s:g}); "
            f"load average {os.getloadavg()}"
        )
    for name, seconds in ratios:
        print(f"speed-up of the fused search over the {name}: {seconds / fused_wall:.1f}×")


if __name__ == "__main__":
    main()
