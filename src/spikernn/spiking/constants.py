"""Constants shared by the torch simulator (:mod:`~spikernn.spiking.network`) and the fused kernel
(:mod:`~spikernn.spiking.fused`); this module imports nothing, so both import it without a cycle."""

RECORDABLE = ("spikes", "voltage", "rates", "ipsc")  # per-step recordings a simulation can return
READOUT_LANES = 8  # the readout's fixed summation order: lane l sums units l, l + 8, … (readout_sum)
PROGRESS_EVERY = 1000  # steps between progress callbacks
