"""The constrained rate RNN, its loss, and its training (Lightning).

The names load on first use (:mod:`lazy_loader`): the model's config imports without torch, so a
command checks it before the model is imported."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={"config": ["RateRNNConfig"], "model": ["RateOutput", "RateRNN", "rate_step", "trial_loss"]},
)
