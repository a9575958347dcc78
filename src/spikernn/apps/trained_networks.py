"""Networks trained by ``hydra/launcher=population``, handed to their jobs in the same process.

The launcher trains a group of compatible jobs as one population (``train_population``), then runs
each job as usual; a job that finds its member here skips training and goes on with the rest of its
command (conversion, evaluation, files, MLflow run) exactly as a job trained alone would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from pytorch_lightning.loggers import Logger

from spikernn.apps.identity import code_digest, user_code_digest
from spikernn.io.model_info import ModelInfo
from spikernn.io.torch_format import load_rate_model, save_rate_model
from spikernn.rate import RateRNN, RateRNNConfig
from spikernn.rate.criterion import TrainingRecord
from spikernn.rate.training import MemberResult, TrainerConfig
from spikernn.run_config import WHERE_AND_HOW
from spikernn.tasks import TaskConfig
from spikernn.tracking.run import TrackedRun
from spikernn.tracking.training_metrics import log_training_record, run_logger
from spikernn.validation import ModelFileError

log = logging.getLogger(__name__)

# The population launcher's trained networks, by Hydra job number, for the jobs it runs next in this
# process: Hydra's ``run_job`` hands a job only its config, and a network (tensors, training record) is
# not a config value; a job takes its own network once (``take_member``), so none outlives its job.
_TRAINED: dict[int, MemberResult] = {}


def hand_over(job_num: int, member: MemberResult) -> None:
    """Called by the launcher before it runs job ``job_num``."""
    _TRAINED[job_num] = member


def take_member() -> MemberResult | None:
    """This job's population-trained network, if the launcher trained it (removed once taken)."""
    if not HydraConfig.initialized():
        return None
    num = OmegaConf.select(HydraConfig.get(), "job.num", default=None)
    return None if num is None else _TRAINED.pop(int(num), None)


def training_source(run: TrackedRun) -> tuple[MemberResult | None, list[Logger]]:
    """This job's trained member (its criterion history logged to ``run`` now) and nothing for the
    trainer, or none and Lightning's ``MLFlowLogger`` on ``run`` for the job's training."""
    member = take_member()
    if member is None:
        return None, [run_logger(run)]
    log_training_record(run, member.record)
    run.set_tags({"population_size": str(member.population_size)})
    return member, []


def member_key(task: TaskConfig, model: RateRNNConfig, seed: int, trainer: TrainerConfig) -> str:
    """What decides a network's training, hashed: the task and its timing, model config, seed, the
    trainer's settings that change the numbers, and the code."""
    settings = dataclasses.asdict(trainer)
    for key in WHERE_AND_HOW:  # trainer.progress_bar, trainer.resume_from: not what training computes
        if key.startswith("trainer."):
            settings.pop(key.removeprefix("trainer."), None)
    decides = {
        "task": [type(task).__name__, dataclasses.asdict(task)],
        "model": model.to_dict(),
        "seed": seed,
        "trainer": settings,
        "code": code_digest("rate", "tasks") + user_code_digest(type(task).__module__),
    }
    text = json.dumps(decides, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _state_digest(model: RateRNN) -> str:
    """Checksum of a model's tensors: a kept file damaged inside its weights (still finite, so the
    model file's own checks pass) is not reused."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


class TrainedStore:
    """Networks a population trained, kept in ``folder`` (``<output_dir>/populations``) under
    their ``member_key`` as soon as the population is done, so that a launch interrupted later (in
    the jobs' conversion) or run again (e.g. another spiking setting) reuses them instead of
    training again; a population that was stopped while training resumes from its checkpoint in
    ``training/``. A file that cannot be read is reported and its network trained again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def training_folder(self, keys: list[str]) -> Path:
        """Where the population of members ``keys`` (in training order: the first seeds the loop)
        keeps its Lightning checkpoint ``last.ckpt`` while it trains."""
        return self.folder / "training" / hashlib.sha256(" ".join(keys).encode()).hexdigest()[:24]

    def resumable(self, folder: Path) -> Path | None:
        """The checkpoint an interrupted population left in ``folder``, if it can be read; one that
        cannot (a kill while it was written) is reported and removed, and the population starts afresh."""
        path = folder / "last.ckpt"
        if not path.is_file():
            return None
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)  # our own file, not a colleague's
            if "population" not in checkpoint or "state_dict" not in checkpoint:
                raise KeyError("no population state")
            return path
        except Exception as err:  # noqa: BLE001 - a damaged pickle raises anything
            log.warning(f"{path}: not resumed, the population trains from the start ({type(err).__name__}: {err})")
            path.unlink()
            return None

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def load(self, key: str) -> MemberResult | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            model, info = load_rate_model(path)
            extra = info.other
            if extra["state_sha256"] != _state_digest(model):
                raise ModelFileError(f"{path}: its weights do not match the checksum saved with them (damaged)")
            return MemberResult(
                model.train(), TrainingRecord(**extra["record"]), extra["seconds"], extra["population_size"]
            )
        except (ModelFileError, KeyError, TypeError) as err:
            log.warning(f"{path}: not reused, the network is trained again ({err})")
            return None

    def save(self, key: str, member: MemberResult) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        extra = {
            "record": dataclasses.asdict(member.record),
            "seconds": member.seconds,
            "population_size": member.population_size,
            "state_sha256": _state_digest(member.model),
        }
        save_rate_model(self._path(key), member.model, ModelInfo(other=extra))
