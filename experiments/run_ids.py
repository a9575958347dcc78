"""Print the run ids of the FINISHED runs of a command in an MLflow experiment, comma-separated
(for a Hydra multirun over ``source=``). Usage: ``python experiments/run_ids.py fig6 spikernn-train``."""

from __future__ import annotations

import sys

from common import finished_runs, trained

if __name__ == "__main__":
    experiment, command = sys.argv[1], sys.argv[2]
    runs = trained(finished_runs(experiment, command))
    if not runs:
        raise SystemExit(f"no trained {command} runs in MLflow experiment {experiment!r}")
    print(",".join(r.info.run_id for r in runs))
