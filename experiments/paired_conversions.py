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

from common import converted_fraction, finished_runs, paired_comparison, trained, write_table


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
    paired = paired_comparison(acc_a, acc_b)
    same = sum(a[s].data.metrics["scaling_factor"] == b[s].data.metrics["scaling_factor"] for s in seeds)
    n = len(seeds)
    write_table(
        args.name,
        f"The same {n} networks converted two ways: {args.a} (A) vs {args.b} (B)",
        ["quantity", "A", "B", "paired test"],
        [
            [
                "converted, fresh trials",
                converted_fraction(paired.converted_a, n),
                converted_fraction(paired.converted_b, n),
                f"discordant: {paired.only_a} only A, {paired.only_b} only B; McNemar exact p = {paired.mcnemar_p:.3g}",
            ],
            [
                "LIF accuracy, mean",
                f"{100 * sum(acc_a) / n:.1f} %",
                f"{100 * sum(acc_b) / n:.1f} %",
                f"B − A = {100 * sum(paired.diffs) / n:+.1f} points; Wilcoxon signed-rank p = {paired.wilcoxon_p:.3g}",
            ],
            ["same factor chosen", f"{same}/{n}", "", ""],
        ],  # fmt: skip
        f"Seeds {seeds[0]}–{seeds[-1]}, paired by seed (the same networks where both trained with the same "
        "settings). Converted: LIF accuracy ≥ 95 % on 200 fresh trials at the chosen factor.",
    )


if __name__ == "__main__":
    main()
