"""A spikernn command around ``hydra.main``: bad input stops it before Hydra makes anything.

The Hydra callback ``ValidateFirst`` checks the composed config before the run folder, a sweep's
Optuna study or any MLflow run exists, and ``command`` makes Hydra's own refusals of the command
line (unknown key or option, a value of the wrong type, bad syntax) exit 2 like every other bad
input."""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from spikernn.apps.config import (
    build_convert_config,
    build_evaluate_config,
    build_finetune_config,
    build_run_config,
    build_tracking,
    check_not_renamed,
    check_output_dir,
    config_dir,
    override_keys,
    plain,
)
from spikernn.sweeps import register_resolvers as register_sweep_resolvers
from spikernn.validation import ConfigError, check_int, check_range

register_sweep_resolvers()  # ${spikernn.source_label:…}: the sweeper names a model's study before the command runs

BUILDERS = {
    "run": build_run_config,
    "train": build_run_config,
    "convert": build_convert_config,
    "evaluate": build_evaluate_config,
    "finetune": build_finetune_config,
}
INVALID_CONFIG_EXIT = 2
_validated = False  # set once a command's config passed: later exits are the command's own


def job_config(cfg: DictConfig, allow_missing: bool = False) -> dict:
    """The resolved config of the job (without the ``hydra`` node, which a job resolves itself)."""
    keys = [k for k in cfg.keys() if k != "hydra"]
    try:
        return plain(OmegaConf.masked_copy(cfg, keys), allow_missing)
    except ConfigError:
        raise
    except OmegaConfBaseException as err:
        raise ConfigError(f"{getattr(err, 'full_key', '') or 'config'}: {err}") from None


def check_sweeper(sweeper: Any) -> None:
    """``hydra.sweeper`` settings of an Optuna sweep: a budget of at least one trial, one job, one
    network per trial, one failure, a heartbeat interval of ≥ 1 s, no negative retries; a finite
    ``converted_at`` or none."""
    if sweeper is None or "n_trials" not in sweeper:
        return
    check_int("hydra.sweeper.n_trials", sweeper.get("n_trials"), 1)
    for key, low in (("n_jobs", 1), ("networks_per_trial", 1), ("max_failures", 1), ("heartbeat_interval", 1),
                     ("max_retry", 0)):  # fmt: skip
        if key in sweeper:
            check_int(f"hydra.sweeper.{key}", sweeper.get(key), low)
    if sweeper.get("converted_at") is not None:
        check_range("hydra.sweeper.converted_at", sweeper.get("converted_at"))


def summary_keys(config_name: str) -> list[str] | None:
    """The keys of the summary command ``config_name`` writes (what ``objective`` may name); None
    for a config that is not a spikernn command's."""
    from spikernn.results import (
        ConversionResult,
        EvaluationResult,
        FinetuneResult,
        RunResult,
        SourceResult,
        TrainResult,
    )

    stages = {"run": [RunResult], "train": [TrainResult], "convert": [SourceResult, ConversionResult],
              "evaluate": [SourceResult, EvaluationResult], "finetune": [SourceResult, FinetuneResult]}  # fmt: skip
    if config_name not in stages:
        return None
    return [key for stage in stages[config_name] for key in stage.keys()] + ["seconds"]


def check_objective(objective: Any, config_name: str) -> None:
    """``objective`` (a key or a list of keys) must name values of the command's summary: a typo
    would otherwise give every run and sweep trial the value NaN."""
    known = summary_keys(config_name)
    if objective is None or known is None:
        return
    names = objective if isinstance(objective, (list, tuple)) or OmegaConf.is_list(objective) else [objective]
    for name in names:
        if isinstance(name, str) and name and name not in known:
            raise ConfigError(
                f"objective: {name!r} is not a value of spikernn-{config_name}'s summary; e.g. "
                f"{', '.join(k for k in ('lif_accuracy', 'rate_accuracy', 'scaling_factor', 'N') if k in known)}"
            )


def _sweeps_on_command_line(cfg: DictConfig) -> bool:
    """Whether a command-line override lists several values (``a=1,2``): the jobs check those."""
    try:
        task = list(cfg.hydra.overrides.task)
        return any(o.is_sweep_override() for o in OverridesParser.create().parse_overrides(task))
    except Exception:  # noqa: BLE001 - Hydra parsed these already; when in doubt the jobs check them
        return True


def validate(cfg: DictConfig, config_name: str, multirun: bool = False) -> object | None:
    """Check the composed config of command ``config_name`` (raises ``ConfigError`` naming the first
    bad key or file); writes nothing. In a sweep, also the sweeper's settings; the job's own keys
    are checked here unless the command line sweeps some of them (each job checks its own)."""
    if "paths" in cfg:
        check_output_dir(cfg.paths.get("output_dir"))
    check_objective(OmegaConf.select(cfg, "objective"), config_name)
    if multirun:
        check_sweeper(OmegaConf.select(cfg, "hydra.sweeper"))
        if _sweeps_on_command_line(cfg):  # e.g. source=a,b: the base config has no source, each job one
            raw = job_config(cfg, allow_missing=True)
            build_tracking(raw)
            return None
    raw = job_config(cfg)
    build_tracking(raw)
    builder = BUILDERS.get(config_name)
    return None if builder is None else builder(raw)


def refuse(command: str, err: ConfigError) -> None:
    """Print the bad input and exit with code 2."""
    print(f"{command}: invalid config: {err}", file=sys.stderr)
    sys.exit(INVALID_CONFIG_EXIT)


class ValidateFirst(Callback):
    """``hydra.callbacks``: validate before Hydra makes the run folder (run) or the sweeper its
    study (multirun); bad input exits 2 with the message, and nothing is written."""

    def _check(self, config: DictConfig, config_name: str | None, multirun: bool) -> None:
        global _validated
        name = config_name or ""
        HydraConfig.instance().set_config(config)  # lets the job's ${hydra:…} resolve as in the job
        try:
            validate(config, name, multirun)
        except ConfigError as err:
            refuse(f"spikernn-{name}", err)
        _validated = True

    def on_run_start(self, config: DictConfig, config_name: str | None = None, **kwargs: Any) -> None:
        self._check(config, config_name, multirun=False)

    def on_multirun_start(self, config: DictConfig, config_name: str | None = None, **kwargs: Any) -> None:
        self._check(config, config_name, multirun=True)


def command(config_name: str):
    """``hydra.main`` for a spikernn command. Hydra refuses a bad command line (unknown key or
    option, bad syntax) with its message and exit 1 before any job starts; that exits 2 here. A
    renamed key (``RENAMED_KEYS``) is refused first, naming its new name."""

    def decorate(task):
        main = hydra.main(config_path=config_dir(), config_name=config_name)(task)

        @functools.wraps(task)
        def entry(*args, **kwargs):
            global _validated
            _validated = False
            # our own callback is a trusted target (Hydra 1.4 warns about every unlisted one)
            warnings.filterwarnings("ignore", message=r".*_target_='spikernn\.apps\.command\.ValidateFirst'")
            try:
                check_not_renamed(override_keys(sys.argv[1:]))
            except ConfigError as err:
                refuse(f"spikernn-{config_name}", err)
            try:
                return main(*args, **kwargs)
            except SystemExit as stop:
                if stop.code == 1 and not _validated:
                    raise SystemExit(INVALID_CONFIG_EXIT) from None
                raise

        return entry

    return decorate
