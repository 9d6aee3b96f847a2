"""The strategy registry: every module of this package that declares a ``STRATEGY`` is a decoding strategy.

Adding a strategy is adding one module here (docs/strategies.md, "Adding a strategy"): its sampler, its knobs
(:class:`~lm_eval_mdlm.decoding.strategies.spec.Knob`) and its
:class:`~lm_eval_mdlm.decoding.strategies.spec.Strategy`. ``DecodeConfig`` (:mod:`lm_eval_mdlm.config`), the loop,
the report and README's argument table all read what this module finds; nothing else lists strategies.
"""

from __future__ import annotations

import importlib
import pkgutil

from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy


def _discover() -> dict[str, Strategy]:
    """Import every module of this package; those with a module-level ``STRATEGY`` are the strategies, in
    ``order`` (then by name)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        spec = getattr(importlib.import_module(f"{__name__}.{info.name}"), "STRATEGY", None)
        if isinstance(spec, Strategy):
            found.append(spec)
    names = [s.name for s in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two strategy modules declare the same name: {sorted(names)}")
    return {s.name: s for s in sorted(found, key=lambda s: (s.order, s.name))}


def _knobs(strategies: dict[str, Strategy]) -> dict[str, Knob]:
    """Every strategy knob by name, each declared by exactly one strategy; ``reads`` must name one of them."""
    knobs: dict[str, Knob] = {}
    for spec in strategies.values():
        for knob in spec.knobs:
            if knob.name in knobs:
                raise RuntimeError(f"knob {knob.name} is declared twice (again by strategy {spec.name}): declare it "
                                   "once, and list it in the other strategy's `reads`")
            knobs[knob.name] = knob
    for spec in strategies.values():
        unknown = [name for name in spec.reads if name not in knobs]
        if unknown:
            raise RuntimeError(f"strategy {spec.name} reads {unknown}, which no strategy declares")
    return knobs


REGISTRY: dict[str, Strategy] = _discover()
"""Every strategy by name, in listing order."""

KNOBS: dict[str, Knob] = _knobs(REGISTRY)
"""Every strategy knob by name, in the order of their strategies (``DecodeConfig``'s strategy fields)."""


def users(knob: str) -> tuple[str, ...]:
    """The strategies that read ``knob`` (its owner and those that list it in ``reads``)."""
    return tuple(s.name for s in REGISTRY.values() if knob in s.reads or any(k.name == knob for k in s.knobs))


def engine_samplers() -> dict[str, type]:
    """Strategy name -> its sampler class, for every strategy the engine's loop runs."""
    return {name: spec.sampler for name, spec in REGISTRY.items() if spec.sampler is not None}
