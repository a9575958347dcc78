"""Issue 12 quick check: the same trained networks converted under voltage and current noise, on
the reference grid and with factors below 20.

Reads the ``conversions.jsonl`` written by ``benchmarks/original_training.py convert`` (one record
per spikernn-convert run: label, source, run folder) and prints one markdown row per label:
converted on fresh trials (≥ 95 %, with a Wilson 95 % interval), converted by the best grid
accuracy, mean ± SD LIF accuracy, best factors. A label ``<name>_low`` holds runs on extra factors
only (e.g. ``transfer.scaling_factors=[10,12.5,15,17.5]``): the row ``<name> + low`` takes, per
network, the better of ``<name>`` and ``<name>_low`` by best grid accuracy (ties to the lower factor,
as the search does) with that run's fresh-trial score, i.e. the search over the union of both grids.

    python experiments/noise_modes.py outputs/quick_check/conversions.jsonl [--sources PATTERN]
"""

from __future__ import annotations

import argparse
import json
import math
from fnmatch import fnmatch
from pathlib import Path

from spikernn.plots.stats import wilson_interval

CONVERTED = 0.95


def load(path: Path, pattern: str) -> dict[str, dict[str, dict]]:
    """label → source → summary.json of its latest successful run."""
    runs: dict[str, dict[str, dict]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["rc"] != 0 or not record["run_folder"] or not fnmatch(record["source"], pattern):
            continue
        summary = json.loads((Path(record["run_folder"]) / "summary.json").read_text())
        summary["seconds_wall"] = record["seconds"]
        runs.setdefault(record["label"], {})[record["source"]] = summary
    return runs


def union(base: dict[str, dict], low: dict[str, dict]) -> dict[str, dict]:
    merged = {}
    for source, summary in base.items():
        other = low.get(source)
        if other is None:
            continue
        # the lower factors win ties, as the search's first-on-ties over an ascending grid
        merged[source] = other if other["search_accuracy"] >= summary["search_accuracy"] else summary
    return merged


def row(name: str, runs: dict[str, dict]) -> str:
    values = list(runs.values())
    n = len(values)
    lif = [v["lif_accuracy"] for v in values if v.get("lif_accuracy") is not None]
    k = sum(a >= CONVERTED for a in lif)
    k_grid = sum(v["search_accuracy"] >= CONVERTED for v in values)
    lo, hi = wilson_interval(k, n) if n else (math.nan, math.nan)
    mean = sum(lif) / len(lif) if lif else math.nan
    sd = math.sqrt(sum((a - mean) ** 2 for a in lif) / (len(lif) - 1)) if len(lif) > 1 else math.nan
    factors = sorted(v["scaling_factor"] for v in values)
    return (
        f"| {name} | {k}/{n} ({100 * lo:.0f}–{100 * hi:.0f} %) | {k_grid}/{n} | "
        f"{100 * mean:.1f} ± {100 * sd:.1f} % | {', '.join(f'{f:g}' for f in factors)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("conversions", type=Path)
    parser.add_argument("--sources", default="*", help="fnmatch pattern on the converted sources")
    args = parser.parse_args()
    runs = load(args.conversions, args.sources)
    print(
        "| noise, grid | converted, fresh trials (Wilson 95 %) | converted, best grid accuracy "
        "| LIF accuracy (200 fresh trials) | best factors s |"
    )
    print("| --- | --- | --- | --- | --- |")
    for label in sorted(runs):
        if label.endswith("_low"):
            continue
        print(row(f"{label}, reference grid 20–75", runs[label]))
        if f"{label}_low" in runs:
            print(row(f"{label}, grid 10–75", union(runs[label], runs[f"{label}_low"])))


if __name__ == "__main__":
    main()
