"""Registers the ``mdlm`` model (and our task folder) with a stock lm-eval install.

Why this exists: lm-eval <= 0.4.13 has no plugin discovery, so ``lm_eval --model mdlm`` would fail
after a plain ``pip install lm-eval-mdlm``. The installed ``lm_eval_mdlm.pth`` imports this module
at interpreter start-up. It must stay cheap (no torch, no lm_eval import): it only puts a finder on
``sys.meta_path`` that waits until lm-eval itself imports its registry or task manager, then adds

* ``mdlm`` to lm-eval's model registry as a *lazy* ``"module:Class"`` placeholder, so torch is
  imported only when somebody actually asks for ``--model mdlm``;
* our ``task_yamls`` folder to every ``TaskManager`` that includes lm-eval's default tasks, so
  ``--tasks parallelbench`` works without ``--include_path``;
* writing of the evaluated model's per-sample decoding traces next to lm-eval's results file
  (``mdlm_traces_<date>.jsonl``, see :mod:`lm_eval_mdlm.traces`), including those of answers ``--use_cache``
  served;
* results without NaN decoding statistics (:func:`lm_eval_mdlm.traces.tidy_results`).

lm-eval's main branch discovers models through the ``lm_eval.models`` entry-point group (PR #4013);
``pyproject.toml`` declares it too, and the registration below steps aside if the name is taken.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

MODEL_NAME = "mdlm"
MODEL_TARGET = "lm_eval_mdlm.model:MDLM"


def task_dirs() -> list[str]:
    """Folders holding our task YAMLs: inside the installed package, or the checkout's top level."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, "task_yamls"), os.path.join(os.path.dirname(here), "task_yamls")]
    return [c for c in candidates if os.path.isdir(c)][:1]


def _register_model(models_module: ModuleType) -> None:
    # Hooked on ``lm_eval.models`` (not the registry module): lm-eval fills its registry with the
    # built-in models only when that package is imported, and imports it only if the registry is
    # empty, so registering any earlier would hide ``hf``, ``dummy``, ...
    registry_module = sys.modules["lm_eval.api.registry"]
    registry = getattr(registry_module, "model_registry", None)
    if registry is not None:  # lm-eval >= 0.4.10: lazy placeholders are supported
        if MODEL_NAME not in registry:
            registry.register(MODEL_NAME, target=MODEL_TARGET)
        return
    # Older lm-eval: a plain dict and an eager decorator. Import our class only when asked for.
    original_get_model = registry_module.get_model

    def get_model(model_name: str) -> Any:
        if model_name == MODEL_NAME and MODEL_NAME not in registry_module.MODEL_REGISTRY:
            import lm_eval_mdlm.model  # noqa: F401  (its decorator registers the class)
        return original_get_model(model_name)

    registry_module.get_model = get_model


