"""Issue 34: NeuroGym tasks at n ≥ 10 networks each — collect a population launch, then the table.

A condition is the member folders of one ``spikernn-run -m experiment=<preset> 'seed=range(10)'
hydra/launcher=population`` launch; each network's numbers (from its ``summary.json``) are appended to
``results/neurogym_<preset>_networks.csv`` (seeds already there are skipped, so the CSV in the
repository is the record, not the run folders). ``--report`` writes ``results/neurogym.md`` from the
CSVs alone: trained fraction, rate accuracy, converted fraction (LIF accuracy ≥ 95 % on 200 fresh
trials, and ≥ 95 % of the network's own rate accuracy) with Wilson 95 % intervals, LIF accuracy,
chosen factors and E/I rates.

    python experiments/neurogym_tasks.py neurogym_pdm 'outputs/multiruns/run/<date>/*'
    python experiments/neurogym_tasks.py --report
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
from pathlib import Path

from common import CONVERTED, RESULTS, NetworkTable, Sample, converted_fraction, write_table

FIELDS = ["seed", "env", "trained", "trials_to_criterion", "rate_accuracy", "scaling_factor", "lif_accuracy",
          "lif_exc_hz", "lif_inh_hz", "seconds"]  # fmt: skip
PRESETS = {  # preset → what it is (conf/experiment/<preset>.yaml)
    "neurogym_pdm": "PerceptualDecisionMaking (2 choices; coherence 25.6 / 51.2 %)",
    "neurogym_gonogo": "GoNogo (respond / withhold; no delay)",
    "neurogym_pdm_delay": "PerceptualDecisionMaking with a 300-ms delay before the response (2 choices)",
    "neurogym_pdm3": "PerceptualDecisionMaking with 3 choices (dim_ring = 3; a readout per choice)",
    "neurogym_antireach": "AntiReach, 4 directions, 200-ms delay (point opposite the cue; a readout per direction)",
    "neurogym_dms": "DelayMatchSample (match / non-match; 100-ms delay)",
    "neurogym_cdm": "ContextDecisionMaking (2 choices; the context says which modality counts)",
}


def collect(preset: str, pattern: str) -> None:
    table = NetworkTable(f"neurogym_{preset.removeprefix('neurogym_')}", FIELDS)
    done = table.done_seeds()
    for path in sorted(glob.glob(str(Path(pattern) / "summary.json"))):
        summary = json.loads(Path(path).read_text())
        if summary["seed"] in done:
            continue
        config = Path(path).parent / ".hydra" / "config.yaml"
        env = next((line.split(":", 1)[1].strip() for line in config.read_text().splitlines()
                    if line.strip().startswith("env:")), "")  # fmt: skip
        table.append({"env": env, **{k: summary.get(k) for k in FIELDS if k != "env"}})
        print(preset, summary["seed"], summary.get("lif_accuracy"))


def _numbers(rows: list[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) not in (None, "", "None")]


def report() -> None:
    body = []
    for preset, label in PRESETS.items():
        rows = NetworkTable(f"neurogym_{preset.removeprefix('neurogym_')}", FIELDS).rows()
        if not rows:
            continue
        trained = [r for r in rows if r["trained"] == "True"]
        lif, rate = _numbers(trained, "lif_accuracy"), _numbers(trained, "rate_accuracy")
        relative = sum(float(r["lif_accuracy"]) >= CONVERTED * float(r["rate_accuracy"]) for r in trained)
        factors = _numbers(trained, "scaling_factor")
        body.append([
            f"`experiment={preset}`: {label}",
            f"{len(trained)}/{len(rows)}",
            Sample(rate).mean_sd(),
            converted_fraction(sum(v >= CONVERTED for v in lif), len(lif)),
            converted_fraction(relative, len(trained)),
            Sample(lif).mean_sd(),
            f"{statistics.median(factors):g} ({min(factors):g}–{max(factors):g})" if factors else "–",
            " / ".join(f"{Sample(_numbers(trained, key)).mean(1):.1f}" for key in ("lif_exc_hz", "lif_inh_hz")),
        ])  # fmt: skip
    write_table(
        "neurogym",
        "NeuroGym tasks through population training (issue 34)",
        [
            "task",
            "trained",
            "rate accuracy",
            "converted (LIF ≥ 95 %)",
            "LIF ≥ 95 % of rate",
            "LIF accuracy",
            "factor s, median (range)",
            "E / I rate (Hz)",
        ],  # fmt: skip
        body,
        "Each network trained (criterion: eval loss < 7 and accuracy > 95 % on 100 fresh trials) and converted "
        "by `spikernn-run` with the preset; accuracies on 200 fresh trials; the reference sigmoid grid 20–75. "
        f"Per-network numbers: `results/neurogym_*_networks.csv` ({RESULTS.name}/). Made by "
        "`python experiments/neurogym_tasks.py --report`.",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", nargs="?", choices=sorted(PRESETS))
    parser.add_argument("runs", nargs="?", help="glob of the launch's member folders")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.preset and args.runs:
        collect(args.preset, args.runs)
    if args.report or not args.preset:
        report()
