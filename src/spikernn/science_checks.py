"""Scientific failure is not success: a run whose numbers say the method did not work is flagged.

``flag_failures(summary)`` looks at a command's summary and, for each failure it finds, logs a
warning (Python logging, shown on the console) and adds its code to ``summary["warnings"]`` (the
message under ``summary["warning_messages"][code]``); the command layer turns these into MLflow
tags. ``json_safe`` replaces NaN/Inf by null so that ``summary.json`` is valid JSON.
"""

from __future__ import annotations

import logging
import math

log = logging.getLogger("spikernn")

CHANCE = 0.5  # a binary decision (Go/NoGo, same/different, left/right); a summary's chance_accuracy else
UNTRAINED = "untrained"
NAN_READOUT = "nan_readout"
CHANCE_LIF = "chance_lif_accuracy"
CHANCE_RATE = "chance_rate_accuracy"
FACTOR_AT_EDGE = "factor_at_grid_edge"
NOT_FINITE = "non_finite_values"
FINETUNE_NO_GAIN = "finetune_no_gain"


def chance_margin(n_trials: int | None, chance: float = CHANCE) -> float:
    """Two standard errors of a guessing accuracy (``chance``) on ``n_trials`` trials."""
    return 2 * math.sqrt(chance * (1 - chance) / max(1, n_trials or 1))


def _chance_message(kind: str, accuracy: float, margin: float, network: str, chance: float) -> str:
    """At chance (within ``margin`` of it): the network ignores the task. Far below chance: it
    answers, but the opposite way on most trials (e.g. an inverted readout), or, among several
    outputs, crosses no response threshold, which is not chance either."""
    if accuracy < chance - margin:
        how = (
            "answers the opposite of the target on most trials (an inverted readout or decision, not noise)"
            if chance == CHANCE
            else "gives no answer (no output crosses the response threshold) or a wrong one on most trials, not noise"
        )
        return f"{kind} accuracy {accuracy:.3f} is far below chance ({chance:.3g} − {margin:.3f}): {network} {how}"
    level = f"chance level ({chance:.3g} ± {margin:.3f})"
    return f"{kind} accuracy {accuracy:.3f} is at {level}: {network} does not do the task"


def warn(summary: dict, code: str, message: str) -> None:
    """Log ``message`` once and flag ``code`` in ``summary``."""
    codes = summary.setdefault("warnings", [])
    if code in codes:
        return
    codes.append(code)
    summary.setdefault("warning_messages", {})[code] = message
    log.warning(message)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _non_finite_keys(tree: object, prefix: str = "") -> list[str]:
    if isinstance(tree, dict):
        return [k for key, v in tree.items() for k in _non_finite_keys(v, f"{prefix}{key}.")]
    if isinstance(tree, (list, tuple)):
        return [k for i, v in enumerate(tree) for k in _non_finite_keys(v, f"{prefix}{i}.")]
    value = _number(tree)
    return [prefix.rstrip(".")] if value is not None and not math.isfinite(value) else []


def flag_failures(summary: dict) -> dict:
    """Flag the scientific failures ``summary`` shows (idempotent); returns ``summary``."""
    nan_lif, nan_rate = summary.get("lif_nan_readout_trials") or 0, summary.get("rate_nan_readout_trials") or 0
    if nan_lif or nan_rate:
        parts = [f"{nan_lif} spiking" if nan_lif else "", f"{nan_rate} rate" if nan_rate else ""]
        warn(
            summary,
            NAN_READOUT,
            f"NaN readouts on {' and '.join(p for p in parts if p)} trial(s): the network diverged "
            "(those trials count as wrong)",
        )
    if summary.get("trained") is False and summary.get("lif_accuracy") is not None:
        warn(
            summary,
            UNTRAINED,
            "the rate network did not meet the training criterion and was converted anyway (allow_untrained)",
        )
    chance = _number(summary.get("chance_accuracy")) or CHANCE  # older summaries: a binary decision
    lif = _number(summary.get("lif_accuracy"))
    lif_margin = chance_margin(summary.get("eval_trials"), chance)
    if lif is not None and lif <= chance + lif_margin:
        warn(summary, CHANCE_LIF, _chance_message("spiking", lif, lif_margin, "the converted network", chance))
    rate = _number(summary.get("rate_accuracy"))
    rate_trials = summary.get("rate_eval_trials") or summary.get("eval_trials")  # older summaries: the latter
    rate_margin = chance_margin(rate_trials, chance) if rate_trials else 0.0  # unknown trial count: chance itself
    if summary.get("trained") is not False and rate is not None and rate <= chance + rate_margin:
        warn(summary, CHANCE_RATE, _chance_message("rate", rate, rate_margin, "the rate network", chance))
    search = summary.get("transfer") or summary  # a network fine-tuned after its conversion: that conversion's
    by_factor = search.get("lif_accuracy_by_scaling_factor") or {}
    best = _number(search.get("scaling_factor"))
    if len(by_factor) > 1 and best is not None and not search.get("pruned"):
        factors = sorted(float(s) for s in by_factor)
        if best in (factors[0], factors[-1]):
            side = "smallest" if best == factors[0] else "largest"
            warn(
                summary,
                FACTOR_AT_EDGE,
                f"the best scaling factor s = {best:g} is the {side} of the grid [{factors[0]:g} … {factors[-1]:g}]: "
                "the optimum may lie outside it (widen transfer.scaling_factors)",
            )
    _flag_finetuning_without_gain(summary)
    bad = [k for k in _non_finite_keys(summary) if not k.startswith("warning")]
    if bad:
        warn(summary, NOT_FINITE, f"non-finite values (NaN/Inf, written as null) in {', '.join(bad[:10])}")
    return summary


def _flag_finetuning_without_gain(summary: dict) -> None:
    """Fine-tuning that ran but never validated above the converted network keeps that network: say
    so, with the accuracies, rather than report a fine-tuned network that is the converted one."""
    record = summary.get("finetune_record")
    if not isinstance(record, dict) or not record.get("batches") or record.get("best_batch") != 0:
        return
    accuracy = [a for a in (record.get("validation") or {}).get("accuracy") or [] if _number(a) is not None]
    if len(accuracy) < 2:
        return
    warn(
        summary,
        FINETUNE_NO_GAIN,
        f"fine-tuning did not improve on the converted network in {record['batches']} batches (validation "
        f"accuracy {accuracy[0]:.3f} before, {min(accuracy[1:]):.3f}–{max(accuracy[1:]):.3f} after): the "
        f"converted network is kept unchanged. What it learns at finetune.train_dt_ms = "
        f"{record.get('train_dt_ms')} ms may not carry over to spiking.dt_ms; a finer step may",
    )


def json_safe(tree: object) -> object:
    """``tree`` with every NaN/Inf float replaced by None (JSON null)."""
    if isinstance(tree, dict):
        return {k: json_safe(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [json_safe(v) for v in tree]
    if isinstance(tree, float) and not math.isfinite(tree):
        return None
    return tree


def warning_tags(summary: dict) -> dict[str, str]:
    """MLflow tags of the flagged failures: ``warnings`` (codes) and ``warning.<code>`` (messages)."""
    codes = summary.get("warnings") or []
    if not codes:
        return {}
    messages = summary.get("warning_messages") or {}
    return {"warnings": ",".join(codes), **{f"warning.{c}": str(messages.get(c, c))[:5000] for c in codes}}
