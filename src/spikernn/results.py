"""What each stage of the method produces: typed results that own their numbers and their files.

Every field says what it is for MLflow (its ``metadata``): a ``metric`` (a number runs are
compared on), a ``tag`` (a label or a constant of the run: task, size, outcome flags), ``files``
(file names in the run folder), or nothing (kept in ``summary.json`` only: histories, the
spiking parameters). ``summary()`` serialises a result for ``summary.json``; :func:`tracking_record`
is the one place that decides what a result sends to MLflow. Adding a metric = one field.

No MLflow here: ``apps/runner.py`` logs the record.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from spikernn.finetune_config import FinetuneConfig
from spikernn.spiking.parameters import SpikingParameters
from spikernn.tasks import condition_slug

ROLE = "mlflow"
METRIC, TAG, FILES, BY_CONDITION, BY_FACTOR = "metric", "tag", "files", "by_condition", "by_factor"


def metric(**kw: Any) -> Any:
    """A number runs are compared on (an MLflow metric)."""
    return field(metadata={ROLE: METRIC}, **kw)


def tag(name: str | None = None, **kw: Any) -> Any:
    """A label or constant of the run (an MLflow tag); ``name`` where the field's name cannot be it."""
    return field(metadata={ROLE: TAG, "name": name}, **kw)


def files() -> Any:
    """File names in the run folder, listed in the summary (the run folder is logged as artifacts)."""
    return field(default_factory=list, metadata={ROLE: FILES})


def optional(kind: type, prefix: str | None = None) -> Any:
    """A nested result that a run may lack (``None``: its keys are null in the summary).

    Without ``prefix`` its keys join the summary; with one it is the summary's ``prefix`` entry
    and its metrics and tags are named ``<prefix>_<name>`` in MLflow."""
    return field(default=None, metadata={"kind": kind, "prefix": prefix})


def suffixed(suffix: str) -> Any:
    """A nested result whose keys all end in ``suffix``, in the summary and in MLflow (e.g. the
    score before fine-tuning: ``lif_accuracy_before``, ``lif_accuracy_before.Go``)."""
    return field(metadata={"suffix": suffix})


class Result:
    """Base of the stage results (dataclasses)."""

    def summary(self) -> dict:
        """The result for ``summary.json``: nested results joined in, file lists concatenated."""
        out: dict = {}
        for f in dataclasses.fields(self):
            value, prefix = getattr(self, f.name), f.metadata.get("prefix")
            if prefix:  # a stage of its own: one entry, absent when the stage did not run
                if value is not None:
                    out[prefix] = value.summary()
            elif "suffix" in f.metadata:
                _join(out, {k + f.metadata["suffix"]: v for k, v in value.summary().items()})
            elif isinstance(value, Result):
                _join(out, value.summary())
            elif "kind" in f.metadata:  # an optional stage that did not run: its keys, null
                _join(out, dict.fromkeys(f.metadata["kind"].keys()))
            else:
                _join(out, {f.metadata.get("name") or f.name: _plain(value)})
        return out

    @classmethod
    def keys(cls) -> list[str]:
        """The summary keys of a result of this kind that is present (files excepted)."""
        hints, names = typing.get_type_hints(cls), []
        for f in dataclasses.fields(cls):
            kind = f.metadata.get("kind") or hints[f.name]
            if f.metadata.get("prefix") or f.metadata.get(ROLE) == FILES:
                continue
            if "suffix" in f.metadata:
                names += [n + f.metadata["suffix"] for n in kind.keys()]
            elif isinstance(kind, type) and issubclass(kind, Result):
                names += [n for n in kind.keys() if n not in names]
            else:
                names.append(f.metadata.get("name") or f.name)
        return names


