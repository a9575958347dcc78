"""Every bad input is refused at once (issue 15, part 6): a message naming the key or file and what
is allowed, exit code 2, and nothing written (no run folder, no MLflow run, no Optuna study).

Most kinds are checked in-process through the same ``validate`` the commands run before Hydra
makes anything; a representative handful as real commands."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from spikernn.apps.command import validate
from spikernn.apps.config import check_not_renamed, config_dir, override_keys
from spikernn.io import ModelInfo, export_mat, save_rate_model
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.spiking import SpikingParameters
from spikernn.tasks.config import GoNoGoConfig
from spikernn.validation import ConfigError

SPIKING = {
    "neuron": "lif",
    "dt_ms": 0.05,
    "tau_m_ms": 10.0,
    "t_ref_ms": 2.0,
    "v_th_mv": -40.0,
    "v_reset_mv": -65.0,
    "i_bias_mv": -40.0,
    "v_init_min_mv": -65.0,
    "v_init_max_mv": 30.0,
    "tau_rise_ms": 2.0,
    "noise_std_mv": 0.1,
}

# (command, overrides, text the message must hold). Placeholders: {pt} a rate model (go_nogo),
# {conv} a converted model, {mat} a reference .mat, {mante_pt} a Mante model, {file} a plain file,
# {dir} a folder, {ckpt} a training checkpoint (go_nogo, N = 20), {junk} bytes that are no model,
# {pickle} a pickle holding code, {nanpt} a model with NaN weights, {bare} a model without a factor,
# {timed} a Go-NoGo model trained on 1.2-s trials
RUN_CASES = [
    # model
    ("model.n_units=0", "model.n_units must be in [1, inf], got 0"),
    ("model.n_units=-3", "model.n_units must be in [1, inf]"),
    ("model.n_units=2.5", "Value '2.5' of type 'float' could not be converted to Integer full_key: model.n_units"),
    ("model.n_units=abc", "Value 'abc' of type 'str' could not be converted to Integer full_key: model.n_units"),
    ("model.n_units=true", "Value 'True' of type 'bool' could not be converted to Integer full_key: model.n_units"),
    ("model.n_units=null", "field 'model.n_units' is not Optional"),
    ("model.n_units=1000000", "model.n_units must be in [1, 10000], got 1000000: each N×N matrix would need"),
    ("model.p_inh=-0.1", "model.p_inh must be in [0, 1)"),
    ("model.p_inh=1.0", "model.p_inh must be in [0, 1)"),
    ("model.p_inh=nan", "model.p_inh must be a finite number"),
    ("model.p_inh=x", "Value 'x' of type 'str' could not be converted to Float full_key: model.p_inh"),
    ("model.p_rec=0", "model.p_rec must be in (0, 1]"),
    ("model.p_rec=1.5", "model.p_rec must be in (0, 1]"),
    ("model.gain=0", "model.gain must be in (0, inf]"),
    ("model.gain=-1.5", "model.gain must be in (0, inf]"),
    ("model.gain=inf", "model.gain must be a finite number"),
    ("model.gain=nan", "model.gain must be a finite number"),
    ("model.sst_n=-1", "model.sst_n must be in [0, 200]"),
    ("model.sst_n=500", "model.sst_n must be in [0, 200]"),
    ("model.sst_n=150", "model.sst_n must be at most the number of inhibitory units"),
    ("model.weight_distribution=uniform", "model.weight_distribution must be one of 'gaus', 'gamma'"),
    ("model.activation=tanh", "model.activation must be one of"),
    ("model.tau_min_ms=0", "model.tau_min_ms must be in (0, inf]"),
    ("model.tau_min_ms=-5", "model.tau_min_ms must be in (0, inf]"),
    ("model.tau_min_ms=inf", "model.tau_min_ms must be a finite number"),
    ("model.tau_min_ms=150", "model.tau_min_ms must be ≤ model.tau_max_ms (100.0 ms), got 150"),
    ("model.tau_min_ms=null", "field 'model.tau_min_ms' is not Optional"),
    ("model.tau_max_ms=0", "model.tau_max_ms must be in (0, inf]"),
    ("model.tau_max_ms=inf", "model.tau_max_ms must be a finite number"),
    ("+model.taus_ms=[20,50]", "unknown key(s) model.taus_ms; allowed:"),
    ("model.dt_ms=0", "model.dt_ms must be in (0, inf]"),
    ("model.dt_ms=50", "model.tau_min_ms must be ≥ model.dt_ms (50 ms), got 20.0"),
    ("model.noise_std=-0.1", "model.noise_std must be in [0, inf]"),
    ("model.noise_std=inf", "model.noise_std must be a finite number"),
    ("model.initial_state_std=-1", "model.initial_state_std must be in [0, inf]"),
    ("model.loss=l3", "model.loss must be one of 'l2', 'l1'"),
    ("model.apply_dale=maybe", "Value 'maybe' is not a valid bool (type str) full_key: model.apply_dale"),
    ("+model.extra_key=1", "unknown key(s) model.extra_key"),
    # trainer
    ("trainer.max_trials=0", "trainer.max_trials must be in [1, inf]"),
    ("trainer.max_trials=1.5", "could not be converted to Integer full_key: trainer.max_trials"),
    ("+trainer.n_trials=500", "trainer.n_trials was renamed to trainer.max_trials"),
    ("trainer.batch_size=0", "trainer.batch_size must be in [1, inf]"),
    ("trainer.learning_rate=0", "trainer.learning_rate must be in (0, inf]"),
    ("trainer.learning_rate=inf", "trainer.learning_rate must be a finite number"),
    ("trainer.learning_rate=nan", "trainer.learning_rate must be a finite number"),
    ("trainer.accelerator=tpu", "trainer.accelerator must be one of"),
    *([] if torch.cuda.is_available() else [("trainer=gpu", "trainer.accelerator=gpu (trainer=gpu): no CUDA GPU")]),
    ("trainer.progress_bar=maybe", "Value 'maybe' is not a valid bool (type str) full_key: trainer.progress_bar"),
    ("trainer.resume_from=/no/such/last.ckpt", "trainer.resume_from: no checkpoint file"),
    ("trainer.resume_from={dir}", "trainer.resume_from"),
    ("trainer.resume_from={junk}", "trainer.resume_from: {junk} is not a spikernn training checkpoint"),
    ("trainer.resume_from={pickle}", "trainer.resume_from: {pickle} is not a spikernn training checkpoint"),
    ("trainer.resume_from={pt}", "trainer.resume_from: {pt} is not a spikernn training checkpoint"),
    ("trainer.resume_from={ckpt}", "trainer.resume_from: {ckpt} is a checkpoint of a network of N = 20"),
    ("trainer.resume_from={ckpt} model.n_units=20 task=xor", "this run has model.n_units = 20 and task xor"),
    ("+trainer.resume_form=x", "unknown key(s) trainer.resume_form"),
    ("trainer.stopping.eval_every_trials=0", "trainer.stopping.eval_every_trials must be in [1, inf]"),
    ("trainer.stopping.eval_offset_trials=100", "trainer.stopping.eval_offset_trials must be in [0, 99]"),
    ("trainer.stopping.eval_trials=0", "trainer.stopping.eval_trials must be in [1, inf]"),
    ("trainer.stopping.loss_threshold=0", "trainer.stopping.loss_threshold must be in (0, inf]"),
    ("trainer.stopping.accuracy_threshold=1.5", "trainer.stopping.accuracy_threshold must be in [0, 1]"),
    ("trainer.stopping.accuracy_threshold=nan", "trainer.stopping.accuracy_threshold must be a finite number"),
    # spiking
    ("spiking.neuron=izhikevich", "spiking.neuron must be one of 'lif', 'qif'"),
    ("spiking.dt_ms=0", "spiking.dt_ms must be in (0, 1]"),
    ("spiking.dt_ms=-0.05", "spiking.dt_ms must be in (0, 1]"),
    ("spiking.dt_ms=2", "spiking.dt_ms must be in (0, 1]"),
    ("spiking.dt_ms=0.3", "spiking.dt_ms must divide the 5-ms input step of task go_nogo into whole steps"),
    ("spiking.dt_ms=0.07", "spiking.dt_ms must divide the 5-ms input step"),
    ("spiking.dt_ms=nan", "spiking.dt_ms must be a finite number"),
    ("spiking.tau_m_ms=0", "spiking.tau_m_ms must be in (0, inf]"),
    ("spiking.tau_m_ms=inf", "spiking.tau_m_ms must be a finite number"),
    ("spiking.t_ref_ms=-1", "spiking.t_ref_ms must be in [0, inf]"),
    ("spiking.t_ref_ms=inf", "spiking.t_ref_ms must be a finite number"),
    ("spiking.v_th_mv=inf", "spiking.v_th_mv must be a finite number"),
    ("spiking.v_th_mv=-inf", "spiking.v_th_mv must be a finite number"),
    ("spiking.v_th_mv=nan", "spiking.v_th_mv must be a finite number"),
    ("spiking.v_th_mv=-70", "spiking.v_reset_mv must be below spiking.v_th_mv (-70"),
    ("spiking.v_reset_mv=inf", "spiking.v_reset_mv must be a finite number"),
    ("spiking.i_bias_mv=inf", "spiking.i_bias_mv must be a finite number"),
    ("spiking.v_init_min_mv=40", "spiking.v_init_min_mv must be ≤ spiking.v_init_max_mv"),
    ("spiking.v_init_max_mv=nan", "spiking.v_init_max_mv must be a finite number"),
    ("spiking.tau_rise_ms=-2", "spiking.tau_rise_ms must be in [0, inf]"),
    ("spiking.noise_std_mv=-0.1", "spiking.noise_std_mv must be in [0, inf]"),
    ("spiking.noise_std_mv=inf", "spiking.noise_std_mv must be a finite number"),
    ("+spiking.threshold=3", "unknown key(s) spiking.threshold"),
    # transfer
    ("transfer.scaling_factors=[]", "transfer.scaling_factors must hold at least one factor > 0"),
    ("transfer.scaling_factors=[20,0]", "transfer.scaling_factors[1] must be a number > 0, got 0"),
    ("transfer.scaling_factors=[20,-5]", "transfer.scaling_factors[1] must be a number > 0"),
    ("transfer.scaling_factors=[inf]", "transfer.scaling_factors[0] must be a number > 0"),
    ("transfer.scaling_factors=[nan]", "transfer.scaling_factors[0] must be a number > 0"),
    ("transfer.scaling_factors=[a]", "could not be converted to Float full_key: transfer.scaling_factors[0]"),
    ("transfer.scaling_factors=0", "is not a ListConfig, TupleConfig, list, or tuple. full_key: transfer.scaling"),
    ("transfer.trials_per_factor=0", "transfer.trials_per_factor must be in [1, inf]"),
    ("+transfer.n_trials=50", "transfer.n_trials was renamed to transfer.trials_per_factor"),
    ("transfer.chunk_trials=0", "transfer.chunk_trials must be in [1, inf]"),
    ("transfer.report_every_trials=0", "transfer.report_every_trials must be in [1, inf]"),
    ("transfer.scaling_factor=0", "transfer.scaling_factor must be a number > 0, got 0"),
    ("transfer.scaling_factor=-2", "transfer.scaling_factor must be a number > 0"),
    ("transfer.scaling_factor=20 transfer.scaling_factors=[20,30]", "transfer.scaling_factor (one factor) or"),
    ("+transfer.scaling_factorz=20", "unknown key(s) transfer.scaling_factorz"),
    # finetune (spikernn-run finetune.enabled=true)
    ("finetune.n_batches=0", "finetune.n_batches must be in [1, inf]"),
    ("finetune.enabled=maybe", "Value 'maybe' is not a valid bool (type str) full_key: finetune.enabled"),
    ("finetune.n_batche=10", "Key 'n_batche' not in 'FinetuneConfig'. Did you mean one of: 'n_batches'"),
    ("+finetune.n_batche=10", "unknown key(s) finetune.n_batche; allowed:"),
    # task, seed, objective
    ("task.name=dms", "task must be one of 'go_nogo', 'xor', 'mante'"),  # + any NeuroGym task registered before
    ("task.stim_duration_ms=0", "task.stim_duration_ms must be in (0, inf]"),
    ("task.stim_onset_ms=-5", "task.stim_onset_ms must be in [0, inf]"),
    ("task.stim_onset_ms=252", "task.stim_onset_ms must be a multiple of the 5-ms input step"),
    ("task.trial_ms=400", "task go_nogo: stimulus, response and scoring must fit the trial"),
    ("task=xor task.response_duration_ms=1000", "task xor: stimulus, response and scoring must fit the trial"),
    ("task.trial_ms=abc", "could not be converted to Float full_key: task.trial_ms"),
    ("+task.stim_offset_ms=3", "unknown key(s) task.stim_offset_ms"),
    ("seed=-1", "seed must be in [0, inf]"),
    ("seed=1.5", "could not be converted to Integer full_key: seed"),
    ("seed=abc", "could not be converted to Integer full_key: seed"),
    ("eval_trials=0", "eval_trials must be in [1, inf]"),
    ("eval_trials=-5", "eval_trials must be in [1, inf]"),
    ("objective=[]", "objective must be a summary key"),
    ("objective=lif_acuracy", "objective: 'lif_acuracy' is not a value of spikernn-run's summary; e.g. lif_accuracy"),
    ("objective=[lif_accuracy,n]", "objective: 'n' is not a value of spikernn-run's summary"),
    ("+unknown_top=1", "unknown key(s) unknown_top"),
    # logger, paths
    ("logger.tracking_uri=ftp://host/x", "logger.tracking_uri (or MLFLOW_TRACKING_URI): unknown scheme 'ftp'"),
    ("logger.tracking_uri=bogus://x", "unknown scheme 'bogus'"),
    ("logger.tracking_uri=http://", "names no host"),
    ("logger.tracking_uri=file:/tmp/mlruns", "is a file store (./mlruns), which MLflow 3 no longer writes"),
    ("logger.tracking_uri=/tmp/mlruns", "is a file store (./mlruns), which MLflow 3 no longer writes"),
    ("logger.tracking_uri=''", "logger.tracking_uri (or MLFLOW_TRACKING_URI) must be null, a path or a tracking URI"),
    ("logger.experiment_name=''", "logger.experiment_name must be a non-empty string"),
    ("logger.run_name=[1]", "Cannot convert 'list' to string: '[1]' full_key: logger.run_name"),
    ("paths.output_dir={file}", "paths.output_dir: {file} is a file, not a folder"),
    ("paths.output_dir={file}/sub", "paths.output_dir: {file}/sub lies under the file {file}"),
    ("paths.output_dir=''", "paths.output_dir must be a folder path"),
]

CONVERT_CASES = [
    ("source=''", "source is required"),
    ("source={pt} +unknown_top=1", "unknown key(s) unknown_top; allowed: allow_untrained, eval_trials"),
    ("source={pt} seed=abc", "could not be converted to Integer full_key: seed"),
    ("source=/no/such/model.pt", "source: '/no/such/model.pt' is neither an existing file nor an MLflow run id"),
    ("source=0123456789abcdef0123456789abcdef", "source: MLflow run 0123456789abcdef0123456789abcdef not found"),
    ("source=runs:/0123456789abcdef0123456789abcdef", "source: MLflow run 0123456789abcdef0123456789abcdef not found"),
    ("source={dir}", "source: {dir} is a folder"),
    ("source={pt} objective=trials_to_criterion", "'trials_to_criterion' is not a value of spikernn-convert's summary"),
    ("source={junk}", "source: {junk} is not a spikernn model file"),
    ("source={pickle}", "source: {pickle} is not a spikernn model file"),
    ("source={nanpt}", "source: {nanpt}: w holds NaN or infinite values"),
    ("source={mat}", "task is required with a .mat source"),
    ("source={mat} task=mante", "task: mante has 4 inputs; the model in"),
    ("source={badmat} task=go_nogo", "source: {badmat} is not a readable .mat file"),
    ("source={pt} task=xor", "task: the model in {pt} was trained on 'go_nogo', not 'xor'"),
    # a model trained on 1.2-s trials scored on the default 1-s ones would be a wrong number, silently
    ("source={timed} task=go_nogo", "trained with other task settings: task.trial_ms=1200.0 (given 1000.0)"),
    ("source={pt} spiking.dt_ms=0.3", "spiking.dt_ms must divide the 5-ms input step"),
    ("source={pt} spiking.v_th_mv=inf", "spiking.v_th_mv must be a finite number"),
    ("source={pt} transfer.scaling_factors=[0]", "transfer.scaling_factors[0] must be a number > 0"),
    ("source={pt} eval_trials=0", "eval_trials must be in [1, inf]"),
    ("source={pt} logger.tracking_uri=gopher://x", "unknown scheme 'gopher'"),
    ("source={pt} paths.output_dir={file}", "paths.output_dir: {file} is a file"),
]

EVALUATE_CASES = [
    ("source={bare}", "scaling_factor is required: the model file stores none"),
    ("source={conv} +unknown_top=1", "unknown key(s) unknown_top; allowed: eval_trials"),
    ("source={conv} +allow_untrained=true", "unknown key(s) allow_untrained"),
    ("source={conv} scaling_factor=0", "scaling_factor must be a number > 0, got 0"),
    ("source={conv} scaling_factor=-3", "scaling_factor must be a number > 0"),
    ("source={conv} scaling_factor=inf", "scaling_factor must be a number > 0"),
    ("source={conv} scaling_factor=abc", "could not be converted to Float full_key: scaling_factor"),
    ("source={conv} spiking.dt_ms=0.3", "spiking.dt_ms must divide the 5-ms input step"),
    ("source={conv} spiking.t_ref_ms=-2", "spiking.t_ref_ms must be in [0, inf]"),
    ("source={conv} spiking.v_th_mv=inf", "spiking.v_th_mv must be a finite number"),
    ("source={conv} eval_trials=0", "eval_trials must be in [1, inf]"),
    ("source={junk}", "source: {junk} is not a spikernn model file"),
    ("source={conv} stimulation=exc stimulation.start_ms=0 stimulation.stop_ms=10", "stimulation.units"),
    (
        "source={conv} stimulation=exc stimulation.units=[0,20] stimulation.start_ms=0 stimulation.stop_ms=10",
        "stimulation.units must be a non-empty list of units in [0, 19]",
    ),
    (
        "source={conv} stimulation=inh stimulation.units=[0] stimulation.start_ms=0 stimulation.stop_ms=2000",
        "stimulation.stop_ms must be at most the trial's length (1000 ms)",
    ),
    (
        "source={conv} stimulation=inh stimulation.units=[0] stimulation.start_ms=50 stimulation.stop_ms=10",
        "stimulation.stop_ms must be in [50",
    ),
    (
        "source={conv} stimulation=exc stimulation.units=[0] stimulation.start_ms=0 stimulation.stop_ms=10 "
        "stimulation.probability=2",
        "stimulation.probability must be in [0, 1]",
    ),
    ("source={conv} stimulation=light", "stimulation"),
]

FINETUNE_CASES = [
    ("source={conv} finetune.n_batches=0", "finetune.n_batches must be in [1, inf]"),
    ("source={conv} +stimulation.units=[0]", "unknown key(s) stimulation"),
    ("source={conv} finetune.stop_accuracy=2", "finetune.stop_accuracy must be in [0, 1]"),
    ("source={conv} finetune.train_dt_ms=abc", "could not be converted to Float full_key: finetune.train_dt_ms"),
    ("source={conv} finetune.n_batche=10", "Key 'n_batche' not in 'FinetuneConfig'. Did you mean one of: 'n_batches'"),
    ("source={conv} +finetune.n_batche=10", "unknown key(s) finetune.n_batche; allowed:"),
    ("source={junk}", "source: {junk} is not a spikernn model file"),
]

SWEEP_CASES = [
    ("convert", "hparams_search=scaling_factor source={pt} hydra.sweeper.n_trials=0", "hydra.sweeper.n_trials must be"),
    ("convert", "hparams_search=scaling_factor source={pt} hydra.sweeper.n_trials=-4", "hydra.sweeper.n_trials must"),
    ("convert", "hparams_search=scaling_factor source={pt} hydra.sweeper.n_jobs=0", "hydra.sweeper.n_jobs must be"),
    ("convert", "hparams_search=scaling_factor source={pt} hydra.sweeper.max_retry=-1", "hydra.sweeper.max_retry must"),
    ("convert", "hparams_search=scaling_factor source={pt} hydra.sweeper.max_failures=0", "hydra.sweeper.max_failures"),
    ("convert", "hparams_search=scaling_factor source={pt} hydra.sweeper.heartbeat_interval=0", "heartbeat_interval"),
    ("convert", "hparams_search=refractory source={pt} spiking.dt_ms=0.3", "spiking.dt_ms must divide"),
    ("convert", "hparams_search=scaling_factor source=/no/such.pt", "is neither an existing file"),
    ("run", "hparams_search=rate_model hydra.sweeper.n_trials=0", "hydra.sweeper.n_trials must be"),
    (
        "run",
        "hparams_search=conversion_reliability hydra.sweeper.networks_per_trial=0",
        "hydra.sweeper.networks_per_trial must be",
    ),  # fmt: skip
    ("run", "hparams_search=rate_model spiking.v_th_mv=inf", "spiking.v_th_mv must be a finite number"),
    ("train", "hparams_search=rate_model objective=rate_accuracy model.gain=inf", "model.gain must be a finite number"),
    # the preset's objective is the LIF accuracy, which spikernn-train never produces: every trial would be NaN
    ("train", "hparams_search=rate_model", "objective: 'lif_accuracy' is not a value of spikernn-train's summary"),
    ("run", "hparams_search=rate_model objective=lif_acc", "objective: 'lif_acc' is not a value of spikernn-run's"),
]

# spikernn-train shares the builder of spikernn-run: a sample of its keys
TRAIN_KEYS = (
    "model.n_units=0",
    "model.gain=inf",
    "trainer.max_trials=0",
    "+trainer.n_trials",
    "trainer.resume_from={ckpt}",
    "seed=-1",
)
CASES = (
    [("run", o, m, False) for o, m in RUN_CASES]
    + [("train", o, m, False) for o, m in RUN_CASES if o.startswith(TRAIN_KEYS)]
    + [("convert", o, m, False) for o, m in CONVERT_CASES]
    + [("evaluate", o, m, False) for o, m in EVALUATE_CASES]
    + [("finetune", o, m, False) for o, m in FINETUNE_CASES]
    + [(c, o, m, True) for c, o, m in SWEEP_CASES]
)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("inputs")
    model = RateRNN(RateRNNConfig(n_units=20), seed=0)
    paths = {
        "pt": save_rate_model(root / "rate_model.pt", model, ModelInfo(task="go_nogo", trained=True)),
        "bare": save_rate_model(root / "bare.pt", model, ModelInfo(task="go_nogo")),
        "timed": save_rate_model(
            root / "timed.pt", model, ModelInfo("go_nogo", True, task_settings=GoNoGoConfig(trial_ms=1200.0).settings())
        ),
        "conv": save_rate_model(
            root / "converted_model.pt",
            model,
            ModelInfo(task="go_nogo", scaling_factor=30.0, spiking=SpikingParameters(**SPIKING)),
        ),
        "mat": export_mat(root / "rate_model.mat", model),
        "file": root / "a_file.txt",
        "dir": root / "a_folder",
        "junk": root / "junk.pt",
        "pickle": root / "code.pt",
        "nanpt": root / "nan.pt",
        "badmat": root / "bad.mat",
        "ckpt": root / "last.ckpt",
    }
    paths["file"].write_text("not a folder")
    paths["dir"].mkdir()
    paths["junk"].write_bytes(os.urandom(300))
    paths["pickle"].write_bytes(pickle.dumps({"x": Evil()}))
    paths["badmat"].write_bytes(paths["mat"].read_bytes()[:700])
    nan = RateRNN(RateRNNConfig(n_units=20), seed=0)
    with torch.no_grad():
        nan.w[0, 0] = float("nan")
    save_rate_model(paths["nanpt"], nan, ModelInfo(task="go_nogo"))
    torch.save(
        {"global_step": 10, "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, paths["ckpt"]
    )
    return {k: str(v) for k, v in paths.items()}


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.fixture(scope="module")
def hydra_conf():
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        yield


def _fill(text: str, files: dict[str, str]) -> str:
    return text.format(**files)


def refusal(command: str, overrides: list[str], multirun: bool) -> str:
    """The message a bad input is refused with (whitespace collapsed): Hydra's when it composes the
    config (a key or type its schema does not allow), else ours (``validate``: ranges, files)."""
    try:
        cfg = compose(command, overrides=overrides, return_hydra_config=multirun)
    except ConfigCompositionException as err:
        return " ".join(f"{err} {err.__cause__}".split())
    with pytest.raises(ConfigError) as err:
        validate(cfg, command, multirun=multirun)
    return " ".join(str(err.value).split())


@pytest.mark.parametrize(("command", "overrides", "message", "multirun"), CASES, ids=lambda v: str(v)[:60])
def test_bad_input_is_refused_naming_key_and_writing_nothing(
    hydra_conf, files, tmp_path: Path, command: str, overrides: str, message: str, multirun: bool
) -> None:
    out = tmp_path / "out"
    args = [f"paths.output_dir={out}", *_fill(overrides, files).split()]
    assert _fill(message, files) in refusal(command, args, multirun)
    assert not any(tmp_path.iterdir()), f"a refused input wrote {list(tmp_path.rglob('*'))}"


def test_at_least_110_kinds() -> None:
    assert len(CASES) >= 110


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trainer.n_trials=500"], "trainer.n_trials was renamed to trainer.max_trials"),
        (["-m", "+transfer.n_trials=5"], "transfer.n_trials was renamed to transfer.trials_per_factor"),
        (["seed=1", "~trainer.n_trials"], "trainer.n_trials was renamed to trainer.max_trials"),
    ],
)
def test_renamed_key_on_the_command_line_names_the_new_key(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_not_renamed(override_keys(argv))


def test_new_names_are_not_refused() -> None:
    check_not_renamed(override_keys(["trainer.max_trials=5", "transfer.trials_per_factor=5", "--cfg", "job"]))


def test_unreadable_source_says_permission_denied(hydra_conf, files, monkeypatch) -> None:
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if str(p) == files["pt"] else real(p, mode, **k))
    cfg = compose("convert", overrides=[f"source={files['pt']}"])
    with pytest.raises(ConfigError, match=f"source: {files['pt']}: permission denied"):
        validate(cfg, "convert")


# a representative handful as real commands: exit 2, the message on stderr, nothing written
COMMANDS = [
    ("run", ["spiking.dt_ms=0.3"], "spiking.dt_ms must divide the 5-ms input step"),
    ("train", ["model.n_unit=5"], "n_unit"),  # refused by Hydra itself
    ("convert", ["-m", "hparams_search=scaling_factor", "source={pt}", "hydra.sweeper.n_trials=0"], "n_trials"),
    ("evaluate", ["source={junk}"], "is not a spikernn model file"),
    ("finetune", ["source={conv}", "finetune.n_batche=10"], "finetune.n_batche"),  # refused by Hydra (the schema)
    ("finetune", ["source={conv}", "+finetune.n_batche=10"], "unknown key(s) finetune.n_batche"),
    ("run", ["model.n_units=abc"], "full_key: model.n_units"),  # refused by Hydra (the group's schema)
    # renamed keys: refused before Hydra composes anything, naming the new key
    (
        "train",
        ["trainer.n_trials=500"],
        "spikernn-train: invalid config: trainer.n_trials was renamed to trainer.max_trials",
    ),
    (
        "convert",
        ["-m", "hparams_search=scaling_factor", "source={pt}", "transfer.n_trials=20,40"],
        "transfer.n_trials was renamed to transfer.trials_per_factor",
    ),
    *([] if torch.cuda.is_available() else [("train", ["trainer=gpu"], "no CUDA GPU is available")]),
]


def test_bad_commands_exit_2_and_write_nothing(files, tmp_path: Path) -> None:
    procs = []
    for i, (command, args, _) in enumerate(COMMANDS):
        out = tmp_path / f"out{i}"
        env = {**os.environ, "SPIKERNN_OUTPUT_DIR": str(out)}
        env.pop("MLFLOW_TRACKING_URI", None)
        argv = [sys.executable, "-m", f"spikernn.apps.{command}", *(_fill(a, files) for a in args)]
        procs.append((out, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)))
    for (out, proc), (command, args, message) in zip(procs, COMMANDS, strict=True):
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 2, (command, args, stderr[-2000:])
        assert message in stderr and "Traceback" not in stderr, stderr[-2000:]
        assert not out.exists(), f"{command} {args} wrote {list(out.rglob('*'))}"


def test_a_sweep_over_a_required_key_is_checked_by_its_jobs_not_refused(hydra_conf, files) -> None:
    """``spikernn-convert -m source=a.pt,b.pt`` (run_quick.sh's Fig. 6 and 2C steps): the sweep's
    base config has no ``source`` — each job gets one and checks it — so the check before the sweep
    must not refuse it as missing; without a sweep a missing source is still refused."""
    cfg = compose("convert", return_hydra_config=True)  # what the multirun's base config holds
    OmegaConf.set_readonly(cfg.hydra, False)
    cfg.hydra.overrides.task = [f"source={files['pt']},{files['pt']}"]  # the sweep, applied per job
    assert OmegaConf.is_missing(cfg, "source")
    assert validate(cfg, "convert", multirun=True) is None
    with pytest.raises(ConfigError, match=r"source is required \(give it on the command line"):
        validate(compose("convert"), "convert")
