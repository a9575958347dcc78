"""Issue 13: fresh-trial LIF accuracy before → after surrogate-gradient fine-tuning, per network,
grouped by activation, and the converted fraction (≥ 95 %) before/after per activation.

Reads the ``summary.json`` of ``spikernn-finetune`` run folders (and the fine-tuned model file
next to it for the activation):

    .venv/bin/python experiments/finetune_before_after.py outputs/runs/finetune/*/ --out experiments/finetune.png
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from spikernn.io import load_rate_model  # noqa: E402

CONVERTED = 0.95  # the paper's criterion for a converted network


def load(folder: Path) -> dict | None:
    summary_file = folder / "summary.json"
    if not summary_file.is_file():
        return None
    summary = json.loads(summary_file.read_text())
    if "lif_accuracy_before" not in summary:
        return None
    model_file = summary.get("model_file") or (summary.get("models") or ["converted_model.pt"])[0]
    model, _ = load_rate_model(folder / model_file)
    for key in ("exc_hz", "inh_hz", "exc_hz_before", "inh_hz_before"):  # runs written before the rename
        summary.setdefault(f"lif_{key}", summary.get(f"rate_{key}"))
    return {**summary, "activation": model.config.activation, "folder": folder.name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("experiments/finetune_before_after.png"))
    args = parser.parse_args()
    runs = [r for r in map(load, args.folders) if r is not None]
    by_activation: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        by_activation[run["activation"]].append(run)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    names = sorted(by_activation)
    for i, name in enumerate(names):
        for j, run in enumerate(by_activation[name]):
            x = i + 0.15 * (j - (len(by_activation[name]) - 1) / 2)
            left.plot([x - 0.04, x + 0.04], [run["lif_accuracy_before"], run["lif_accuracy"]], "o-", color=f"C{i}")
    left.axhline(CONVERTED, color="grey", ls="--", lw=1)
    left.set_xticks(range(len(names)), names)
    left.set_ylabel("LIF accuracy, 200 fresh trials (before → after)")
    width = 0.35
    for i, name in enumerate(names):
        group = by_activation[name]
        before = sum(r["lif_accuracy_before"] >= CONVERTED for r in group) / len(group)
        after = sum(r["lif_accuracy"] >= CONVERTED for r in group) / len(group)
        right.bar(i - width / 2, before, width, color="lightgrey", label="before" if i == 0 else None)
        right.bar(i + width / 2, after, width, color=f"C{i}", label="after" if i == 0 else None)
        right.text(i, max(before, after) + 0.02, f"n = {len(group)}", ha="center")
    right.set_xticks(range(len(names)), names)
    right.set_ylim(0, 1.1)
    right.set_ylabel("converted fraction (≥ 95 %)")
    right.legend()
    fig.suptitle("Surrogate-gradient fine-tuning of converted Go-NoGo LIF networks")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    for run in runs:
        print(
            f"{run['activation']:13s} {run['folder']}: {run['lif_accuracy_before']:.3f} → {run['lif_accuracy']:.3f}, "
            f"s {run['scaling_factor_before']:.2f} → {run['scaling_factor']:.2f}, "
            f"E {run['lif_exc_hz_before']:.1f} → {run['lif_exc_hz']:.1f} Hz, "
            f"I {run['lif_inh_hz_before']:.1f} → {run['lif_inh_hz']:.1f} Hz, "
            f"{run['finetune_seconds']:.0f} s, peak RSS {run['peak_rss_mib']:.0f} MiB"
        )
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
