"""The rate model and the converted spiking network as MLflow models (``mlflow.pyfunc``).

Each is logged from its model file (``rate_model.pt``, ``converted_model.pt``: tensors and plain
values only) with a signature and an input example, so the run page lists it under "Logged
models", it can be registered (``logger.register_as``) and served, and ``source=models:/<name>/<version>``
or ``source=runs:/<id>/<name>`` finds its file again (``tracking/sources.py`` reads that file with
the same checks as any model file; it never unpickles the pyfunc wrapper).

``predict`` takes task inputs ``[trials, columns, n_inputs]`` on the task's 5-ms stimulus grid
(float32) and returns the readout ``[trials, steps]`` (``[trials, outputs, steps]`` for a task of several
outputs): the rate model's on the 5-ms grid, the
spiking network's at its ``dt_ms``, simulated at the stored scaling factor. Params: ``seed``
(noise generator) and ``noise`` (false: the noiseless network).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow.models import Model, ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

import spikernn
from spikernn.io import load_rate_model
from spikernn.io.files import CONVERTED_MODEL_FILE, FINETUNED_MODEL_FILE, RATE_MODEL_FILE
from spikernn.io.torch_format import read_info
from spikernn.spiking import SpikingRNN
from spikernn.tasks import Task, get_task
from spikernn.tasks.registry import task_of_settings
from spikernn.tracking.sources import quiet_downloads
from spikernn.transfer import to_spiking
from spikernn.validation import ModelFileError

RATE_MODEL_NAME = "rate_model"
SPIKING_MODEL_NAME = "spiking_model"
FINETUNED_MODEL_NAME = "finetuned_spiking_model"  # spikernn-run with finetune.enabled: the run's final network
RATE_KEY, CONVERTED_KEY = "rate_model", "converted_model"  # the pyfunc artifact holding the model file
MODEL_FILES = (
    (RATE_MODEL_NAME, RATE_MODEL_FILE),
    (SPIKING_MODEL_NAME, CONVERTED_MODEL_FILE),
    (FINETUNED_MODEL_NAME, FINETUNED_MODEL_FILE),
)
MODEL_FILE_OF = dict(MODEL_FILES)  # MLflow model name → the run folder's model file
ENTRY_POINT = Path(__file__).with_name("pyfunc_entry.py")  # MLflow "models from code": nothing pickled

SIGNATURE_PARAMS = ParamSchema([ParamSpec("seed", "long", 0), ParamSpec("noise", "boolean", True)])


class NetworkModel(PythonModel):
    """A rate model (artifact ``rate_model``) or a converted network (artifact ``converted_model``)."""

    def load_context(self, context: PythonModelContext) -> None:
        if CONVERTED_KEY in context.artifacts:
            self.converted: ConvertedNetwork | None = ConvertedNetwork.from_file(context.artifacts[CONVERTED_KEY])
        else:
            self.converted = None
            self.model, _ = load_rate_model(context.artifacts[RATE_KEY])

    def predict(self, context: PythonModelContext, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        params = params or {}
        generator = torch.Generator().manual_seed(int(params.get("seed", 0)))
        noise = bool(params.get("noise", True))
        inputs = torch.as_tensor(np.asarray(model_input, dtype=np.float32))
        if self.converted is None:
            with torch.no_grad():
                return self.model(inputs, noise=noise, generator=generator).readout.numpy()
        converted = self.converted
        return converted.network.simulate(
            inputs, converted.scaling_factor, generator=generator, noise=noise
        ).readout.numpy()


@dataclass
class ConvertedNetwork:
    """A converted model file read back: the spiking network, its task and scaling factor s."""

    network: SpikingRNN
    task: Task
    scaling_factor: float

    @classmethod
    def from_file(cls, path: str | Path) -> ConvertedNetwork:
        model, info = load_rate_model(path)
        if info.task is None or info.spiking is None or info.scaling_factor is None:
            raise ModelFileError(f"{path}: not a converted model (it stores no task, spiking parameters or factor)")
        task = task_of_settings(info.task, info.task_settings)
        return cls(to_spiking(model, info.spiking, input_step_ms=task.step_ms), task, info.scaling_factor)


def _signature(task: Task) -> tuple[ModelSignature, np.ndarray]:
    """Tensor signature (any number of trials of the task's inputs) and one trial of each type as example."""
    columns, n_in = task.n_steps + 1, task.n_inputs
    inputs = Schema([TensorSpec(np.dtype(np.float32), (-1, columns, n_in))])
    outputs = Schema([TensorSpec(np.dtype(np.float32), (-1, -1) if task.n_outputs == 1 else (-1, task.n_outputs, -1))])
    conditions = torch.arange(len(task.condition_names))
    example = task.make_trials(len(conditions), torch.Generator().manual_seed(0), conditions=conditions)
    return ModelSignature(inputs, outputs, SIGNATURE_PARAMS), example.inputs.numpy().astype(np.float32)


def _time_base(name: str, model_file: Path, task: Task) -> dict:
    """What ``predict`` takes and returns, with its time steps (ms): the inputs on the task's
    stimulus grid; the rate model's readout on the same grid, the spiking network's every ``dt_ms``
    (its stored spiking parameters) at its stored scaling factor."""
    base = {"input": "task inputs [trials, columns, n_inputs], float32", "input_step_ms": task.step_ms}
    shape = "[trials, steps]" if task.n_outputs == 1 else f"[trials, {task.n_outputs} outputs, steps]"
    if name == RATE_MODEL_NAME:
        return base | {"output": f"rate readout {shape}", "output_step_ms": task.step_ms}
    spiking = base | {"output": f"spiking readout W_out·r / s {shape}"}
    try:  # a file that cannot be read is logged all the same and refused where it is loaded
        info = read_info(model_file)
    except ModelFileError:
        return spiking
    if info.spiking is None or info.scaling_factor is None:
        return spiking
    return spiking | {"output_step_ms": info.spiking.dt_ms, "scaling_factor": info.scaling_factor}


def log_model_file(
    tracking_uri: str,
    run_id: str,
    name: str,
    model_file: Path,
    task: Task,
    register_as: str | None = None,
) -> ModelInfo:
    """Log ``model_file`` as the MLflow model ``name`` of run ``run_id`` (``rate_model``: a rate
    model; ``spiking_model``: a converted one; ``finetuned_spiking_model``: a converted one after
    fine-tuning); registered as ``register_as`` when given."""
    key = RATE_KEY if name == RATE_MODEL_NAME else CONVERTED_KEY
    signature, example = _signature(task)
    time_base = _time_base(name, model_file, task)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)  # the registry lives in the tracking store (register_as)
    # the logged model belongs to the run's experiment (MLflow takes the active one, else "Default")
    mlflow.set_experiment(experiment_id=mlflow.MlflowClient().get_run(run_id).info.experiment_id)
    with quiet_downloads():  # MLflow checks the input example against the logged copy
        return Model.log(
            artifact_path=None,
            name=name,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            python_model=str(ENTRY_POINT),
            artifacts={key: str(model_file)},
            signature=signature,
            input_example=(example, {"seed": 0, "noise": True}),
            pip_requirements=[f"spikernn=={spikernn.__version__}", f"torch=={torch.__version__.split('+')[0]}"],
            registered_model_name=register_as,
            tags={"task": task.name}
            | ({"output_step_ms": f"{time_base['output_step_ms']:g}"} if "output_step_ms" in time_base else {}),
            metadata=time_base,
        )


def log_run_models(
    tracking_uri: str, run_id: str, out_dir: Path, task_name: str, register_as: str | None = None
) -> list[ModelInfo]:
    """Log the model files a command wrote into ``out_dir`` (``rate_model.pt`` → ``rate_model``,
    ``converted_model.pt`` → ``spiking_model``, ``finetuned_model.pt`` → ``finetuned_spiking_model``)
    as MLflow models of run ``run_id``; the last of them (the run's final network: fine-tuned, else
    converted, else the rate network) is registered as ``register_as`` when given."""
    found = [(name, out_dir / file) for name, file in MODEL_FILES if (out_dir / file).is_file()]
    return [
        log_model_file(
            tracking_uri,
            run_id,
            name,
            path,
            _task_of_file(path, task_name),
            register_as if i == len(found) - 1 else None,
        )
        for i, (name, path) in enumerate(found)
    ]


def _task_of_file(path: Path, task_name: str) -> Task:
    """The task a model file was trained on, with its stored settings (its timing, a NeuroGym
    environment's keywords): the trials of the logged model's input example and signature."""
    try:
        info = read_info(path)
        return task_of_settings(info.task or task_name, info.task_settings)
    except ModelFileError:  # logged all the same, refused where it is loaded
        return get_task(task_name)
