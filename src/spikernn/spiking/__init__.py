"""Spiking units (snnTorch neurons with explicit state) and the recurrent spiking network.

The names load on first use (:mod:`lazy_loader`): the parameters import without torch, so a
command checks them before the simulation modules are imported."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "network": ["SpikingResult", "SpikingRNN"],
        "neurons": ["IntegrateAndFire", "MembraneState", "SynapseState", "membrane_step", "synapse_step"],
        "parameters": ["SpikingParameters", "Stimulation"],
    },
)
