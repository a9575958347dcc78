"""``spikernn-run``: train → convert → factor search → evaluate, written to a run folder."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from spikernn.apps.config import build_run_config, config_dir
from spikernn.apps.progress import PhaseProgress
from spikernn.pipeline import run_pipeline
from spikernn.validation import ConfigError


def _discard_empty_run_dir(out_dir: Path) -> None:
    """Remove a run folder that holds nothing but Hydra's own bookkeeping."""
    if out_dir.is_dir() and all(p.name in {".hydra", "run.log"} for p in out_dir.iterdir()):
        shutil.rmtree(out_dir)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="run")
def main(cfg: DictConfig) -> dict | None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run_cfg = build_run_config(cfg)
    except ConfigError as err:
        _discard_empty_run_dir(out_dir)
        print(f"spikernn-run: invalid config: {err}", file=sys.stderr)
        sys.exit(2)
    # the rate net's matrices are small: one intra-op thread is faster, and much faster on a loaded machine
    torch.set_num_threads(1)
    print(f"spikernn-run: task={run_cfg.task} N={run_cfg.model.n_units} → run folder {out_dir}")
    with PhaseProgress() as progress:
        summary = run_pipeline(run_cfg, out_dir, progress)
    keys = ("task", "N", "trained", "trials_to_criterion", "rate_accuracy", "scaling_factor", "lif_accuracy", "seconds")
    print(json.dumps({k: summary[k] for k in keys}, indent=2))
    print(f"spikernn-run: results in {out_dir}")
    return summary


if __name__ == "__main__":
    main()
