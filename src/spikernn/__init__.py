"""spikernn: functional spiking RNNs from trained rate RNNs (Kim, Li & Sejnowski, PNAS 2019).

Data flow: task -> rate model -> transfer (x 1/s) -> spiking model -> score -> log.
"""

import os
import sys
import warnings

# The fused kernels run numba ``prange`` loops. numba's OpenMP layer leaves its threads spinning
# after each kernel, starving the torch work in between (measured: a 10-µs torch op took 17 ms
# right after a kernel, a training step 3× longer); its own workqueue layer lets them sleep.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
if "numba" in sys.modules:  # imported before us: set it where numba reads it
    sys.modules["numba"].config.THREADING_LAYER = os.environ["NUMBA_THREADING_LAYER"]

# Lightning 2.6 imports torch's deprecated LeafSpec: a FutureWarning on every command, not ours to fix
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")

__version__ = "0.1.0"
