"""Rate and converted models logged as MLflow models, found again by ``runs:/`` and ``models:/``."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from spikernn.io import ModelInfo, load_rate_model, save_rate_model
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.spiking import SpikingParameters
from spikernn.tasks import get_task
from spikernn.tracking.models import ConvertedNetwork, log_run_models
from spikernn.tracking.sources import resolve_model_source
from spikernn.tracking.store import ensure_experiment, open_tracking_store
from spikernn.validation import ConfigError, ModelFileError

TASK = get_task("go_nogo")
ARTIFACTS = ("rate_model.pt", "converted_model.pt")


def _store(tmp_path: Path) -> tuple[str, MlflowClient, str]:
    uri = open_tracking_store(None, tmp_path / "out")
    client = MlflowClient(uri)
    return uri, client, ensure_experiment(client, "models", tmp_path / "out", uri)


def _logged_run(tmp_path: Path, model: RateRNN, register_as: str | None) -> tuple[str, str]:
    """A finished run that wrote and logged a rate model and its conversion at s = 20."""
    uri, client, experiment = _store(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    save_rate_model(out / "rate_model.pt", model, ModelInfo(task=TASK.name, trained=True))
    spiking = SpikingParameters(dt_ms=0.25)
    save_rate_model(out / "converted_model.pt", model, ModelInfo(task=TASK.name, scaling_factor=20.0, spiking=spiking))
    run_id = client.create_run(experiment).info.run_id
    infos = log_run_models(uri, run_id, out, TASK.name, register_as)
    client.set_terminated(run_id)
    assert [i.name for i in infos] == ["rate_model", "spiking_model"]
    assert infos[-1].registered_model_version == (1 if register_as else None)
    return uri, run_id


def test_a_fine_tuned_run_logs_and_registers_its_fine_tuned_network(tmp_path: Path) -> None:
    """spikernn-run with fine-tuning writes the converted and the fine-tuned network: both are
    models; the fine-tuned one, the run's result, is registered and is what a run id gives."""
    uri, client, experiment = _store(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    converted, finetuned = RateRNN(RateRNNConfig(n_units=20), seed=5), RateRNN(RateRNNConfig(n_units=20), seed=6)
    spiking = SpikingParameters()
    save_rate_model(out / "rate_model.pt", converted, ModelInfo(task=TASK.name, trained=True))
    save_rate_model(
        out / "converted_model.pt", converted, ModelInfo(task=TASK.name, scaling_factor=20.0, spiking=spiking)
    )
    save_rate_model(
        out / "finetuned_model.pt",
        finetuned,
        ModelInfo(task=TASK.name, scaling_factor=22.0, spiking=spiking, finetuned=True),
    )
    run_id = client.create_run(experiment).info.run_id
    for file in out.iterdir():
        client.log_artifact(run_id, str(file))
    infos = log_run_models(uri, run_id, out, TASK.name, register_as="tuned")
    assert [i.name for i in infos] == ["rate_model", "spiking_model", "finetuned_spiking_model"]
    assert [i.registered_model_version for i in infos] == [None, None, 1]
    final = ("finetuned_model.pt", "converted_model.pt")  # spikernn-evaluate's order
    for source in (f"runs:/{run_id}/finetuned_spiking_model", "models:/tuned/1", run_id):
        loaded, stored = load_rate_model(resolve_model_source(source, uri, final, tmp_path / f"dl{len(source)}"))
        _same_weights(finetuned, loaded)
        assert stored.scaling_factor == 22.0 and stored.finetuned, source
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/finetuned_spiking_model")
    assert model.metadata.metadata["scaling_factor"] == 22.0


def _same_weights(a: RateRNN, b: RateRNN) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_models_are_logged_and_found_by_runs_and_models_uris(tmp_path: Path) -> None:
    model = RateRNN(RateRNNConfig(n_units=20), seed=5)
    uri, run_id = _logged_run(tmp_path, model, register_as="gonogo")
    run = MlflowClient(uri).get_run(run_id)
    assert len(run.outputs.model_outputs) == 2  # the run page's "Logged models"
    for source, expected in (
        (f"runs:/{run_id}/rate_model", "rate_model.pt"),
        (f"runs:/{run_id}/spiking_model", "converted_model.pt"),
        ("models:/gonogo/1", "converted_model.pt"),
    ):
        path = resolve_model_source(source, uri, ARTIFACTS, tmp_path / f"dl{len(source)}")
        assert path.name == expected, source
        loaded, stored = load_rate_model(path)
        _same_weights(model, loaded)
    assert stored.scaling_factor == 20.0


def test_pyfunc_predicts_the_library_readouts(tmp_path: Path) -> None:
    model = RateRNN(RateRNNConfig(n_units=20), seed=5)
    uri, run_id = _logged_run(tmp_path, model, register_as=None)
    mlflow.set_tracking_uri(uri)
    inputs = TASK.make_trials(3, torch.Generator().manual_seed(1)).inputs
    rate = mlflow.pyfunc.load_model(f"runs:/{run_id}/rate_model")
    expected = model(inputs, generator=torch.Generator().manual_seed(7)).readout.detach().numpy()
    np.testing.assert_array_equal(rate.predict(inputs.numpy(), params={"seed": 7}), expected)
    assert rate.metadata.metadata["output_step_ms"] == TASK.step_ms == 5.0
    spiking = mlflow.pyfunc.load_model(f"runs:/{run_id}/spiking_model")
    assert spiking.metadata.metadata["output_step_ms"] == 0.25 and spiking.metadata.metadata["scaling_factor"] == 20.0
    converted = ConvertedNetwork.from_file(
        resolve_model_source(f"runs:/{run_id}/spiking_model", uri, ARTIFACTS, tmp_path / "s")
    )
    library = converted.network.simulate(
        inputs, 20.0, noise=False, generator=torch.Generator().manual_seed(4)
    ).readout.numpy()
    predicted = spiking.predict(inputs.numpy(), params={"noise": False, "seed": 4})
    assert predicted.shape == (3, TASK.n_steps * 20)  # 5-ms columns at dt 0.25 ms
    np.testing.assert_array_equal(predicted, library)


def test_untrusted_model_behind_an_mlflow_uri_is_refused(tmp_path: Path) -> None:
    """A logged model whose file holds NaN weights is refused when loaded, as any model file."""
    model = RateRNN(RateRNNConfig(n_units=20), seed=5)
    with torch.no_grad():
        model.w_out[0] = float("nan")
    uri, run_id = _logged_run(tmp_path, model, register_as="broken")
    path = resolve_model_source("models:/broken/1", uri, ARTIFACTS, tmp_path / "dl")
    with pytest.raises(ModelFileError, match="NaN"):
        load_rate_model(path)


def test_a_damaged_model_file_is_logged_without_its_time_step_and_refused_on_load(tmp_path: Path) -> None:
    """A truncated converted_model.pt cannot tell its dt: it is logged all the same (as before the
    models stated their time base), its metadata without the step, and refused when loaded."""
    uri, client, experiment = _store(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    spiking = SpikingParameters()
    path = save_rate_model(out / "converted_model.pt", RateRNN(RateRNNConfig(n_units=20), seed=5),
                           ModelInfo(task=TASK.name, scaling_factor=20.0, spiking=spiking))  # fmt: skip
    path.write_bytes(path.read_bytes()[:200])
    run_id = client.create_run(experiment).info.run_id
    (info,) = log_run_models(uri, run_id, out, TASK.name)
    assert "output_step_ms" not in info.metadata and info.metadata["input_step_ms"] == TASK.step_ms
    with pytest.raises(ModelFileError, match="not a spikernn model file"):
        resolve_and_load = resolve_model_source(f"runs:/{run_id}/spiking_model", uri, ARTIFACTS, tmp_path / "dl")
        load_rate_model(resolve_and_load)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("models:/nobody/1", "not in the MLflow store"),
        ("runs:/0123456789abcdef0123456789abcdef/rate_model", "no MLflow run"),
        ("models:", "neither an existing file nor"),
    ],
)
def test_unknown_mlflow_sources_are_config_errors(tmp_path: Path, source: str, message: str) -> None:
    uri, _, _ = _store(tmp_path)
    with pytest.raises(ConfigError, match=message):
        resolve_model_source(source, uri, ARTIFACTS, tmp_path / "dl")


def test_mlflow_sources_never_create_a_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}"
    with pytest.raises(ConfigError, match="no MLflow store"):
        resolve_model_source("models:/gonogo/1", uri, ARTIFACTS, tmp_path / "dl")
    assert not (tmp_path / "none").exists()
