"""Parameters of the constrained rate RNN, with the paper's defaults and units in the names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from spikernn.validation import ConfigError, check_choice, check_int, check_range

ACTIVATION_NAMES = ("sigmoid", "softplus", "clipped_relu")  # the functions: rate.activations.ACTIVATIONS
MAX_UNITS = 10_000  # largest N configured or read from a file: N×N float64 matrices of 800 MB each


@dataclass
class RateRNNConfig:
    """The rate network of SPEC §1.

    ``taus_ms``: two values (min, max) = per-unit trainable synaptic decay in that range;
    one value = the same fixed τ for every unit (not trained).
    """

    n_units: int = 200  # N
    n_inputs: int = 1  # the task's (set from it by the commands)
    n_outputs: int = 1  # readouts: one (the paper's tasks), or one per choice (set from the task)
    p_inh: float = 0.2  # probability a unit is inhibitory, in [0, 1)
    p_rec: float = 0.2  # initial connection probability, in (0, 1]
    gain: float = 1.5  # g of the initial weights N(0, 1)·g/sqrt(N·p_rec)
    sst_n: int = 0  # SST units: the first sst_n inhibitory units get no inhibitory input
    apply_dale: bool = True  # Dale's principle: relu(W) signed by the presynaptic unit
    weight_distribution: str = "gaus"  # gaus or gamma (Gamma(2, 0.003))
    activation: str = "sigmoid"  # sigmoid, softplus or clipped_relu
    taus_ms: list[float] = field(default_factory=lambda: [20.0, 100.0])  # synaptic decay τ range (ms)
    dt_ms: float = 5.0  # time step (ms)
    noise_std: float = 0.1  # state noise ξ per step
    initial_state_std: float = 0.01  # x_0 ~ N(0, 1)/100
    loss: str = "l2"  # l2 = sqrt(Σ_t (o_t − z_t)²) per trial, or l1

    def __post_init__(self) -> None:
        check_int("model.n_units", self.n_units, 1)
        check_int("model.n_inputs", self.n_inputs, 1)
        check_int("model.n_outputs", self.n_outputs, 1)
        check_range("model.p_inh", self.p_inh, 0.0, 1.0, hi_open=True)
        check_range("model.p_rec", self.p_rec, 0.0, 1.0, lo_open=True)
        check_range("model.gain", self.gain, 0.0, lo_open=True)
        check_int("model.sst_n", self.sst_n, 0, self.n_units)
        check_choice("model.weight_distribution", self.weight_distribution, ("gaus", "gamma"))
        check_choice("model.activation", self.activation, ACTIVATION_NAMES)
        check_choice("model.loss", self.loss, ("l2", "l1"))
        self.taus_ms = [float(t) if isinstance(t, int) and not isinstance(t, bool) else t for t in self.taus_ms]
        if len(self.taus_ms) not in (1, 2):
            raise ConfigError(
                f"model.taus_ms must hold one value (fixed τ) or two (τ_min, τ_max), got {self.taus_ms!r}"
            )
        for name, tau in zip(("model.tau_min_ms", "model.tau_max_ms"), self.taus_ms, strict=False):
            check_range(name, tau, 0.0, lo_open=True)
        if len(self.taus_ms) == 2 and self.taus_ms[0] > self.taus_ms[1]:
            raise ConfigError(
                f"model.tau_min_ms must be ≤ model.tau_max_ms ({self.taus_ms[1]} ms), got {self.taus_ms[0]}"
            )
        check_range("model.dt_ms", self.dt_ms, 0.0, lo_open=True)
        if min(self.taus_ms) < self.dt_ms:
            raise ConfigError(f"model.tau_min_ms must be ≥ model.dt_ms ({self.dt_ms:g} ms), got {min(self.taus_ms)}")
        check_range("model.noise_std", self.noise_std, 0.0)
        check_range("model.initial_state_std", self.initial_state_std, 0.0)
        if not isinstance(self.apply_dale, bool):
            raise ConfigError(f"model.apply_dale must be true or false, got {self.apply_dale!r}")

    @property
    def trainable_tau(self) -> bool:
        return len(self.taus_ms) == 2

    def to_dict(self) -> dict:
        return asdict(self)
