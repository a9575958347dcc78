"""Model files: torch format and the reference .mat layout, with checks on bad files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch

from spikernn.io import ModelInfo, export_mat, import_mat, load_rate_model, save_rate_model
from spikernn.io.mat_format import REQUIRED_KEYS
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.validation import ConfigError


def trained_like(seed: int = 0, **kwargs) -> RateRNN:
    model = RateRNN(RateRNNConfig(n_units=30, **kwargs), seed=seed)
    with torch.no_grad():
        model.w.add_(0.1 * torch.randn(30, 30))  # raw W drifts negative in places, as in training
        model.tau_raw.add_(0.5)
        model.w_out.mul_(3)
        model.b_out.fill_(0.25)
    return model


def test_mat_round_trip_preserves_the_network(tmp_path) -> None:
    model = trained_like(sst_n=2, taus_ms=[20.0, 50.0])
    export_mat(tmp_path / "m.mat", model, {"opt_scaling_factor": 30.0})
    data = scipy.io.loadmat(tmp_path / "m.mat")
    assert set(REQUIRED_KEYS) <= set(data)
    assert np.all(data["w"] >= 0)  # the reference stores relu(W)
    assert np.allclose(data["taus"], [4.0, 10.0])  # 5-ms steps
    assert data["opt_scaling_factor"].item() == 30.0
    back = import_mat(tmp_path / "m.mat")
    assert torch.equal(back.effective_weights(), model.effective_weights().detach())
    assert torch.allclose(back.taus_ms(), model.taus_ms())
    assert torch.equal(back.w_in, model.w_in) and torch.equal(back.w_out, model.w_out.detach())
    assert back.b_out.item() == pytest.approx(0.25)
    assert torch.equal(back.inhibitory, model.inhibitory) and back.config.sst_n == 2
    inputs = torch.zeros(2, 201, 1)
    same = [m(inputs, noise=False, generator=torch.Generator().manual_seed(1)).readout for m in (model, back)]
    assert torch.allclose(*same)


def test_mat_fixed_tau_and_no_dale(tmp_path) -> None:
    model = trained_like(taus_ms=[35.0], apply_dale=False)
    export_mat(tmp_path / "m.mat", model)
    back = import_mat(tmp_path / "m.mat")
    assert back.config.taus_ms == [35.0] and not back.config.apply_dale
    assert torch.equal(back.effective_weights(), model.effective_weights().detach())


def test_mat_missing_keys_are_named(tmp_path) -> None:
    model = trained_like()
    export_mat(tmp_path / "m.mat", model)
    data = {
        k: v
        for k, v in scipy.io.loadmat(tmp_path / "m.mat").items()
        if k not in ("taus_gaus", "som_m") and not k.startswith("__")
    }
    scipy.io.savemat(tmp_path / "bad.mat", data)
    with pytest.raises(ConfigError, match=r"lacks the reference keys \['som_m', 'taus_gaus'\]"):
        import_mat(tmp_path / "bad.mat")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("w", np.zeros((30, 29)), r"w in the .mat file must have shape \(30, 30\)"),
        ("w_out", np.zeros((1, 31)), r"w_out in the .mat file must have shape \(n_outputs, 30\)"),
        ("b_out", np.zeros((1, 2)), r"b_out must hold one number per output \(1\)"),
        ("w_in", np.zeros((29, 1)), r"w_in in the .mat file must have shape \(30, n_inputs\)"),
        ("taus", np.array([1.0, 2.0, 3.0]), "taus in the .mat file must hold 1 or 2 values"),
    ],
)
def test_mat_mismatched_shapes_are_named(tmp_path, key: str, value: np.ndarray, message: str) -> None:
    export_mat(tmp_path / "m.mat", trained_like())
    data = scipy.io.loadmat(tmp_path / "m.mat")
    data[key] = value
    scipy.io.savemat(tmp_path / "bad.mat", {k: v for k, v in data.items() if not k.startswith("__")})
    with pytest.raises(ConfigError, match=message):
        import_mat(tmp_path / "bad.mat")


def test_torch_round_trip_with_weights_only(tmp_path) -> None:
    model = trained_like(activation="softplus")
    save_rate_model(tmp_path / "m.pt", model, ModelInfo(task="go_nogo", scaling_factor=12.0))
    payload = torch.load(tmp_path / "m.pt", weights_only=True)  # must not need pickle of our classes
    assert payload["extra"]["scaling_factor"] == 12.0
    assert payload["extra"] == {"task": "go_nogo", "scaling_factor": 12.0}
    back, info = load_rate_model(tmp_path / "m.pt")
    assert info == ModelInfo(task="go_nogo", scaling_factor=12.0)
    assert back.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_failed_save_keeps_the_existing_file(tmp_path, monkeypatch) -> None:
    model = trained_like()
    path = save_rate_model(tmp_path / "m.pt", model)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="model.dt_ms must be 5.0 ms"):
        export_mat(tmp_path / "m.pt", RateRNN(RateRNNConfig(n_units=5, dt_ms=2.0)))

    def crash_mid_write(obj, f) -> None:
        with open(f, "wb") as fh:
            fh.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_rate_model(path, model)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary files left behind


def test_a_model_file_with_the_old_som_n_key_still_loads(tmp_path) -> None:
    """Files written before ``model.som_n`` was renamed ``model.sst_n`` keep their SST units."""
    model = trained_like(sst_n=2, taus_ms=[20.0, 50.0])
    path = save_rate_model(tmp_path / "old.pt", model, ModelInfo(task="go_nogo"))
    payload = torch.load(path, weights_only=True)
    payload["config"]["som_n"] = payload["config"].pop("sst_n")
    torch.save(payload, path)
    back, _ = load_rate_model(path)
    assert back.config.sst_n == 2 and torch.equal(back.sst_units, model.sst_units)
