"""Cross-check for Fig. 1C: the reference code's Go-NoGo training loop restated step by step in plain
PyTorch, independent of spikernn — numpy initialisation in the reference's order, one trial per Adam
update, the graph's per-step noise, evaluation on 100 fresh trials after trials 1, 101, 201, … and the
reference's stopping rule (eval loss < 7, accuracy > 95 %, more than 1500 trials).

It is slow (a Python loop per time step, ~10 min per 6000 trials on one core) and exists to tell
whether a result of ours (N = 10 networks not training) comes from spikernn or from the algorithm.
Usage: ``python experiments/reference_loop.py SEED N [N_TRIALS]``; prints "trial eval_loss eval_acc".
"""

from __future__ import annotations

import sys

import numpy as np
import torch

T, STIM_ON, STIM_DUR = 200, 50, 25  # steps of 5 ms
TAUS = (4.0, 10.0)  # τ_min, τ_max in steps: 20–50 ms
P_INH, P_REC, GAIN = 0.2, 0.2, 1.5


def go_nogo_trial() -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Input [1, T], target [T] and label (True = Go), drawn with numpy's global state."""
    go = bool(np.random.rand() < 0.5)
    u = np.zeros((1, T), np.float32)
    z = np.zeros(T, np.float32)
    if go:
        u[0, STIM_ON : STIM_ON + STIM_DUR] = 1
        z[STIM_ON + STIM_DUR :] = 1
    return torch.from_numpy(u), torch.from_numpy(z), go


def main(seed: int, n: int, n_trials: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    w_in = torch.from_numpy(np.float32(np.random.randn(n, 1)))
    w_out = torch.tensor(np.float32(np.random.randn(1, n) / 100), requires_grad=True)
    inh = np.random.rand(n, 1) < P_INH
    w = np.zeros((n, n), np.float32)
    idx = np.where(np.random.rand(n, n) < P_REC)
    w[idx] = np.random.normal(0, 1.0, len(idx[0]))
    w = torch.tensor(np.abs(w / np.sqrt(n * P_REC) * GAIN).astype(np.float32), requires_grad=True)
    signs = np.eye(n, dtype=np.float32)
    signs[np.where(inh)[0], np.where(inh)[0]] = -1
    signs = torch.from_numpy(signs)
    b_out = torch.zeros((), requires_grad=True)
    taus_raw = torch.randn(n, 1, requires_grad=True)
    optimizer = torch.optim.Adam([w, w_out, b_out, taus_raw], lr=0.01)

    def forward(u: torch.Tensor) -> torch.Tensor:
        x = torch.randn(n, 1) / 100
        r = torch.sigmoid(x)
        w_eff = torch.relu(w) @ signs
        taus = torch.sigmoid(taus_raw) * (TAUS[1] - TAUS[0]) + TAUS[0]
        outputs = []
        for t in range(1, T):
            x = (1 - 1 / taus) * x + (1 / taus) * (w_eff @ r + w_in @ u[:, t - 1 : t]) + torch.randn(n, 1) / 10
            r = torch.sigmoid(x)
            outputs.append(w_out @ r + b_out)
        return torch.cat(outputs).flatten()

    def loss_of(o: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(((o - z[:-1]) ** 2).sum())

    for trial in range(n_trials):
        u, z, _ = go_nogo_trial()
        loss = loss_of(forward(u), z)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (trial - 1) % 100 == 0:
            losses, correct = [], []
            with torch.no_grad():
                for _ in range(100):
                    u, z, go = go_nogo_trial()
                    o = forward(u)
                    losses.append(loss_of(o, z).item())
                    response = o[STIM_ON + STIM_DUR :]
                    correct.append(bool(response.max() > 0.7) if go else bool(response.abs().max() < 0.3))
            print(trial, round(float(np.mean(losses)), 2), float(np.mean(correct)), flush=True)
            if np.mean(losses) < 7 and np.mean(correct) > 0.95 and trial > 1500:
                print("trained after", trial + 1, "trials")
                return
    print("not trained in", n_trials, "trials")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 6000)
