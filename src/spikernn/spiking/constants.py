"""Constants shared by the torch simulator (:mod:`~spikernn.spiking.network`) and the fused kernel
(:mod:`~spikernn.spiking.fused_kernel`); this module imports nothing, so both import it without a cycle."""

RECORDABLE = ("spikes", "voltage", "rates", "ipsc")  # per-step recordings a simulation can return
READOUT_LANES = 8  # the readout's fixed summation order: lane l sums units l, l + 8, … (readout_sum)
PROGRESS_EVERY = 1000  # steps between progress callbacks
# Synaptic variables smaller in magnitude than the smallest normal float32 are set to 0 after every
# update (both backends): a silent unit's h, h_r (τ_r 2 ms) decay into subnormal numbers ~175 ms after
# its last input, and arithmetic on subnormals costs x86 CPUs a microcode assist per operation
# (a quiet trained network's factor search ran 4–5× slower on an Intel Xeon; benchmarks/README.md).
FLOAT32_MIN_NORMAL = 1.1754943508222875e-38
