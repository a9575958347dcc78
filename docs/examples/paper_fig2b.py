"""Paper Fig. 2B with the Python API: one Go-NoGo network as a LIF RNN at λ = 1, 1/10 and 1/25.

    python docs/examples/paper_fig2b.py           # N = 200, trained as in the paper (about a minute)
    python docs/examples/paper_fig2b.py --tiny    # N = 30, barely trained: checks that it runs

The paper's panels: at λ = 1 (s = 1) the output fluctuates wildly, at λ = 1/10 it is too strong,
at λ = 1/25 the LIF network does the task. The figure goes to ``<output dir>/examples/fig2b.png``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from example_tools import output_dir, parser  # noqa: E402

from spikernn.rate import RateRNNConfig  # noqa: E402
from spikernn.rate.training import TrainerConfig, train_rate_model  # noqa: E402
from spikernn.tasks import get_task  # noqa: E402
from spikernn.transfer import search_scaling_factor, to_spiking  # noqa: E402

args = parser(__doc__).parse_args()
FACTORS = [1.0, 10.0, 25.0]  # s = 1/λ
PAPER = {1.0: "wild fluctuation", 10.0: "insufficient", 25.0: "correct"}

# the rate network of Fig. 2B: N = 200, τ 20–100 ms, batch 1, Adam lr 0.01, the paper's stopping rule
task = get_task("go_nogo")
training = TrainerConfig(max_trials=40, batch_size=20, progress_bar=False) if args.tiny else TrainerConfig()
model, record = train_rate_model(task, RateRNNConfig(**({"n_units": 30} if args.tiny else {})), training, seed=0)
print(f"trained: {record.trained} after {record.trials_seen[-1] if record.trials_seen else 0} trials")

# the transfer: W_spk = W_eff / s; the LIF parameters of SI Table S1 (SpikingParameters())
network = to_spiking(model)
trials_per_factor = 4 if args.tiny else 100
search = search_scaling_factor(network, task, FACTORS, trials_per_factor, generator=torch.Generator().manual_seed(1))

# one Go and one NoGo trial at each factor (the same trials for every factor), and the rate network
trials = task.make_trials(2, torch.Generator().manual_seed(0), conditions=torch.tensor([1, 0]))
with torch.no_grad():
    rate = model(trials.inputs, generator=torch.Generator().manual_seed(0)).readout
lif = network.simulate(trials.inputs, torch.tensor(FACTORS), generator=torch.Generator().manual_seed(2))

fig, axes = plt.subplots(1, len(FACTORS), figsize=(10, 3))
t_lif = (np.arange(lif.readout.shape[-1]) + 1) * network.params.dt_ms  # LIF sample k lies at (k + 1)·dt
t_rate = np.arange(rate.shape[-1]) * task.step_ms
for ax, s, readout in zip(axes, FACTORS, lif.readout, strict=True):
    for trial, (name, color) in enumerate((("Go", "tab:green"), ("NoGo", "tab:red"))):
        ax.plot(t_lif, readout[trial], color=color, lw=0.8, label=f"LIF {name}")
        ax.plot(t_rate, rate[trial], color=color, lw=2, alpha=0.4, ls="--", label=f"rate {name}")
    ax.set_title("λ = 1" if s == 1 else f"λ = 1/{s:g}")
    ax.set_xlabel("time (ms)")
axes[0].set_ylabel("output")
axes[-1].legend(fontsize=7)
path = Path(output_dir()) / "examples" / "fig2b.png"
path.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(path, dpi=120, bbox_inches="tight")

print("| λ | paper | ours: accuracy | ours: max |output| |")
print("|---|---|---|---|")
for i, s in enumerate(FACTORS):
    lam = "1" if s == 1 else f"1/{s:g}"
    ours = f"{search.accuracy[i]:.0%} ({search.trials_per_factor} trials)"
    print(f"| {lam} | {PAPER[s]} | {ours} | {lif.readout[i].abs().max():.1f} |")
print(f"figure: {path}")
