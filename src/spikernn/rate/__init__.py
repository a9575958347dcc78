"""The constrained rate RNN, its loss, and its training (Lightning)."""

from spikernn.rate.config import RateRNNConfig
from spikernn.rate.model import RateOutput, RateRNN, rate_step, trial_loss

__all__ = ["RateOutput", "RateRNN", "RateRNNConfig", "rate_step", "trial_loss"]
