#!/usr/bin/env bash
# The quick scale of the paper's figures (K networks per condition, 2 local workers), then the
# figure scripts; see experiments/README.md. The paper scale is the same with K=100 and a cluster
# launcher: K=100 LAUNCH="hydra/launcher=slurm hydra.launcher.partition=…" experiments/run_quick.sh
set -euo pipefail
cd "$(dirname "$0")/.."
K=${K:-3}            # networks per condition
K6=${K6:-2}          # networks for Fig. 6 (each is converted 21 times)
LAUNCH=${LAUNCH:-"hydra/launcher=joblib hydra.launcher.n_jobs=2"}
BIN=${BIN:-.venv/bin}
T_REFS=0,0.5,1,1.5,2,2.5,3,3.5,4,4.5,5,10,15,20,25,30,35,40,45,50

step() { echo "== $(date +%T) $*"; "$@"; }
step "$BIN/spikernn-run" experiment=fig2b
step "$BIN/spikernn-run" -m experiment=fig4 "seed=range(0,$K)" $LAUNCH
step "$BIN/spikernn-run" -m experiment=gonogo_n250 "seed=range(0,$K)" model.activation=sigmoid,softplus,clipped_relu $LAUNCH
step "$BIN/spikernn-run" -m experiment=gonogo_n250 "seed=range(0,$K)" model.tau_min_ms=35 model.tau_max_ms=null $LAUNCH
step "$BIN/spikernn-train" -m experiment=fig6 "seed=range(0,$K6)" $LAUNCH
ids=$("$BIN/python" experiments/run_ids.py fig6 spikernn-train)
step "$BIN/spikernn-convert" -m "source=$ids" logger.experiment_name=fig6 "spiking.t_ref_ms=$T_REFS" $LAUNCH
step "$BIN/spikernn-convert" -m "source=$ids" logger.experiment_name=fig6 spiking=lif_single_exp $LAUNCH
first=${ids%%,*}   # Fig. 6A with the factor held at the first network's 2-ms optimum
s2=$("$BIN/python" experiments/best_factor.py fig6 "$first")
step "$BIN/spikernn-convert" -m "source=$first" logger.experiment_name=fig6_fixed_factor "spiking.t_ref_ms=$T_REFS" \
    "transfer.scaling_factors=[$s2]" $LAUNCH
step "$BIN/spikernn-run" -m experiment=fig6c "seed=range(0,$K6)" model.gain=0.5,1.0,1.5,2.0,2.5,3.0 $LAUNCH
fig4=$("$BIN/python" experiments/run_ids.py fig4 spikernn-run)
step "$BIN/spikernn-convert" -m "source=$fig4" logger.experiment_name=figS7 spiking=qif $LAUNCH
step "$BIN/spikernn-train" -m experiment=fig1c "seed=range(0,$K)" model.n_units=10,50,100,200,400 $LAUNCH
step "$BIN/spikernn-run" -m experiment=figS3 "seed=range(0,$K)" $LAUNCH
step "$BIN/spikernn-run" -m experiment=figS4 "seed=range(0,$K)" $LAUNCH
for figure in fig1c fig2b fig4 fig5_fig7 fig6 fig6c_S7 figS3_S4 report; do
    step "$BIN/python" "experiments/$figure.py"
done
echo "== $(date +%T) done"
