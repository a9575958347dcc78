#!/usr/bin/env bash
# Run every benchmark in benchmarks/ and keep their output under outputs/benchmarks/.
# Usage: benchmarks/run_all.sh            (from the repository root; ~15–60 min on 2 cores, mostly rate training)
#        QUICK=1 benchmarks/run_all.sh    (smaller baselines, one rate-training run per task)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=outputs/benchmarks
mkdir -p "$OUT"
stamp=$(date +%Y%m%d-%H%M%S)
if [[ -n "${QUICK:-}" ]]; then
    search_args=(--torch-threads 1 --torch-trials 2 --loop-trials 1)
    training_args=(--runs go_nogo:8:0.01:6000 mante:8:0.03:20000)
else
    search_args=(--torch-threads 1)  # torch on 2 threads crawls when another job holds a core
    training_args=()
fi
run() {
    local name=$1
    shift
    echo "== $name: $*"
    "$PY" "$@" 2>&1 | tee "$OUT/$name-$stamp.txt"
}
run spiking_search_go_nogo benchmarks/spiking_search.py "${search_args[@]}"
run spiking_search_mante benchmarks/spiking_search.py --task mante "${search_args[@]}"
run rate_training benchmarks/rate_training.py "${training_args[@]}"
echo "outputs in $OUT/*-$stamp.txt"
