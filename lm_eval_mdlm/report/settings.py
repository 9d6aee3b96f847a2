"""What a run's decoding *setting* is: one point of a speed–quality curve, and the line it belongs to.

A run records its effective decoding config (every :class:`~lm_eval_mdlm.config.DecodeConfig` field).
To draw "one line per strategy" we split that config into

* the **strategy**;
* its **primary knob**, the one that moves a point along the line (``k`` or ``steps`` for the quota
  strategies, ``threshold``, ``factor``, ``entropy_bound``); its value is always part of the setting,
  even when it equals the default, so ``threshold=0.9`` stays a labelled point;
* the **other knobs** that differ from the defaults (``block_length=32``, ``score=margin``, ...): they
  define the line (the *family*) together with the strategy.

``max_gen_toks`` is left out: it is a property of the task (each task sets its own answer length), and
keeping it would put the same sweep setting on different lines for different tasks.

Why derive this from the full config instead of the sweep's own grid: the report must also read runs
made with plain ``lm_eval`` (knobs in ``--model_args`` or ``--gen_kwargs``), and runs of older or newer
versions whose config has other fields; unknown fields are kept verbatim as knobs.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from lm_eval_mdlm import config as decode_config
from lm_eval_mdlm.decoding import strategies
from lm_eval_mdlm.decoding.strategies.spec import QUOTA_DIRECTION

IGNORED_FIELDS = ("max_gen_toks",)
# From the strategy registry (each module of lm_eval_mdlm/decoding/strategies/ declares its own):
# strategies whose per-step budget comes from k= / steps=,
QUOTA_STRATEGIES = tuple(name for name, spec in strategies.REGISTRY.items() if spec.quota)
# the primary knob of the strategies that decide their own per-step budget,
PRIMARY_KNOB = {name: spec.primary for name, spec in strategies.REGISTRY.items() if spec.primary and not spec.quota}
# and per knob, +1: a larger value decodes more tokens per step; -1: a smaller one does.
PARALLEL_DIRECTION = {**QUOTA_DIRECTION, **{name: k.parallel for name, k in strategies.KNOBS.items() if k.parallel}}


def _defaults() -> dict[str, Any]:
    return asdict(decode_config.DecodeConfig())


def _plain(value: Any) -> Any:
    """JSON scalars only (settings are dict keys and CSV cells); integral floats of int knobs stay."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _plain(v)) for k, v in value.items()))
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Setting:
    """One decoding setting: strategy, its primary knob and value, and the other non-default knobs."""

    strategy: str
    primary: str | None
    value: Any
    others: tuple[tuple[str, Any], ...] = ()

    @property
    def family(self) -> str:
        """The line this setting lies on: the strategy and every knob except the primary one."""
        extra = ", ".join(f"{k}={_fmt(v)}" for k, v in self.others)
        return f"{self.strategy} ({extra})" if extra else self.strategy

    @property
    def label(self) -> str:
        """Short human label, e.g. ``topk k=2`` or ``threshold=0.7 (block_length=32)``."""
        if self.primary is None:
            head = self.strategy
        elif self.primary == self.strategy:  # "threshold=0.7", not "threshold threshold=0.7"
            head = f"{self.primary}={_fmt(self.value)}"
        else:
            head = f"{self.strategy} {self.primary}={_fmt(self.value)}"
        extra = ", ".join(f"{k}={_fmt(v)}" for k, v in self.others)
        return f"{head} ({extra})" if extra else head

    @property
    def slug(self) -> str:
        """A folder-safe name, unique per setting (used by ``sweep`` for cell folders)."""
        parts = [self.strategy]
        if self.primary == self.strategy:
            parts = [f"{self.primary}-{_fmt(self.value)}"]
        elif self.primary is not None:
            parts.append(f"{self.primary}-{_fmt(self.value)}")
        parts += [f"{k}-{_fmt(v)}" for k, v in self.others]
        return re.sub(r"[^A-Za-z0-9._=-]+", "-", "_".join(parts))

    def parallelism(self, measured_tokens_per_step: float | None = None) -> float:
        """Sort key, larger = more parallel: by the knob's known direction, else by what was measured.

        Why the knob and not the measurement: ParallelBench's oracle (Appendix G.2) picks the
        *smallest threshold* reaching a sample's best score, a rule on the knob itself.
        """
        direction = PARALLEL_DIRECTION.get(self.primary or "")
        if direction is not None and isinstance(self.value, (int, float)):
            return direction * float(self.value)
        return float(measured_tokens_per_step) if measured_tokens_per_step is not None else -math.inf


def setting_of(config: Mapping[str, Any]) -> Setting:
    """The setting of an effective decoding config (a trace record's ``config`` or a rebuilt one)."""
    defaults = _defaults()
    strategy = str(config.get("strategy", defaults["strategy"]))
    knobs = {k: _plain(v) for k, v in config.items()
             if k != "strategy" and k not in IGNORED_FIELDS and (k not in defaults or v != defaults[k])}
    primary: str | None
    value: Any = None
    if strategy in QUOTA_STRATEGIES:
        if knobs.get("steps") is not None:
            primary, value = "steps", knobs.pop("steps")
            knobs.pop("k", None)
        else:  # neither k nor steps: one token per step, the same as k=1
            primary, value = "k", knobs.pop("k", None) or 1
            knobs.pop("steps", None)
    elif strategy in PRIMARY_KNOB:
        primary = PRIMARY_KNOB[strategy]
        value = _plain(config.get(primary, defaults.get(primary)))
        knobs.pop(primary, None)
    else:
        primary = None
    return Setting(strategy, primary, value, tuple(sorted(knobs.items())))


def infer_primary(settings: Iterable[Setting]) -> dict[Setting, Setting]:
    """For strategies without a known primary knob: promote the one knob that varies, if exactly one.

    Returns a mapping old -> new for the settings that changed (the others are left as they are).
    """
    pending = [s for s in set(settings) if s.primary is None]
    by_strategy: dict[str, list[Setting]] = defaultdict(list)
    for s in pending:
        by_strategy[s.strategy].append(s)
    changes: dict[Setting, Setting] = {}
    for strategy, members in by_strategy.items():
        keys = {k for s in members for k, _ in s.others}
        varying = [k for k in sorted(keys) if len({dict(s.others).get(k) for s in members}) > 1]
        if len(varying) != 1:
            continue
        knob = varying[0]
        for s in members:
            others = dict(s.others)
            value = others.pop(knob, _defaults().get(knob))
            changes[s] = replace(s, primary=knob, value=value, others=tuple(sorted(others.items())))
    return changes
