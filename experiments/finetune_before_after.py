"""Issue 13: converted fractions before → after surrogate-gradient fine-tuning, per condition.

A condition is a set of converted networks (the member folders of a ``spikernn-run`` multirun:
``summary.json`` + ``converted_model.pt``; a label given twice joins both sets). Before: each
network's LIF accuracy on its run's 200 fresh trials at the searched factor. Fine-tuned: the
``spikernn-finetune`` run folders whose ``source`` is one of those networks (normally the ones
that missed 95 %), or the run's own fine-tuning stage (``spikernn-run … finetune.enabled=true
finetune.below_accuracy=0.95``: the member's ``summary.json`` reports the fine-tuned network and
holds its conversion under ``transfer``).
After: the fine-tuned accuracy (200 fresh trials, fused kernel at dt 0.05 ms) where a network was
fine-tuned, else its accuracy before. A network that missed 95 % and has no fine-tuning run is
counted as failing after too and reported as "not fine-tuned"; a member that was not converted
(its rate network missed the training criterion) is left out.

    .venv/bin/python experiments/finetune_before_after.py \\
        --condition "sigmoid, SPEC training=outputs/multiruns/run/<date>/*" \\
        --finetuned outputs/issue13/runs/finetune/*/ --name finetune_before_after

writes ``experiments/results/<name>.md`` (the table) and ``<name>.png`` / ``.svg`` (converted
fractions with Wilson 95 % intervals, and each fine-tuned network's accuracy before → after).
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path

from common import CONVERTED, Sample, converted_fraction, plt, save_figure, write_table

from spikernn.plots.stats import wilson_error_bar


@dataclass
class Network:
    """One converted network, and its fine-tuning run if it has one."""

    folder: Path
    before: float
    finetune: dict | None

    @property
    def after(self) -> float:
        return self.finetune["lif_accuracy"] if self.finetune else self.before


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def finetune_runs(folders: list[Path]) -> dict[Path, dict]:
    """Fine-tuning summaries by the member folder they started from (the latest run wins)."""
    by_source: dict[Path, dict] = {}
    for folder in sorted(folders, key=lambda f: f.name):
        summary = read_json(folder / "summary.json")
        if summary and "lif_accuracy_before" in summary and summary.get("source"):
            by_source[Path(summary["source"]).resolve().parent] = summary
    return by_source


def condition_networks(pattern: str, finetuned: dict[Path, dict]) -> list[Network]:
    networks = []
    for folder in sorted(Path(p).resolve() for p in glob.glob(pattern)):
        summary = read_json(folder / "summary.json")
        if summary is None or summary.get("lif_accuracy") is None:  # not converted (e.g. not trained)
            continue
        if "transfer" in summary:  # the run's own fine-tuning: its numbers are the run's, the transfer's apart
            networks.append(Network(folder, summary["transfer"]["lif_accuracy"], summary))
            continue
        tuned = summary.get("finetuned") or finetuned.get(folder)  # summaries before 2026-12-06 kept it there
        networks.append(Network(folder, summary["lif_accuracy"], tuned))
    return networks


def mean_sd(values: list[float]) -> str:
    """Mean ± SD in % without the count (the table has its own n)."""
    sample = Sample(values)
    return f"{sample.mean():.1f} ± {sample.sd():.1f} %" if values else "–"


def median(values: list[float], fmt: str = ".1f") -> str:
    return format(statistics.median(values), fmt) if values else "–"


def table_row(label: str, networks: list[Network]) -> list[str]:
    n = len(networks)
    tuned = [net.finetune for net in networks if net.finetune]
    missing = sum(net.before < CONVERTED and net.finetune is None for net in networks)
    rates = "; ".join(
        f"{name} {median([t[f'lif_{key}_hz_before'] for t in tuned])} → "
        f"{median([t[f'lif_{key}_hz'] for t in tuned])} Hz"
        for name, key in (("E", "exc"), ("I", "inh"))
    )
    cost = (
        f"{median([t['finetune_seconds'] for t in tuned], '.0f')} s / {max(t['peak_rss_mib'] for t in tuned):.0f} MiB"
        if tuned
        else "–"
    )
    return [
        label,
        converted_fraction(sum(net.before >= CONVERTED for net in networks), n),
        converted_fraction(sum(net.after >= CONVERTED for net in networks), n),
        mean_sd([net.before for net in networks]),
        mean_sd([net.after for net in networks]),
        f"{len(tuned)} ({missing} not fine-tuned)",
        converted_fraction(sum(t["lif_accuracy"] >= CONVERTED for t in tuned), len(tuned)) if tuned else "–",
        rates if tuned else "–",
        cost,
    ]


def figure(conditions: dict[str, list[Network]], name: str, title: str) -> Path:
    fig, (bars, lines) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.38
    colors = plt.get_cmap("tab10").colors
    for i, networks in enumerate(conditions.values()):
        n = len(networks)
        for offset, when, color in ((-width / 2, "before", "0.7"), (width / 2, "after", colors[i])):
            hits = sum(getattr(net, when) >= CONVERTED for net in networks)
            below, above = wilson_error_bar(hits, n)
            bars.bar(i + offset, hits / n, width, color=color, label=when if i == 0 else None)
            bars.errorbar(i + offset, hits / n, [[below], [above]], color="k", capsize=3, lw=1)
        bars.text(i, 1.04, f"n = {n}", ha="center", fontsize=8)
        tuned = [net for net in networks if net.finetune]
        for j, net in enumerate(tuned):  # before at i − 0.2, after at i + 0.2, spread a little
            spread = 0.08 * (j / max(len(tuned) - 1, 1) - 0.5)
            xs = [i - 0.2 + spread, i + 0.2 + spread]
            lines.plot(xs, [net.before, net.after], "-", color=colors[i], lw=0.8, alpha=0.6)
            lines.plot(xs, [net.before, net.after], "o", color=colors[i], ms=3, mfc="white")
            lines.plot(xs[1:], [net.after], "o", color=colors[i], ms=3)
    for ax in (bars, lines):
        ax.set_xticks(range(len(conditions)), [textwrap.fill(label, 10) for label in conditions], fontsize=8)
        ax.axhline(CONVERTED, color="grey", ls="--", lw=1)
        ax.set_xlim(-0.75, len(conditions) - 0.25)
    bars.set_ylim(0, 1.1)
    bars.set_ylabel("converted fraction (≥ 95 %, 200 fresh trials)")
    bars.legend(loc="center left", title="fine-tuning")
    lines.set_ylim(0, 1.02)
    lines.set_ylabel("fine-tuned networks: LIF accuracy, before (open) → after")
    fig.suptitle(title)
    return save_figure(fig, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--condition", action="append", required=True, metavar="LABEL=GLOB")
    parser.add_argument("--finetuned", nargs="+", type=Path, default=[])
    parser.add_argument("--name", default="finetune_before_after")
    parser.add_argument(
        "--title", default="Surrogate-gradient fine-tuning of converted Go-NoGo LIF networks (N = 250, τ 20–50 ms)"
    )
    args = parser.parse_args()
    finetuned = finetune_runs(args.finetuned)
    conditions: dict[str, list[Network]] = {}
    for item in args.condition:
        label, sep, pattern = item.partition("=")
        if not sep:
            parser.error(f"--condition must be LABEL=GLOB, got {item!r}")
        networks = condition_networks(pattern, finetuned)
        if not networks:
            parser.error(f"--condition {label!r}: no converted network (summary.json) matches {pattern!r}")
        conditions.setdefault(label, []).extend(networks)  # a label given twice joins its networks
    header = [
        "condition",
        "converted before",
        "converted after",
        "LIF accuracy before",
        "LIF accuracy after",
        "fine-tuned",
        "fine-tuned that reached 95 %",
        "median E / I rate of fine-tuned, before → after",
        "median wall time / peak RSS per fine-tuning",
    ]
    rows = [table_row(label, networks) for label, networks in conditions.items()]
    notes = (
        "Converted: ≥ 95 % on 200 fresh trials (Wilson 95 % intervals). Before: the run's own evaluation at "
        "the searched factor; after: the fine-tuned network on its run's 200 fresh trials (fused kernel, "
        "dt 0.05 ms, voltage noise on) where it was fine-tuned, else unchanged."
    )
    write_table(args.name, "Converted before → after surrogate-gradient fine-tuning", header, rows, notes)
    print(figure(conditions, args.name, args.title))


if __name__ == "__main__":
    main()
