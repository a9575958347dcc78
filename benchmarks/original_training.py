"""Train rate networks with the original, unmodified ``rate/main.py`` of rkim35/spikeRNN and compare
them with ours: training, weights, τ_d, and conversion by our LIF network.

The original code is never copied here. Give the folder of a checkout of rkim35/spikeRNN and the
Python of a separate TensorFlow virtualenv (never spikernn's, and never with torch in it)::

    python3 -m venv /work/tfvenv
    /work/tfvenv/bin/pip install tensorflow-cpu scipy "numpy<2.4"
    export SPIKERNN_ORIGINAL_DIR=/path/to/spikeRNN SPIKERNN_TF_PYTHON=/work/tfvenv/bin/python

    # 1. train K networks of the Fig. 7 sigmoid condition (N 250, τ 20–50 ms) with the original code
    python benchmarks/original_training.py train --out outputs/original --count 20 --jobs 2
    # 2. convert them (and ours) with spikernn-convert; any Hydra override may follow the sources
    python benchmarks/original_training.py convert --out outputs/original --label voltage \\
        outputs/original/net*/models/go-nogo/*/*.mat
    python benchmarks/original_training.py convert --out outputs/original --label voltage \\
        outputs/multiruns/train/<date>/*/rate_model.pt
    # 3. compare: our training run folders (rate_model.mat + summary.json) against the originals
    python benchmarks/original_training.py compare --out outputs/original --label voltage \\
        --ours outputs/multiruns/train/<date>/*

Without ``SPIKERNN_ORIGINAL_DIR`` the ``train`` step says so and exits 0 (skipped).

The original runs under TensorFlow 2's ``tf.compat.v1`` through ``original_tf_shim.py`` (beside this
file), which applies three pieces of glue at run time and edits none of its files. numpy must be
< 2.4 in that virtualenv: from 2.4 on, ``losses[tr] = t_loss`` (a 1 × 1 array into a scalar slot,
deprecated since numpy 1.25) is an error. The original seeds nothing, so its runs are not
reproducible; each is run in its own ``--output_dir`` (its file names carry the time to the second).
Threads: TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS = 1 per network (``--jobs`` networks at once).

``compare`` prints a markdown table, one row per quantity: median [IQR] (or the fraction) for the
original and ours, and the two-sided p of a Mann–Whitney U test (continuous) or Fisher's exact test
(fractions); it also writes ``<out>/comparison_<label>.json``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.io
import torch
from scipy import stats

ENV_ORIGINAL = "SPIKERNN_ORIGINAL_DIR"
ENV_TF_PYTHON = "SPIKERNN_TF_PYTHON"
SHIM = Path(__file__).with_name("original_tf_shim.py")
# Fig. 7, sigmoid: N = 250, τ 4–10 steps of 5 ms (20–50 ms), Dale, P_inh 0.2, gain 1.5, L2 loss
FIG7_SIGMOID = (
    "--N 250 --P_inh 0.2 --som_N 0 --apply_dale true --gain 1.5 --task go-nogo --act sigmoid "
    "--loss_fn l2 --decay_taus 4 10"
).split()
# the original's stopping rule (rate/main.py, Go-NoGo): evaluated after trial index tr with
# (tr − 1) % 100 == 0; stop when loss < 7, accuracy > 0.95 and tr > 1500
LOSS_THRESHOLD, ACCURACY_THRESHOLD, MIN_TRIAL_INDEX = 7.0, 0.95, 1500
CONVERTED = 0.95  # LIF accuracy on fresh trials counted as converted
RUN_FOLDER = re.compile(r"run folder (\S+?);")


# --- train ----------------------------------------------------------------------------------------


def original_main() -> Path | None:
    folder = os.environ.get(ENV_ORIGINAL)
    if not folder:
        return None
    main = Path(folder) / "rate" / "main.py"
    if not main.is_file():
        sys.exit(f"{ENV_ORIGINAL}={folder} holds no rate/main.py (give the root of a rkim35/spikeRNN checkout)")
    return main


def train_one(main: Path, python: str, out: Path, index: int, n_trials: int) -> dict:
    folder = out / f"net{index}"
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }
    cmd = [python, "-W", "ignore::DeprecationWarning", str(SHIM), str(main), "--gpu", "", "--gpu_frac", "0.2"]
    cmd += ["--n_trials", str(n_trials), "--mode", "train", "--output_dir", str(folder), *FIG7_SIGMOID]
    start = time.perf_counter()
    with open(folder / "log.txt", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False).returncode
    seconds = round(time.perf_counter() - start, 1)
    mats = sorted(folder.glob("models/*/*/*.mat"))
    record = {"index": index, "rc": rc, "seconds": seconds, "mat": str(mats[-1]) if mats else None}
    print(json.dumps(record), flush=True)
    return record


def cmd_train(args: argparse.Namespace) -> int:
    main = original_main()
    if main is None:
        print(f"skipped: set {ENV_ORIGINAL}=/path/to/spikeRNN (a checkout of rkim35/spikeRNN) to use the original code")
        return 0
    python = os.environ.get(ENV_TF_PYTHON)
    if not python:
        sys.exit(f"set {ENV_TF_PYTHON} to the python of a TensorFlow virtualenv (see this script's docstring)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    indices = range(args.first, args.first + args.count)
    with ThreadPoolExecutor(args.jobs) as pool:
        records = list(pool.map(lambda i: train_one(main, python, out, i, args.n_trials), indices))
    with open(out / "original_runs.jsonl", "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    return 0 if all(r["rc"] == 0 for r in records) else 1


# --- convert --------------------------------------------------------------------------------------


def cmd_convert(args: argparse.Namespace) -> int:
    sources = [s for s in args.items if "=" not in s]
    overrides = [s for s in args.items if "=" in s]
    convert = str(Path(sys.executable).with_name("spikernn-convert"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for source in sources:
        task = ["task=go_nogo"] if source.endswith(".mat") else []
        start = time.perf_counter()
        proc = subprocess.run(
            [convert, f"source={source}", *task, *overrides], capture_output=True, text=True, check=False
        )
        found = RUN_FOLDER.search(proc.stdout + proc.stderr)
        record = {
            "label": args.label,
            "source": str(Path(source).resolve()) if Path(source).exists() else source,
            "overrides": overrides,
            "rc": proc.returncode,
            "run_folder": found.group(1) if found else None,
            "seconds": round(time.perf_counter() - start, 1),
        }
        failed += proc.returncode != 0
        print(json.dumps(record), flush=True)
        with open(out / "conversions.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
    return 1 if failed else 0


# --- compare --------------------------------------------------------------------------------------


def network_statistics(mat: Path) -> dict:
    """Weights and τ_d of a reference-layout .mat file (ours or the original's), by our importer."""
    from spikernn.io import import_mat

    model = import_mat(mat, activation="sigmoid")
    with torch.no_grad():
        w = model.effective_weights().double()
        taus = model.taus_ms().double()
        exc = ~model.inhibitory
        nonzero = w != 0
        return {
            "tau_d_ms_mean": taus.mean().item(),
            "tau_d_ms_sd": taus.std().item(),
            "tau_d_at_bounds": ((taus < 21.0) | (taus > 49.0)).double().mean().item(),
            "taus_ms": taus.tolist(),
            "w_exc_mean": w[:, exc][nonzero[:, exc]].mean().item(),
            "w_inh_mean": w[:, ~exc][nonzero[:, ~exc]].mean().item(),
            "w_density": nonzero.double().mean().item(),
            "w_spectral_radius": torch.linalg.eigvals(w).abs().max().item(),
            "w_change_rms": (w - model.effective_weights(initial=True).double()).pow(2).mean().sqrt().item(),
            "w_out_abs_mean": model.w_out.detach().double().abs().mean().item(),
            "b_out": float(model.b_out),
            "n_inh": int(model.inhibitory.sum()),
        }


def original_training(mat: Path) -> dict:
    data = scipy.io.loadmat(mat)
    tr = int(np.asarray(data["tr"]).item())
    perf = float(np.asarray(data["eval_perf_mean"]).item())
    loss = float(np.asarray(data["eval_loss_mean"]).item())
    trained = (tr - 1) % 100 == 0 and tr > MIN_TRIAL_INDEX and perf > ACCURACY_THRESHOLD and loss < LOSS_THRESHOLD
    return {"trained": trained, "trials_to_criterion": tr + 1 if trained else None}


def conversions(out: Path, label: str) -> dict[str, dict]:
    """Source path → summary.json of its latest conversion under ``label``."""
    found: dict[str, dict] = {}
    path = out / "conversions.jsonl"
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["label"] == label and record["rc"] == 0 and record["run_folder"]:
            summary = Path(record["run_folder"]) / "summary.json"
            if summary.exists():
                found[record["source"]] = json.loads(summary.read_text())
    return found


def converted_fields(summary: dict | None) -> dict:
    if summary is None:
        return {}
    lif = summary.get("lif_accuracy")
    return {
        "rate_accuracy": summary.get("rate_accuracy"),
        "scaling_factor": summary.get("scaling_factor"),
        "lif_accuracy": lif,
        "search_accuracy": summary.get("search_accuracy"),
        "converted": lif is not None and lif >= CONVERTED,
        "converted_by_grid": (summary.get("search_accuracy") or 0) >= CONVERTED,
    }


def collect(out: Path, original: Path, label: str, ours: list[str]) -> tuple[list[dict], list[dict]]:
    converted = conversions(out, label)
    originals = []
    for mat in sorted(original.glob("*/models/*/*/*.mat")):
        originals.append(
            {
                "mat": str(mat),
                **original_training(mat),
                **network_statistics(mat),
                **converted_fields(converted.get(str(mat.resolve()))),
            }
        )
    mine = []
    for folder in map(Path, ours):
        summary_path = folder / "summary.json"
        if not summary_path.exists():
            continue
        summary = json.loads(summary_path.read_text())
        conv = None
        for name in ("rate_model.pt", "rate_model.mat"):
            conv = conv or converted.get(str((folder / name).resolve()))
        mine.append(
            {
                "run_folder": str(folder),
                "trained": bool(summary.get("trained")),
                "trials_to_criterion": summary.get("trials_to_criterion"),
                **network_statistics(folder / "rate_model.mat"),
                **converted_fields(conv),
            }
        )
    return originals, mine


CONTINUOUS = (
    ("trials_to_criterion", "trials to criterion", "{:.0f}"),
    ("rate_accuracy", "rate accuracy (our evaluation, fresh trials)", "{:.3f}"),
    ("tau_d_ms_mean", "τ_d mean per network (ms)", "{:.1f}"),
    ("tau_d_ms_sd", "τ_d SD per network (ms)", "{:.2f}"),
    ("tau_d_at_bounds", "fraction of τ_d within 1 ms of 20 or 50 ms", "{:.3f}"),
    ("w_exc_mean", "mean nonzero W_eff, E columns", "{:.4f}"),
    ("w_inh_mean", "mean nonzero W_eff, I columns", "{:.4f}"),
    ("w_density", "fraction of W_eff nonzero", "{:.4f}"),
    ("w_spectral_radius", "spectral radius of W_eff", "{:.3f}"),
    ("w_change_rms", "RMS change of W_eff in training", "{:.4f}"),
    ("w_out_abs_mean", "mean abs W_out", "{:.4f}"),
    ("b_out", "b_out", "{:.3f}"),
    ("scaling_factor", "best factor s", "{:.1f}"),
    ("search_accuracy", "best grid accuracy (100 trials)", "{:.3f}"),
    ("lif_accuracy", "LIF accuracy (200 fresh trials)", "{:.3f}"),
)
FRACTIONS = (
    ("trained", "met the training criterion"),
    ("converted", "converted (≥ 95 % on fresh trials)"),
    ("converted_by_grid", "converted by the best grid accuracy"),
)


def describe(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{fmt.format(med)} [{fmt.format(q1)}, {fmt.format(q3)}] (n {len(values)})"


def compare_rows(originals: list[dict], mine: list[dict]) -> list[dict]:
    rows = []
    for key, name in FRACTIONS:
        a = [bool(r[key]) for r in originals if key in r]
        b = [bool(r[key]) for r in mine if key in r]
        p = stats.fisher_exact([[sum(a), len(a) - sum(a)], [sum(b), len(b) - sum(b)]])[1] if a and b else None
        rows.append(
            {"quantity": name, "original": f"{sum(a)}/{len(a)}", "ours": f"{sum(b)}/{len(b)}", "p": p, "test": "Fisher"}
        )
    for key, name, fmt in CONTINUOUS:
        a = [r[key] for r in originals if r.get(key) is not None]
        b = [r[key] for r in mine if r.get(key) is not None]
        p = stats.mannwhitneyu(a, b).pvalue if a and b and len(set(a) | set(b)) > 1 else None
        rows.append(
            {"quantity": name, "original": describe(a, fmt), "ours": describe(b, fmt), "p": p, "test": "Mann–Whitney"}
        )
    pooled_a = [t for r in originals for t in r["taus_ms"]]
    pooled_b = [t for r in mine for t in r["taus_ms"]]
    if pooled_a and pooled_b:
        rows.append(
            {
                "quantity": "τ_d of all units pooled (ms; KS, units not independent)",
                "original": describe(pooled_a, "{:.1f}"),
                "ours": describe(pooled_b, "{:.1f}"),
                "p": stats.ks_2samp(pooled_a, pooled_b).pvalue,
                "test": "KS",
            }
        )
    return rows


def cmd_compare(args: argparse.Namespace) -> int:
    out = Path(args.out)
    ours = [p for pattern in args.ours for p in sorted(glob.glob(pattern))]
    originals, mine = collect(out, Path(args.original or args.out), args.label, ours)
    rows = compare_rows(originals, mine)
    print(f"| quantity | original `rate/main.py` (n {len(originals)}) | ours (n {len(mine)}) | p | test |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        p = "–" if row["p"] is None else f"{row['p']:.2g}"
        print(f"| {row['quantity']} | {row['original']} | {row['ours']} | {p} | {row['test']} |")
    for r in (*originals, *mine):
        r.pop("taus_ms")
    (out / f"comparison_{args.label}.json").write_text(
        json.dumps({"rows": rows, "original": originals, "ours": mine}, indent=2)
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train networks with the original rate/main.py")
    train.add_argument("--out", required=True)
    train.add_argument("--count", type=int, default=20)
    train.add_argument("--first", type=int, default=1, help="index of the first network folder (net<i>)")
    train.add_argument("--jobs", type=int, default=1)
    train.add_argument("--n-trials", type=int, default=6000, help="the original's --n_trials (training budget)")
    convert = sub.add_parser("convert", help="spikernn-convert each source; Hydra overrides may follow")
    convert.add_argument("--out", required=True)
    convert.add_argument("--label", required=True, help="names this set of conversions for compare")
    convert.add_argument("items", nargs="+", help="model files (.mat, .pt) or run ids, and key=value overrides")
    compare = sub.add_parser("compare", help="original vs our networks: table and two-sample tests")
    compare.add_argument("--out", required=True)
    compare.add_argument("--label", required=True)
    compare.add_argument("--original", help="folder of the original's net<i>/ runs (default: --out)")
    compare.add_argument("--ours", nargs="+", required=True, help="our train run folders (globs)")
    args = parser.parse_args(argv)
    return {"train": cmd_train, "convert": cmd_convert, "compare": cmd_compare}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
