"""The lm-eval side of our ParallelBench tasks: one task class and one few-shot sampler.

The YAMLs under ``task_yamls/parallelbench`` stay declarative (prompt field, stop strings, token
limits, metric list) and name this class with ``class: !function``. The class adds what YAML cannot:

* documents from :mod:`lm_eval_mdlm.tasks.sources` (official or generated, never one for the other);
* ``process_results`` = a :class:`~lm_eval_mdlm.tasks.scoring.Scorer` whose grammar checker and
  BERTScore model are built when the task is built, so a checker that cannot run fails before any
  generation;
* the grammar backend, BERTScore model and data source written into the task's ``metadata``, which
  lm-eval copies into ``results["configs"][task]``.

One-shot examples: every ParallelBench record carries its own example. :class:`OwnExampleSampler`
hands lm-eval that example, so lm-eval's own few-shot machinery builds the prompt: with
``--apply_chat_template`` (which turns on ``--fewshot_as_multiturn``) the example is a user turn and
an assistant turn before the question, exactly the official message list; without a chat template
it is plain text, example prompt + answer + blank line + question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import datasets
from lm_eval.api.samplers import ContextSampler
from lm_eval.api.task import ConfigurableTask

from lm_eval_mdlm.tasks.scoring import Scorer, ScoringSettings
from lm_eval_mdlm.tasks.sources import load_docs
from lm_eval_mdlm.tasks.specs import get_spec


class OwnExampleSampler(ContextSampler):
    """Few-shot sampler that returns the evaluated document's own examples (``doc["shots"]``)."""

    def sample(self, n: int, eval_doc: dict[str, Any] | None = None, df: Sequence[dict[str, Any]] | None = None,
               **kwargs: Any) -> list[dict[str, Any]]:
        if n == 0:
            return []
        if eval_doc is None:
            raise ValueError("OwnExampleSampler needs the evaluated document: keep fewshot_split equal to "
                             "test_split in the task YAML.")
        shots = list(eval_doc.get("shots") or [])
        if n > len(shots):
            raise ValueError(f"num_fewshot={n} but each ParallelBench document has {len(shots)} example(s); "
                             f"use --num_fewshot {len(shots)} (the benchmark's setting) or 0.")
        return shots[:n]


class ParallelBenchTask(ConfigurableTask):
    """A ParallelBench task configured by YAML; ``dataset_kwargs`` says which task and which data."""

    VERSION = 1.0

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        config = {k: v for k, v in (config or {}).items() if k != "class"}
        self.spec = get_spec(str((config.get("dataset_kwargs") or {}).get("task")))
        metadata = dict(config.get("metadata") or {})
        self.scorer = Scorer(self.spec, ScoringSettings.from_metadata(metadata))
        declared = [m["metric"] for m in config.get("metric_list") or []]
        if sorted(declared) != sorted(self.scorer.metrics):
            raise ValueError(f"{config.get('task')}: metric_list {declared} does not match what the "
                             f"{self.spec.scorer!r} scorer reports {list(self.scorer.metrics)}; fix the YAML.")
        config["process_results"] = self.scorer
        config["metadata"] = metadata
        self.data_source = ""
        super().__init__(config=config, **kwargs)
        self.config.metadata.update(self.scorer.prepare(), data_source=self.data_source)

    def download(self, dataset_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Build the test split from the official data or our generator (no lm-eval dataset_path)."""
        _, docs, self.data_source = load_docs(dataset_kwargs, self.config.metadata)
        self.dataset = datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
