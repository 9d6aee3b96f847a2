"""What a strategy module declares: its :class:`Knob` s and its :class:`Strategy` (the one place it is described).

Why declarations instead of code spread over the package: :mod:`lm_eval_mdlm.config` builds ``DecodeConfig``'s
fields and validation from the knobs, the loop takes the sampler and the step bound from here, the report takes
the main knob, and README's argument table is generated from the same lines, so a new strategy is one module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lm_eval_mdlm.errors import ConfigError

PROBABILITY_SCORES = ("confidence", "margin")
"""Scores that are probabilities in [0, 1] and can therefore be compared with a threshold."""

QUOTA_DIRECTION = {"k": 1, "steps": -1}
"""The shared per-step budget knobs (``k=`` / ``steps=``) and which direction is more parallel (+1: larger)."""

Check = Callable[[Any], None]
"""A cross-knob check on the whole ``DecodeConfig``; it raises :class:`ConfigError`."""


@dataclass(frozen=True)
class Knob:
    """One ``DecodeConfig`` field owned by a strategy: its type, default, README line and validation.

    Types and finiteness are checked for every field by :mod:`lm_eval_mdlm.config` (``unbounded`` lets ``inf``
    through where it means "no bound"); :meth:`check` adds the range or the choices.
    """

    name: str
    kind: str
    """``int``, ``float`` or ``str`` (the field's annotation; CLI strings are coerced to it)."""
    default: Any
    doc: str
    """A short phrase for README's argument table (the row reads ``strategy: doc; doc; ...`` over its knobs)."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """``low`` itself is refused (``(low, high]``)."""
    choices: tuple[str, ...] = ()
    unbounded: bool = False
    """``inf`` is allowed (no bound)."""
    hint: str = ""
    """Appended to the range error in parentheses, e.g. ``e.g. threshold=0.9``."""
    parallel: int = 0
    """+1: a larger value decodes more tokens per step; -1: a smaller one does; 0: neither (the report's sort)."""

    def check(self, value: Any) -> None:
        """Raise :class:`ConfigError` naming the knob unless ``value`` lies in its range or choices."""
        if self.choices:
            check_choice(self.name, value, self.choices)
        if self.low is None:
            return
        above = value > self.low if self.low_open else value >= self.low
        if above and (self.high is None or value <= self.high):
            return
        integer = "an integer " if self.kind == "int" else ""
        if self.high is None:
            rule = f"be {integer}{'>' if self.low_open else '>='} {self.low:g}"
        else:
            interval = f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
            rule = f"be {integer}in {interval}" if integer else f"lie in {interval}"
        hint = f" ({self.hint})" if self.hint else ""
        raise ConfigError(f"{self.name}={value!r} is invalid: it must {rule}{hint}.")


@dataclass(frozen=True)
class Strategy:
    """One decoding strategy, as the config, the loop, the report and README see it."""

    name: str
    doc: str
    """One line: the rule and its reference (README, error messages)."""
    sampler: type | None
    """Its :class:`~lm_eval_mdlm.decoding.strategies.base.Sampler`; ``None``: a model's own sampler decodes
    (``generate()``), which maps ``k=`` / ``steps=`` itself and is left to its family."""
    knobs: tuple[Knob, ...] = ()
    """The knobs it owns (declared once, here; another strategy lists them in ``reads``)."""
    reads: tuple[str, ...] = ()
    """Knobs owned by other strategies that it reads too (e.g. ``threshold``)."""
    quota: bool = False
    """Its per-step budget comes from ``k=`` / ``steps=`` (LLaDA's schedule); otherwise it picks its own."""
    probability: bool = False
    """It compares scores with a probability, so ``score`` must be one of :data:`PROBABILITY_SCORES`."""
    scored: bool = True
    """It reads ``score=`` (False: it draws at random or follows a fixed order)."""
    primary: str | None = None
    """The knob that moves a run along its speed-quality line (quota strategies: ``k`` / ``steps``)."""
    extra_forwards: Callable[[Any], int] = lambda cfg: 0
    """Forwards per block beyond one per committed position, which commit nothing (the loop's step bound)."""
    check: Check | None = None
    """Cross-knob check, run on every config (look at ``cfg.strategy`` for rules of the chosen strategy)."""
    order: int = 1000
    """Position in listings (README, error messages); the default puts a new strategy last."""


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``allowed`` (listed in the message)."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is unknown; valid values: {', '.join(allowed)}.")


def require_probability(cfg: Any) -> None:
    """Refuse a score that is not a probability for a strategy that compares scores with a threshold."""
    if cfg.score not in PROBABILITY_SCORES:
        raise ConfigError(
            f"strategy={cfg.strategy} compares scores with a probability, so score={cfg.score} "
            f"cannot be used; choose score from {', '.join(PROBABILITY_SCORES)}.")
