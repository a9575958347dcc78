"""Parameters of the spiking network (SPEC §3, SI Table S1), units in the names."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spikernn.validation import ConfigError, check_choice, check_range

NOISE_MODES = ("voltage", "current")
SPIKE_GRADS = ("fast_sigmoid", "sigmoid", "atan", "straight_through")  # snntorch.surrogate.<name>


@dataclass
class SpikingParameters:
    """LIF (default) or QIF units with double- or single-exponential synapses.

    ``tau_rise_ms`` = 0 selects the single-exponential synapse. Currents are in mV (unit
    resistance).

    Noise (``noise_mode``), one independent draw per unit and per ``dt_ms`` step:

    * ``"voltage"`` (default; the public ``LIF_network_fnc.m``): ξ ~ N(0, ``noise_std_mv``²) mV
      added straight to v every step, also when refractory;
    * ``"current"`` (the paper's Methods, Eq. 7: ``I_ext = W_in u + N(0, 0.01)``, variance 0.01,
      so σ = ``current_noise_std_mv`` = 0.1): ξ ~ N(0, ``current_noise_std_mv``²) added to the
      input current, so it reaches v as (dt/τ_m)·ξ, and not while refractory. "White" noise is
      read as a fresh draw every integration step, as the rate model draws one every 5-ms step.

    Only the selected mode's amplitude is used.

    ``spike_grad`` / ``spike_grad_slope``: the snnTorch surrogate gradient of the spike (used only
    when gradients flow: fine-tuning), on the voltage in units of v_th − v_reset (see
    :func:`spikernn.spiking.neurons.spike_gradient`); the simulated spikes do not depend on it.
    """

    neuron: str = "lif"  # lif or qif (dv = (v² + I)/τ_m; conf/spiking/qif.yaml: v_th_mv 30, i_bias_mv 0)
    dt_ms: float = 0.05  # integration step (ms); must divide the task's 5-ms input step
    tau_m_ms: float = 10.0  # membrane time constant (ms)
    t_ref_ms: float = 2.0  # absolute refractory period (ms)
    v_th_mv: float = -40.0  # spike threshold (QIF: spike peak) (mV)
    v_reset_mv: float = -65.0  # reset voltage (mV)
    i_bias_mv: float = -40.0  # bias current (pA at unit resistance = mV)
    v_init_min_mv: float = -65.0  # initial voltages uniform in [min, max] (mV)
    v_init_max_mv: float = 30.0
    tau_rise_ms: float = 2.0  # synaptic rise time (ms); 0 = single-exponential synapse
    noise_std_mv: float = 0.1  # σ of the voltage noise per step (mV), noise_mode voltage
    noise_mode: str = "voltage"  # voltage (LIF_network_fnc.m) or current (paper Methods)
    current_noise_std_mv: float = 0.1  # σ of the current noise (mV; Methods' variance 0.01), noise_mode current
    spike_grad: str = "fast_sigmoid"  # surrogate gradient for fine-tuning (snntorch.surrogate.<name>)
    spike_grad_slope: float = 25.0  # its slope, on v in units of v_th − v_reset (snnTorch's default)

    def __post_init__(self) -> None:
        check_choice("spiking.neuron", self.neuron, ("lif", "qif"))
        check_range("spiking.dt_ms", self.dt_ms, 0.0, 1.0, lo_open=True)
        check_range("spiking.tau_m_ms", self.tau_m_ms, 0.0, lo_open=True)
        check_range("spiking.t_ref_ms", self.t_ref_ms, 0.0)
        check_range("spiking.tau_rise_ms", self.tau_rise_ms, 0.0)
        check_range("spiking.noise_std_mv", self.noise_std_mv, 0.0)
        check_choice("spiking.noise_mode", self.noise_mode, NOISE_MODES)
        check_range("spiking.current_noise_std_mv", self.current_noise_std_mv, 0.0)
        check_choice("spiking.spike_grad", self.spike_grad, SPIKE_GRADS)
        check_range("spiking.spike_grad_slope", self.spike_grad_slope, 0.0, lo_open=True)
        for name in ("v_th_mv", "v_reset_mv", "i_bias_mv", "v_init_min_mv", "v_init_max_mv"):
            check_range(f"spiking.{name}", getattr(self, name))
        if self.v_reset_mv >= self.v_th_mv:
            raise ConfigError(
                f"spiking.v_reset_mv must be below spiking.v_th_mv ({self.v_th_mv} mV), got {self.v_reset_mv}"
            )
        if self.v_init_min_mv > self.v_init_max_mv:
            raise ConfigError(
                f"spiking.v_init_min_mv must be ≤ spiking.v_init_max_mv ({self.v_init_max_mv} mV), "
                f"got {self.v_init_min_mv}"
            )

    @property
    def refractory_steps(self) -> int:
        """Absolute refractory period in steps of dt."""
        return round(self.t_ref_ms / self.dt_ms)

    @property
    def voltage_noise_mv(self) -> float:
        """σ of the noise added to v each step (0 unless ``noise_mode`` is "voltage")."""
        return self.noise_std_mv if self.noise_mode == "voltage" else 0.0

    @property
    def current_noise_mv(self) -> float:
        """σ of the noise added to the input current each step (0 unless ``noise_mode`` is "current")."""
        return self.current_noise_std_mv if self.noise_mode == "current" else 0.0

    @property
    def double_exponential(self) -> bool:
        return self.tau_rise_ms > 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Stimulation:
    """Optogenetic-style stimulation: during [start_ms, stop_ms) each step, with probability
    ``probability`` (one draw per trial), add ``+amplitude_mv`` ("exc") or ``−amplitude_mv``
    ("inh") to the voltage of ``units``."""

    mode: str
    units: list[int]
    start_ms: float
    stop_ms: float
    amplitude_mv: float = 0.5
    probability: float = 0.5

    def __post_init__(self) -> None:
        check_choice("stimulation.mode", self.mode, ("exc", "inh"))
        check_range("stimulation.probability", self.probability, 0.0, 1.0)
        check_range("stimulation.start_ms", self.start_ms, 0.0)
        check_range("stimulation.stop_ms", self.stop_ms, self.start_ms)
