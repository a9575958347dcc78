"""spikernn: functional spiking RNNs from trained rate RNNs (Kim, Li & Sejnowski, PNAS 2019).

Data flow: task -> rate model -> transfer (x 1/s) -> spiking model -> score -> log.
"""

__version__ = "0.1.0"
