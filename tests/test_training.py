"""Training mechanics: constraints survive updates; the stopping rule is the paper's."""

from __future__ import annotations

import pytest
import torch

from spikernn.rate import RateRNNConfig
from spikernn.rate.criterion import StoppingRule
from spikernn.rate.training import TrainerConfig, train_rate_model
from spikernn.tasks import get_task
from spikernn.validation import ConfigError


def test_dale_mask_and_fixed_input_survive_training() -> None:
    task = get_task("xor")
    config = RateRNNConfig(n_units=30, n_inputs=2, sst_n=2, p_inh=0.3)
    model, record = train_rate_model(
        task, config, TrainerConfig(max_trials=200, batch_size=10, progress_bar=False), seed=4
    )
    untrained, _ = train_rate_model(task, config, TrainerConfig(max_trials=1, progress_bar=False), seed=4)
    assert not torch.equal(model.w, model.w0)  # it did learn
    w = model.effective_weights().detach()
    inh = model.inhibitory
    assert torch.all(w[:, ~inh] >= 0) and torch.all(w[:, inh] <= 0)
    som = torch.nonzero(inh).flatten()[:2]
    assert torch.all(w[som][:, inh] == 0)  # SST units still receive no inhibition
    assert torch.equal(model.w_in, untrained.w_in)  # W_in is fixed
    assert record.trials_seen == [100, 200]
    assert not record.trained and record.trials_to_criterion is None


def test_training_is_reproducible_on_cpu() -> None:
    task = get_task("go_nogo")
    runs = [
        train_rate_model(
            task, RateRNNConfig(n_units=20), TrainerConfig(max_trials=100, batch_size=5, progress_bar=False), seed=7
        )
        for _ in range(2)
    ]
    assert torch.equal(runs[0][0].w, runs[1][0].w)
    assert runs[0][1].eval_loss == runs[1][1].eval_loss


def test_go_nogo_cannot_stop_before_1500_trials() -> None:
    # a generous rule that any network meets at once: the task's minimum still applies
    lenient = StoppingRule(loss_threshold=1e9, accuracy_threshold=0.0)
    task = get_task("go_nogo")
    _, record = train_rate_model(
        task,
        RateRNNConfig(n_units=10),
        TrainerConfig(max_trials=1700, batch_size=50, progress_bar=False, stopping=lenient),
    )
    assert record.trained and record.trials_to_criterion == 1600
    assert record.trials_seen == list(range(100, 1700, 100))


def test_the_reference_schedule_can_stop_a_go_nogo_network_at_1502_trials() -> None:
    # the reference code evaluates after trials 2, 102, …, 1502 (eval_offset_trials=2)
    lenient = StoppingRule(loss_threshold=1e9, accuracy_threshold=0.0, eval_offset_trials=2)
    _, record = train_rate_model(
        get_task("go_nogo"),
        RateRNNConfig(n_units=10),
        TrainerConfig(max_trials=1700, batch_size=2, progress_bar=False, stopping=lenient),
    )
    assert record.trials_seen == list(range(2, 1600, 100))
    assert record.trained and record.trials_to_criterion == 1502


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_trials": 0}, r"trainer.max_trials must be in \[1, inf\]"),
        ({"batch_size": 0}, r"trainer.batch_size must be in \[1, inf\]"),
        ({"learning_rate": -1.0}, r"trainer.learning_rate must be in \(0, inf\]"),
    ],
)
def test_bad_training_config_names_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainerConfig(**kwargs)


def test_interrupted_training_resumes_exactly(tmp_path) -> None:
    """Training 400 trials in one go equals training 200, stopping, and resuming from the
    checkpoint to 400: same weights, same criterion history (trial stream, noise, Adam state)."""
    task, config = get_task("go_nogo"), RateRNNConfig(n_units=20)
    whole, whole_record = train_rate_model(
        task, config, TrainerConfig(max_trials=400, batch_size=20, progress_bar=False), seed=5
    )
    train_rate_model(
        task,
        config,
        TrainerConfig(max_trials=200, batch_size=20, progress_bar=False),
        seed=5,
        checkpoint_dir=tmp_path,
    )
    checkpoint = tmp_path / "last.ckpt"
    assert checkpoint.is_file()
    resumed, resumed_record = train_rate_model(
        task,
        config,
        TrainerConfig(max_trials=400, batch_size=20, progress_bar=False, resume_from=str(checkpoint)),
        seed=5,
    )
    assert resumed_record.trials_seen == [100, 200, 300, 400]
    assert resumed_record.eval_loss == whole_record.eval_loss
    for name, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name


def test_resume_from_a_missing_checkpoint_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="trainer.resume_from: no checkpoint file"):
        TrainerConfig(resume_from=str(tmp_path / "nope.ckpt"))


def test_training_metrics_go_to_the_commands_mlflow_run_through_lightning(tmp_path) -> None:
    """Lightning's MLFlowLogger on an existing run: the criterion's numbers at step = trials seen,
    equal to the record; the run stays open for the command to close with its own status."""
    from mlflow.tracking import MlflowClient

    from spikernn.tracking.store import ensure_experiment, open_tracking_store
    from spikernn.tracking.training_metrics import CommandRunLogger

    uri = open_tracking_store(None, tmp_path)
    client = MlflowClient(uri)
    run_id = client.create_run(ensure_experiment(client, "t", tmp_path, uri)).info.run_id
    trainer = TrainerConfig(max_trials=300, batch_size=20, progress_bar=False)
    _, record = train_rate_model(
        get_task("go_nogo"), RateRNNConfig(n_units=20), trainer, seed=1,
        callbacks=[CommandRunLogger(tracking_uri=uri, run_id=run_id)],
    )  # fmt: skip
    assert record.trials_seen == [100, 200, 300]
    for name, values in (
        ("eval_loss", record.eval_loss),
        ("eval_accuracy", record.eval_accuracy),
        ("train_loss", record.train_loss),
    ):
        history = client.get_metric_history(run_id, name)
        assert [m.step for m in history] == record.trials_seen, name
        assert [m.value for m in history] == pytest.approx(values), name
    assert client.get_run(run_id).info.status == "RUNNING"


def test_training_progress_goes_to_stderr_without_epoch_text(capsys) -> None:
    train_rate_model(
        get_task("go_nogo"), RateRNNConfig(n_units=20), TrainerConfig(max_trials=40, batch_size=20), seed=1
    )
    out, err = capsys.readouterr()
    assert out == ""  # stdout is the command's JSON summary alone
    assert "training" in err and "Epoch" not in err and "litlogger" not in err
