"""Spiking units (snnTorch neurons with explicit state) and the recurrent spiking network."""

from spikernn.spiking.network import SpikingResult, SpikingRNN, Stimulation
from spikernn.spiking.neurons import IntegrateAndFire, MembraneState, SynapseState, membrane_step, synapse_step
from spikernn.spiking.parameters import SpikingParameters

__all__ = [
    "IntegrateAndFire",
    "MembraneState",
    "SpikingParameters",
    "SpikingRNN",
    "SpikingResult",
    "Stimulation",
    "SynapseState",
    "membrane_step",
    "synapse_step",
]
