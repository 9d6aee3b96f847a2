"""Per-sample scoring of ParallelBench answers: the task's metrics plus the decoding-trace metrics.

``score`` is each task's headline number, as in the official lm-eval port: accuracy for Waiting
Line, list operations and puzzles; for Text Writing the official products (summaries: ROUGE-L x
grammar; paraphrases: (1 - BLEU) x BERTScore x grammar; Words-to-Sentence: inclusion and grammar).
The parts are reported too, so the paper's Table 6 columns can be read directly.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lm_eval_mdlm import traces
from lm_eval_mdlm.metrics import lists, puzzles, text
from lm_eval_mdlm.metrics.grammar import GrammarChecker, get_checker, resolve_settings
from lm_eval_mdlm.tasks.specs import TaskSpec

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "exact": ("score",), "sort": ("score",), "shuffle": ("score",), "insert_random": ("score",),
    "remove_random": ("score",), "replace_random": ("score",), "latin_square": ("score",),
    "sudoku": ("score",),
    "summarization": ("score", "grammar", "rougeL"),
    "paraphrasing": ("score", "grammar", "bertscore", "inv_bleu"),
    "words_to_sentence": ("score", "grammar", "inclusion"),
}
GRAMMAR_SCORERS = ("summarization", "paraphrasing", "words_to_sentence")
ENV_BERTSCORE_MODEL = "PARALLELBENCH_BERTSCORE_MODEL"


@dataclass(frozen=True)
class ScoringSettings:
    """The user-chosen parts of scoring, read from task metadata (``--metadata``) or the environment."""

    grammar_backend: str = "languagetool"
    languagetool_url: str | None = None
    bertscore_model: str = text.DEFAULT_BERTSCORE_MODEL
    bertscore_num_layers: int | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> ScoringSettings:
        metadata = metadata or {}
        backend, url = resolve_settings(metadata)
        model = metadata.get("bertscore_model") or os.environ.get(ENV_BERTSCORE_MODEL) or text.DEFAULT_BERTSCORE_MODEL
        layers = metadata.get("bertscore_num_layers")
        return cls(backend, url, str(model), None if layers in (None, "") else int(layers))


@functools.cache
def _bertscore(model: str, num_layers: int | None) -> text.BertScore:
    return text.BertScore(model, num_layers)


def score_answer(scorer: str, prediction: str, reference: Mapping[str, Any],
                 grammar: GrammarChecker | None = None, bertscore: text.BertScore | None = None) -> dict[str, float]:
    """The task metrics of one answer (``reference`` as built by :mod:`lm_eval_mdlm.tasks.records`)."""
    if scorer == "exact":
        return {"score": lists.exact_match(prediction, reference["answer"])}
    if scorer == "sort":
        return {"score": lists.sorted_by_last_name(prediction, reference["items"])}
    if scorer == "shuffle":
        return {"score": lists.shuffled(prediction, reference["items"])}
    if scorer == "insert_random":
        return {"score": lists.inserted_anywhere(prediction, reference["items"], reference["new"])}
    if scorer == "remove_random":
        return {"score": lists.removed_anywhere(prediction, reference["items"])}
    if scorer == "replace_random":
        return {"score": lists.replaced_anywhere(prediction, reference["items"], reference["new"])}
    if scorer == "latin_square":
        return {"score": puzzles.is_latin_square(prediction, reference["symbols"])}
    if scorer == "sudoku":
        return {"score": puzzles.sudoku_matches(prediction, reference["solution"])}
    if scorer not in GRAMMAR_SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; known: {', '.join(TASK_METRICS)}.")
    if grammar is None:
        raise ValueError(f"scorer {scorer!r} needs a grammar checker.")
    answer = prediction.strip()
    ok = grammar.score(answer)
    if scorer == "summarization":
        rouge = text.rouge_l(answer, reference["summary"]) if answer else 0.0
        return {"score": rouge * ok, "grammar": ok, "rougeL": rouge}
    if scorer == "paraphrasing":
        if not answer:  # the official scorer gives an empty paraphrase 0 on every part
            similarity = math.nan if bertscore is not None and not bertscore.available else 0.0
            return {"score": similarity, "grammar": 0.0, "bertscore": similarity, "inv_bleu": 0.0}
        similarity = bertscore.f1(answer, reference["source"]) if bertscore is not None else math.nan
        diversity = text.inverse_bleu(answer, reference["source"])
        return {"score": diversity * similarity * ok, "grammar": ok, "bertscore": similarity, "inv_bleu": diversity}
    included = text.words_included(answer, reference["words"])
    return {"score": float(included and ok), "grammar": ok, "inclusion": included}


class Scorer:
    """lm-eval's ``process_results`` for one task: ``(doc, results) -> {metric: value}``.

    ``results[0]`` is the generated answer; from ``--model mdlm`` it carries its decoding trace,
    whose metrics (NFE, tokens/step, AFP, Kendall tau, ...) are merged in (NaN for other models).
    """

    def __init__(self, spec: TaskSpec, settings: ScoringSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.grammar: GrammarChecker | None = None
        self.bertscore: text.BertScore | None = None

    @property
    def metrics(self) -> tuple[str, ...]:
        return TASK_METRICS[self.spec.scorer] + traces.TRACE_METRICS

    def prepare(self) -> dict[str, Any]:
        """Build the checkers this task needs now (so a broken backend fails before generation) and
        return what to record in the results' task metadata."""
        recorded: dict[str, Any] = {}
        if self.spec.scorer in GRAMMAR_SCORERS:
            self.grammar = get_checker(self.settings.grammar_backend, self.settings.languagetool_url)
            recorded["grammar_backend"] = self.grammar.backend
            recorded["grammar_checker"] = self.grammar.description
        if self.spec.scorer == "paraphrasing":
            self.bertscore = _bertscore(self.settings.bertscore_model, self.settings.bertscore_num_layers)
            recorded["bertscore_model"] = self.settings.bertscore_model
            recorded["bertscore_available"] = self.bertscore.available
        return recorded

    def __call__(self, doc: Mapping[str, Any], results: list[Any]) -> dict[str, float]:
        if self.spec.scorer in GRAMMAR_SCORERS and self.grammar is None:
            self.prepare()
        answer = results[0]
        values = score_answer(self.spec.scorer, str(answer), json.loads(doc["reference"]),
                              self.grammar, self.bertscore)
        values.update(traces.metric_values(answer))
        return values

    def __repr__(self) -> str:  # what lm-eval prints for process_results in the results' config
        return f"lm_eval_mdlm.tasks.scoring.Scorer(task={self.spec.task_id!r}, scorer={self.spec.scorer!r})"