def _add_task_dirs(manager_module: ModuleType) -> None:
    manager_cls = manager_module.TaskManager
    original_init = manager_cls.__init__
    if getattr(original_init, "_lm_eval_mdlm", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = inspect.signature(original_init).bind(self, *args, **kwargs)
        bound.apply_defaults()
        extra = task_dirs() if bound.arguments.get("include_defaults", True) else []
        if extra:
            given = bound.arguments.get("include_path")
            paths = [] if given is None else list(given) if isinstance(given, (list, tuple)) else [given]
            # Ours first, so a user's --include_path can still override a task of the same name.
            bound.arguments["include_path"] = extra + [p for p in paths if os.path.abspath(str(p)) not in extra]
        original_init(*bound.args, **bound.kwargs)

    __init__._lm_eval_mdlm = True  # type: ignore[attr-defined]
    manager_cls.__init__ = __init__


def _write_traces_with_results(tracker_module: ModuleType) -> None:
    """Make lm-eval's tracker write the evaluated model's per-sample traces next to ``results_<date>.json``."""
    tracker_cls = tracker_module.EvaluationTracker
    original = tracker_cls.save_results_aggregated
    if getattr(original, "_lm_eval_mdlm", False):
        return

    def save_results_aggregated(self: Any, results: dict, samples: dict | None = None) -> None:
        original(self, results, samples)
        records = getattr(self.__dict__.get(_TRACKED_MODEL), "traces", None)  # set by simple_evaluate (below)
        if not records or not self.output_path:
            return
        from pathlib import Path

        from lm_eval_mdlm.traces import write_jsonl

        path = Path(self.output_path)  # the same folder rule as lm-eval's own results file
        folder = path.parent if path.suffix == ".json" else \
            path / str(self.general_config_tracker.model_name_sanitized)
        write_jsonl(records, str(folder / f"mdlm_traces_{self.date_id}.jsonl"))

    save_results_aggregated._lm_eval_mdlm = True  # type: ignore[attr-defined]
    tracker_cls.save_results_aggregated = save_results_aggregated


_TRACKED_MODEL = "mdlm_model"
"""Attribute of an ``EvaluationTracker`` naming the model ``simple_evaluate`` evaluated for it: its traces
are the ones the tracker writes (each model keeps its own, :attr:`lm_eval_mdlm.model.MDLM.traces`)."""


def _link_models_to_trackers(evaluator_module: ModuleType) -> None:
    """``simple_evaluate(evaluation_tracker=...)`` hands the model it evaluated to the tracker, and ``evaluate``
    drops undefined trace statistics from its results (:func:`lm_eval_mdlm.traces.tidy_results`).

    Why: the tracker writes the results file but never sees the model, and lm-eval prints the mean of a metric
    no sample defines as NaN (also in group rows, whose mean over tasks turns NaN with one such task)."""
    original_simple, original_evaluate = evaluator_module.simple_evaluate, evaluator_module.evaluate
    if getattr(original_simple, "_lm_eval_mdlm", False):
        return
    evaluated: list[Any] = []  # the model of the current simple_evaluate call (evaluate sees it, the tracker not)

    def evaluate(*args: Any, **kwargs: Any) -> Any:
        lm = inspect.signature(original_evaluate).bind(*args, **kwargs).arguments.get("lm")
        model = getattr(lm, "lm", lm)  # under --use_cache, lm-eval's CachingLM wraps ours
        evaluated.append(model)
        results = original_evaluate(*args, **kwargs)
        if isinstance(results, dict):  # rank 0 (other ranks get None); any model can run our tasks
            from lm_eval_mdlm.traces import tidy_results

            records = getattr(model, "traces", None)
            tidy_results(results, records if isinstance(records, list) else [])
        return results

    def simple_evaluate(*args: Any, **kwargs: Any) -> Any:
        tracker = inspect.signature(original_simple).bind(*args, **kwargs).arguments.get("evaluation_tracker")
        evaluated.clear()
        try:
            return original_simple(*args, **kwargs)
        finally:
            if tracker is not None and evaluated:
                setattr(tracker, _TRACKED_MODEL, evaluated[-1])
            evaluated.clear()

    for function in (evaluate, simple_evaluate):
        function._lm_eval_mdlm = True  # type: ignore[attr-defined]
    evaluator_module.evaluate, evaluator_module.simple_evaluate = evaluate, simple_evaluate


def _adopt_cached_traces(model_module: ModuleType) -> None:
    """Hand the answers lm-eval's ``CachingLM`` returns to a model that wants them (``adopt_cached``).

    Why: answers served from ``--use_cache`` never pass through ``generate_until``, so without this a
    resumed run lost the traces of its cached part and a fully cached run wrote none.
    """
    caching_cls = model_module.CachingLM
    original = caching_cls.__getattr__
    if getattr(original, "_lm_eval_mdlm", False):
        return

    def __getattr__(self: Any, attr: str) -> Any:
        method = original(self, attr)
        adopt = getattr(self.__dict__.get("lm"), "adopt_cached", None)
        if attr != "generate_until" or adopt is None:
            return method

        def generate_until(requests: list[Any]) -> list[Any]:
            results = method(requests)
            adopt(results)
            return results

        return generate_until

    __getattr__._lm_eval_mdlm = True  # type: ignore[attr-defined]
    caching_cls.__getattr__ = __getattr__


_AFTER_IMPORT: dict[str, Callable[[ModuleType], None]] = {
    "lm_eval.api.model": _adopt_cached_traces,
    "lm_eval.models": _register_model,
    "lm_eval.tasks.manager": _add_task_dirs,
    "lm_eval.loggers.evaluation_tracker": _write_traces_with_results,
    "lm_eval.evaluator": _link_models_to_trackers,
}


class _LmEvalFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of the few lm-eval modules we extend."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        hook = _AFTER_IMPORT.get(fullname)
        if hook is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            hook(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Idempotently install the finder; patch modules that are somehow already imported."""
    if any(isinstance(f, _LmEvalFinder) for f in sys.meta_path):
        return
    for name, hook in _AFTER_IMPORT.items():
        if name in sys.modules:
            hook(sys.modules[name])
    sys.meta_path.insert(0, _LmEvalFinder())


install()