def _plain(value: Any) -> Any:
    """A record (a plain dataclass: settings, a history) as the dict ``summary.json`` holds."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _join(out: dict, part: dict) -> None:
    for key, value in part.items():
        if key not in out or out[key] is None:
            out[key] = value
        elif isinstance(out[key], list) and isinstance(value, list):
            out[key] = [*out[key], *(v for v in value if v not in out[key])]
        elif value is not None and value != out[key]:
            raise ValueError(f"two stages disagree on {key!r}: {out[key]!r} vs {value!r}")


@dataclass
class TrackingRecord:
    """What a result sends to MLflow: numbers, labels, and tables (column name → values)."""

    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, list]] = field(default_factory=dict)


def tracking_record(result: Result, prefix: str = "", suffix: str = "") -> TrackingRecord:
    """The metrics, tags and tables of ``result`` (the one place that decides what goes to MLflow).

    Per-condition accuracies become metrics ``lif_accuracy.<trial type>``; per-factor accuracies a
    table (one row per s) and, for a search over several factors (a grid: the same keys in every
    run that uses it), one metric per factor, ``lif_accuracy_s<s>``. A conversion at one given
    factor (e.g. each trial of a ``hparams_search=scaling_factor`` sweep) logs no such metric: its
    ``scaling_factor`` and ``search_accuracy`` say it, and a key per swept value would give every
    trial a column of its own in MLflow's Compare."""
    record = TrackingRecord()
    for f in dataclasses.fields(result):
        value, role = getattr(result, f.name), f.metadata.get(ROLE)
        field_name = prefix + (f.metadata.get("name") or f.name)
        name = field_name + suffix
        if isinstance(value, Result):
            nested = f.metadata.get("prefix")
            part = tracking_record(
                value, f"{prefix}{nested}_" if nested else prefix, suffix + f.metadata.get("suffix", "")
            )
            record.metrics |= part.metrics
            record.tags |= part.tags
            record.tables |= part.tables
        elif value is None:
            continue
        elif role == METRIC:
            record.metrics[name] = float(value)
        elif role == TAG:
            record.tags[name] = str(value)
        elif role == BY_CONDITION:
            base = field_name.removesuffix("_by_condition") + suffix
            record.metrics |= {f"{base}.{condition_slug(c)}": float(v) for c, v in value.items() if v is not None}
        elif role == BY_FACTOR:
            base = field_name.removesuffix("_by_scaling_factor") + suffix
            factors = [float(s) for s in value]
            if len(factors) > 1:
                record.metrics |= {f"{base}_s{s:g}": float(v) for s, v in zip(factors, value.values(), strict=True)}
            record.tables[f"{name}.json"] = {"scaling_factor": factors, base: list(value.values())}
    return record


def metrics_by_model_file(result: Result, prefix: str = "") -> dict[str, dict[str, float]]:
    """The metrics of each model file a result's stages wrote (file name → its stage's metrics, as
    :func:`tracking_record` names them): the numbers that describe that network, e.g. the rate
    accuracy for ``rate_model.pt`` and the LIF accuracy for ``converted_model.pt``."""
    out: dict[str, dict[str, float]] = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, Result):
            nested = f.metadata.get("prefix")
            for file, metrics in metrics_by_model_file(value, f"{prefix}{nested}_" if nested else prefix).items():
                out.setdefault(file, {}).update(metrics)
        elif f.name == "models" and value:
            stage = tracking_record(result, prefix).metrics
            for file in value:
                out.setdefault(file, {}).update(stage)
    return out


@dataclass
class RateModelResult(Result):
    """A rate network: size, E/I split, τ_d (ms) and its score on fresh trials (noise on)."""

    task: str = tag()
    N: int = tag()
    n_exc: int = tag()
    n_inh: int = tag()
    rate_accuracy: float = metric()
    rate_loss: float = metric()
    rate_nan_readout_trials: int = metric()
    tau_d_ms_mean: float = metric()
    tau_d_ms_sd: float = metric()
    rate_eval_trials: int = tag()
    chance_accuracy: float = tag(default=0.5)  # the task's: guessing among its choices


@dataclass
class TrainingHistory:
    """The stopping rule's evaluations during training, one entry each: trials seen so far, the
    training loss, and the loss and accuracy on the evaluation trials."""

    trials: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)


@dataclass
class FinetuneHistory:
    """Fine-tuning, one entry per batch: the loss, its task part, the mean rate (Hz), the factor s."""

    batch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    task_loss: list[float] = field(default_factory=list)
    rate_hz: list[float] = field(default_factory=list)
    scaling_factor: list[float] = field(default_factory=list)


@dataclass
class ValidationHistory:
    """Fine-tuning's validations (fused kernel, fresh trials): after how many batches, the accuracy."""

    batch: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)


@dataclass
class FinetuneRecord:
    """How fine-tuning went: its time step (ms), batches run, the batch whose state was kept and its
    validation accuracy, and the curves."""

    train_dt_ms: float
    batches: int
    best_batch: int
    validation_accuracy: float
    history: FinetuneHistory
    validation: ValidationHistory


