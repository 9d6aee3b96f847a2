"""The lm-eval task class of the MDLM suite: reuse an lm-eval task's data, apply our prompt and scoring.

Why a class and not ``include:``: lm-eval 0.4.13 resolves ``include:`` relative to the including YAML,
and lm-eval's task folder sits at a different relative place in a checkout and in an installed
wheel. A suite YAML therefore names the lm-eval YAML it builds on with ``lm_eval_base:`` (a path
under ``lm_eval/tasks``); :func:`resolve_config` loads it with lm-eval's own YAML loader, keeps only
its data coordinates (dataset, config, splits, ``unsafe_code``) and lets the suite's keys win.
lm-eval's prompt and scoring (choices, filters, metrics, few-shot samples, tags) are not taken, so a
suite task never half-inherits lenient matching; its ``!function`` references are not even imported
(lm-eval's code metrics load ``evaluate``'s ``code_eval`` at import, which needs the hub).

Data errors (offline, gated or renamed datasets) become :class:`SuiteDataError` naming the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lm_eval.api.task import ConfigurableTask

BASE_KEY = "lm_eval_base"
# What a suite task takes from lm-eval's YAML: where the data is, nothing of its prompt or scoring.
_BASE_DATA_KEYS = ("dataset_path", "dataset_name", "dataset_kwargs", "training_split", "validation_split",
                   "test_split", "fewshot_split", "unsafe_code", "metadata")


class SuiteDataError(RuntimeError):
    """A suite task's data cannot be loaded; the message names the dataset."""


def lm_eval_tasks_dir() -> Path:
    """lm-eval's installed task folder (where ``lm_eval_base`` paths point)."""
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """The complete task config of a suite YAML: its ``lm_eval_base`` merged under it. Reads YAML only."""
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = {k: v for k, v in config.items() if k != "class"}
    base_rel = cfg.pop(BASE_KEY, None)
    if not base_rel:
        return cfg
    path = lm_eval_tasks_dir() / str(base_rel)
    if not path.is_file():
        raise FileNotFoundError(f"{cfg.get('task')}: {BASE_KEY}={base_rel!r} is not a YAML of the installed lm-eval "
                                f"({lm_eval_tasks_dir()}); the suite targets lm-eval 0.4.13.")
    base = {k: v for k, v in load_yaml(path, resolve_func=False).items() if k in _BASE_DATA_KEYS}
    metadata = {**(base.get("metadata") or {}), **(cfg.get("metadata") or {}), BASE_KEY: str(base_rel)}
    return {**base, **cfg, "metadata": metadata}


class SuiteTask(ConfigurableTask):
    """A suite task: :func:`resolve_config`, then lm-eval's ``ConfigurableTask`` with clear data errors."""

    VERSION = 1.0

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config=resolve_config(dict(config or {})), **kwargs)

    def download(self, dataset_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            super().download(dataset_kwargs, **kwargs)
        except SuiteDataError:
            raise
        except Exception as exc:  # noqa: BLE001 - offline, gated, renamed: one message naming the dataset
            where = (f"hub dataset '{self.config.dataset_path}'"
                     + (f" (config '{self.config.dataset_name}')" if self.config.dataset_name else ""))
            if self.config.custom_dataset is not None:
                where = f"the data of loader {getattr(self.config.custom_dataset, '__name__', '?')}"
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise SuiteDataError(
                f"{self.config.task}: could not load {where}: {type(exc).__name__}: {cause}. The task needs the "
                "Hugging Face hub (or a local cache with HF_DATASETS_OFFLINE=1); gated datasets also need "
                "`huggingface-cli login` with access granted.") from exc
