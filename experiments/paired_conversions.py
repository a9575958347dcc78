"""The same networks converted two ways: which converts more of them, tested on the pairs.

Two MLflow experiments (or one experiment's two conditions) whose ``spikernn-run`` runs share seeds
and training settings, e.g. the spiking network's voltage vs current noise, or the factor chosen by
the grid vs after re-scoring its best factors (``transfer.rescore_best``). Runs are paired by seed:

- converted (LIF accuracy ≥ 95 % on 200 fresh trials) in A and in B, with Wilson intervals;
- the discordant pairs (converted in one only) and McNemar's exact test on them;
- the mean paired difference of LIF accuracy and the Wilcoxon signed-rank test;
- how often the two chose the same factor.

    python experiments/paired_conversions.py p7_sig_n05 p7_sig_n05_rs --name rescore_paired
"""

from __future__ import annotations

import argparse

from common import CONVERTED, converted_fraction, finished_runs, trained, write_table
from scipy import stats


def by_seed(experiment: str) -> dict[str, object]:
    return {r.data.params["seed"]: r for r in trained(finished_runs(experiment, "spikernn-run"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="MLflow experiment A")
    parser.add_argument("b", help="MLflow experiment B")
    parser.add_argument("--name", default="paired_conversions", help="results/<name>.md")
    args = parser.parse_args()
    a, b = by_seed(args.a), by_seed(args.b)
    seeds = sorted(set(a) & set(b), key=int)
    if not seeds:
        raise SystemExit(f"no seed has a finished run in both {args.a!r} and {args.b!r}")
    acc_a = [a[s].data.metrics["lif_accuracy"] for s in seeds]
    acc_b = [b[s].data.metrics["lif_accuracy"] for s in seeds]
    ok_a, ok_b = [v >= CONVERTED for v in acc_a], [v >= CONVERTED for v in acc_b]
    only_a = sum(x and not y for x, y in zip(ok_a, ok_b, strict=True))
    only_b = sum(y and not x for x, y in zip(ok_a, ok_b, strict=True))
    mcnemar = stats.binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
    diffs = [y - x for x, y in zip(acc_a, acc_b, strict=True)]
    wilcoxon = stats.wilcoxon(diffs).pvalue if any(diffs) else 1.0
    same = sum(a[s].data.metrics["scaling_factor"] == b[s].data.metrics["scaling_factor"] for s in seeds)
    n = len(seeds)
    write_table(
        args.name,
        f"The same {n} networks converted two ways: {args.a} (A) vs {args.b} (B)",
        ["quantity", "A", "B", "paired test"],
        [
            [
                "converted, fresh trials",
                converted_fraction(sum(ok_a), n),
                converted_fraction(sum(ok_b), n),
                f"discordant: {only_a} only A, {only_b} only B; McNemar exact p = {mcnemar:.3g}",
            ],
            [
                "LIF accuracy, mean",
                f"{100 * sum(acc_a) / n:.1f} %",
                f"{100 * sum(acc_b) / n:.1f} %",
                f"B − A = {100 * sum(diffs) / n:+.1f} points; Wilcoxon signed-rank p = {wilcoxon:.3g}",
            ],
            ["same factor chosen", f"{same}/{n}", "", ""],
        ],  # fmt: skip
        f"Seeds {seeds[0]}–{seeds[-1]}, paired by seed (the same networks where both trained with the same "
        "settings). Converted: LIF accuracy ≥ 95 % on 200 fresh trials at the chosen factor.",
    )


if __name__ == "__main__":
    main()
