"""Where a ParallelBench task's documents come from: the official data or our offline generator.

The two never substitute for each other. A task's YAML says ``source: official`` or
``source: generated`` and the task name says which (generated tasks end in ``_gen``...), so results
on different data never share a name. Official data comes from the hub dataset
``furiosa-ai/ParallelBench`` or, when ``parallelbench_data_dir`` / ``$PARALLELBENCH_DATA_DIR``
names a local copy of the official release, from there; if neither works the task fails with an
error naming the dataset, it does not fall back to generated data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lm_eval_mdlm.tasks.generate import generate
from lm_eval_mdlm.tasks.records import records_to_docs
from lm_eval_mdlm.tasks.specs import HUB_DATASET, TaskSpec, get_spec

ENV_DATA_DIR = "PARALLELBENCH_DATA_DIR"
SOURCES = ("official", "generated")
_GENERATOR_KEYS = ("lengths", "num_samples", "seed", "size", "holes")


class ParallelBenchDataError(RuntimeError):
    """The task's data cannot be loaded; the message names the dataset and the ways out."""


def scoring_mode(metadata: Mapping[str, Any] | None) -> str:
    """The task's ``scoring`` setting (``official`` unless ``--metadata`` says ``corrected``)."""
    return str((metadata or {}).get("scoring") or "official")


def data_dir(metadata: Mapping[str, Any] | None) -> str | None:
    """The local copy of the official release, from ``--metadata`` or the environment (or None)."""
    value = (metadata or {}).get("parallelbench_data_dir") or os.environ.get(ENV_DATA_DIR)
    return str(value) if value else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _offline_hint(spec: TaskSpec) -> str:
    hint = (f"To run without the hub, set ${ENV_DATA_DIR} (or --metadata '{{\"parallelbench_data_dir\": \"...\"}}') "
            "to a local copy of the official release (folders waiting_line/, waiting_line_n15/, "
            "paraphrase_summarize/, words_to_sentence/, puzzle/)")
    if spec.category == "text_writing" and not spec.op.startswith("words_to_sentence"):
        return hint + "; this task has no offline-generated variant."
    generated = (f"parallelbench_waiting_line_{spec.op}_gen_n15" if spec.category == "waiting_line_n15"
                 else f"parallelbench_{spec.category}_{spec.op}_gen")
    return (hint + f", or run the offline-generated variant {generated}, which uses different data under a "
            "different name.")


def load_official(spec: TaskSpec, metadata: Mapping[str, Any] | None = None) -> tuple[list[dict[str, Any]], str]:
    """(documents, description of the source) of the official data of ``spec``."""
    local = data_dir(metadata)
    if local:
        path = Path(local) / str(spec.local_file)
        if not path.is_file():
            raise ParallelBenchDataError(
                f"{spec.task_id}: parallelbench_data_dir={local!r} has no {spec.local_file} (missing file {path}); "
                "point it at a copy of the official release (the folder holding waiting_line/, puzzle/, ...), or "
                f"unset it to use the hub dataset {HUB_DATASET}.")
        return (records_to_docs(spec, _read_jsonl(path), scoring=scoring_mode(metadata)),
                f"official release, local copy {path}")
    try:
        import datasets

        rows = datasets.load_dataset(HUB_DATASET, spec.hub_config, split="test")
    except Exception as exc:  # noqa: BLE001 - every cause (offline, missing config, auth) gets the same advice
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ParallelBenchDataError(
            f"{spec.task_id}: could not load the official ParallelBench data, Hugging Face hub dataset "
            f"'{HUB_DATASET}' (config '{spec.hub_config}', split 'test'): {type(exc).__name__}: {cause}. "
            + _offline_hint(spec)) from exc
    return (records_to_docs(spec, list(rows), json_columns=True, scoring=scoring_mode(metadata)),
            f"official release, hub dataset {HUB_DATASET} (config {spec.hub_config}, split test)")


def load_generated(spec: TaskSpec, params: Mapping[str, Any],
                   metadata: Mapping[str, Any] | None = None) -> tuple[list[dict[str, Any]], str]:
    """(documents, description) of our offline generator for ``spec`` with ``params``."""
    unknown = sorted(set(params) - set(_GENERATOR_KEYS))
    if unknown:
        raise ValueError(f"{spec.task_id}: unknown generator option(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(_GENERATOR_KEYS)}.")
    kwargs = dict(params)
    if "lengths" in kwargs:
        kwargs["lengths"] = tuple(kwargs["lengths"])
    records = generate(spec.task_id, **kwargs)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    where = f"generated offline by lm_eval_mdlm.tasks.generate ({shown or 'defaults'})"
    return records_to_docs(spec, records, scoring=scoring_mode(metadata)), where


def load_docs(dataset_kwargs: Mapping[str, Any] | None,
              metadata: Mapping[str, Any] | None = None) -> tuple[TaskSpec, list[dict[str, Any]], str]:
    """(spec, documents, source description) for a task's ``dataset_kwargs`` from its YAML.

    ``dataset_kwargs``: ``task`` (e.g. ``waiting_line/copy``), ``source`` (``official`` or
    ``generated``) and, for generated data, the generator options (``lengths``, ``num_samples``,
    ``seed``, ``size``, ``holes``).
    """
    kwargs = dict(dataset_kwargs or {})
    if "task" not in kwargs or kwargs.get("source") not in SOURCES:
        raise ValueError(f"a ParallelBench task needs dataset_kwargs with 'task' and 'source' "
                         f"({' or '.join(SOURCES)}); got {kwargs!r}.")
    spec = get_spec(kwargs.pop("task"))
    if kwargs.pop("source") == "official":
        if kwargs:
            raise ValueError(f"{spec.task_id}: generator options {sorted(kwargs)} cannot apply to official data.")
        docs, where = load_official(spec, metadata)
    else:
        docs, where = load_generated(spec, kwargs, metadata)
    return spec, docs, where
