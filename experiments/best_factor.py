"""Print the best scaling factor a conversion of ``source`` found at t_ref = 2 ms in an MLflow
experiment. Usage: ``python experiments/best_factor.py fig6 <source run id>``."""

from __future__ import annotations

import sys

from common import finished_runs, param

if __name__ == "__main__":
    experiment, source = sys.argv[1], sys.argv[2]
    runs = [
        r
        for r in finished_runs(experiment, "spikernn-convert")
        if param(r, "source") == source
        and float(param(r, "spiking.t_ref_ms")) == 2.0
        and float(param(r, "spiking.tau_rise_ms")) > 0
    ]
    if not runs:
        raise SystemExit(f"no t_ref = 2 ms conversion of {source} in MLflow experiment {experiment!r}")
    print(f"{runs[0].data.metrics['scaling_factor']:g}")