@dataclass
class TrainResult(Result):
    """``train_stage``: the trained rate network, how training went, and its files."""

    rate_model: RateModelResult
    seed: int = tag()
    trained: bool = tag()
    trials_to_criterion: int | None = metric()
    training_seconds: float = metric()
    population_size: int = tag()
    training_history: TrainingHistory = field(default_factory=TrainingHistory)
    figures: list[str] = files()
    models: list[str] = files()


@dataclass
class SourceResult(Result):
    """A command that starts from a trained model: the model, where it came from, the seed."""

    rate_model: RateModelResult
    source: str = tag()
    seed: int = tag()


@dataclass
class FromSource(Result):
    """A command on a trained model (``spikernn-convert``, ``-evaluate``, ``-finetune``): the model
    and its source, then what the command's stage made of it."""

    source: SourceResult
    stage: Result


@dataclass
class SpikingScore(Result):
    """The spiking network at one factor on fresh trials: accuracy and mean rates (Hz) of E and I units."""

    lif_accuracy: float = metric()
    lif_nan_readout_trials: int = metric()
    lif_accuracy_by_condition: dict[str, float] = field(metadata={ROLE: BY_CONDITION})
    lif_exc_hz: float = metric()
    lif_inh_hz: float | None = metric()


@dataclass
class EvaluationResult(Result):
    """``evaluate_stage``: the converted network scored at ``scaling_factor``, and example figures."""

    spiking: SpikingParameters  # the spiking parameters used
    scaling_factor: float = metric()
    lambda_: float = tag(name="lambda")
    eval_trials: int = tag()
    score: SpikingScore
    figures: list[str] = files()


@dataclass
class ConversionResult(Result):
    """``convert_stage``: the factor search (``pruned``: stopped by a sweep's pruner, then nothing
    was evaluated) and the evaluation at the best factor."""

    spiking: SpikingParameters  # the spiking parameters used
    scaling_factor: float = metric()
    search_trials_per_factor: int = tag()  # adaptive search: the chosen factor's trials
    search_trials: int = metric()  # trials the search simulated, all factors together
    search_accuracy: float = metric()  # the grid's best accuracy (the reference code's number)
    lif_accuracy_by_scaling_factor: dict[str, float] = field(metadata={ROLE: BY_FACTOR})
    pruned: bool = tag()
    rescored_accuracy: float | None = metric(default=None)  # rescore_best: the chosen factor over all its trials
    evaluation: EvaluationResult | None = optional(EvaluationResult)
    figures: list[str] = files()
    models: list[str] = files()


@dataclass
class FinetuneResult(Result):
    """``finetune_stage``: the network before and after surrogate-gradient fine-tuning (same trials)."""

    finetune: FinetuneConfig  # the fine-tuning settings
    spiking: SpikingParameters
    scaling_factor_before: float = metric()
    before: SpikingScore = suffixed("_before")  # the converted network on the same fresh trials
    evaluation: EvaluationResult  # after fine-tuning, on the trials scored before
    tau_d_ms_mean_after: float = metric()
    finetune_seconds: float = metric()
    finetune_training_seconds: float = metric()
    peak_rss_mib: float = metric()
    finetune_record: FinetuneRecord | None = None  # loss and validation accuracy per batch
    figures: list[str] = files()
    models: list[str] = files()


@dataclass
class RunResult(Result):
    """``spikernn-run``: training, then (if trained or allowed) conversion and fine-tuning.

    The run's own numbers (``lif_accuracy``, ``scaling_factor``, the rates) are its final network's:
    the converted one, or after fine-tuning the fine-tuned one, as ``spikernn-finetune`` reports it
    (``lif_accuracy_before`` …); the conversion of a fine-tuned network is then the ``transfer``
    entry (MLflow ``transfer_lif_accuracy``, ``transfer_scaling_factor``, …)."""

    train: TrainResult
    conversion: ConversionResult | None = optional(ConversionResult)  # the final network's (not fine-tuned)
    transfer: ConversionResult | None = optional(ConversionResult, prefix="transfer")  # one that was fine-tuned
    finetune: FinetuneResult | None = optional(FinetuneResult)
    warnings: list[str] = field(default_factory=list)  # codes of science_checks.warn, e.g. "untrained"
    warning_messages: dict[str, str] = field(default_factory=dict)
