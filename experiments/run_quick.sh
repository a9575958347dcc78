#!/usr/bin/env bash
# The paper's figures at the quick scale (K networks per condition, a few sizes, 2 local workers),
# then the figure scripts; see experiments/README.md. SCALE=paper runs the paper's 100 networks per
# condition and its full size and τ_max grids, meant for a cluster launcher:
#   SCALE=paper LAUNCH="hydra/launcher=slurm hydra.launcher.partition=…" experiments/run_quick.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SCALE:-quick}" = paper ]; then
    K=100 K6=100 K3=100
    SIZES_1C=10,50,100,150,200,250,300,350,400
    SIZES_3=10,50,100,150,200,250,300,350,400,450,500
    TAU_MAX=null,50,100,150,200,250,300,400,500,600,700,800,900,1000
fi
K=${K:-3}            # networks per condition
K6=${K6:-2}          # networks for Fig. 6 (each is converted 21 times)
K3=${K3:-3}          # networks per size for Fig. 3 (batch-1 Mante training, up to 6000 trials each)
SIZES_1C=${SIZES_1C:-10,50,100,200,250,400}
SIZES_3=${SIZES_3:-10,50,100,250,500}
TAU_MAX=${TAU_MAX:-null,50,100,250,500,1000}   # Fig. 2D/E; null = τ fixed at τ_min = 20 ms
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
    "transfer.scaling_factor=$s2" $LAUNCH
step "$BIN/spikernn-run" -m experiment=fig6c "seed=range(0,$K6)" model.gain=0.5,1.0,1.5,2.0,2.5,3.0 $LAUNCH
fig4=$("$BIN/python" experiments/run_ids.py fig4 spikernn-run)
step "$BIN/spikernn-convert" -m "source=$fig4" logger.experiment_name=figS7 spiking=qif $LAUNCH
step "$BIN/spikernn-train" -m experiment=fig1c "seed=range(0,$K)" model.n_units=$SIZES_1C $LAUNCH
fig1c=$("$BIN/python" experiments/run_ids.py fig1c spikernn-train)
step "$BIN/spikernn-convert" -m "source=$fig1c" logger.experiment_name=fig2c $LAUNCH
step "$BIN/spikernn-run" -m experiment=fig2de "seed=range(0,$K)" model.tau_max_ms=$TAU_MAX $LAUNCH
step "$BIN/spikernn-train" -m experiment=fig3 "seed=range(0,$K3)" model.n_units=$SIZES_3 $LAUNCH
step "$BIN/spikernn-run" -m experiment=figS3 "seed=range(0,$K)" $LAUNCH
step "$BIN/spikernn-run" -m experiment=figS4 "seed=range(0,$K)" $LAUNCH
for figure in fig1c_fig3 fig2b fig2c fig2de fig4 fig5_fig7 fig6 fig6c_S7 figS1_S2 figS3_S4 report; do
    step "$BIN/python" "experiments/$figure.py"
done
echo "== $(date +%T) done"
