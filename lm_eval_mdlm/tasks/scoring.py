"""Per-sample scoring of ParallelBench answers: the task's metrics plus the decoding-trace metrics.

``score`` is each task's headline number, as in the official lm-eval port: accuracy for Waiting
Line, list operations and puzzles; for Text Writing the official products (summaries: ROUGE-L x
grammar; paraphrases: (1 - BLEU) x BERTScore x grammar; Words-to-Sentence: inclusion and grammar).
The parts are reported too, so the paper's Table 6 columns can be read directly.

``score_strict`` is the official strict validity (exact list formatting ``["a", "b"]``; for Latin
squares and Words-to-Sentence the official code has no stricter rule, so it equals ``score``).
The task setting ``scoring`` picks the validators behind ``score``: ``official`` (default) applies
ParallelBench's own rules, quirks included, so numbers sit next to the paper's; ``corrected``
applies ours (:mod:`lm_eval_mdlm.metrics.lists`, :mod:`lm_eval_mdlm.metrics.puzzles`), and its
``score_strict`` is ``score`` with the answer in the exact official format.
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
from lm_eval_mdlm.metrics import lists, official, puzzles, text
from lm_eval_mdlm.metrics.grammar import GrammarChecker, get_checker, resolve_settings
from lm_eval_mdlm.tasks.specs import TaskSpec

VALIDITY_SCORERS = ("exact", "sort", "shuffle", "insert_random", "remove_random", "replace_random",
                    "latin_square", "sudoku")
TASK_METRICS: dict[str, tuple[str, ...]] = {
    **{scorer: ("score", "score_strict") for scorer in VALIDITY_SCORERS},
    "summarization": ("score", "grammar", "rougeL"),
    "paraphrasing": ("score", "grammar", "bertscore", "inv_bleu"),
    "words_to_sentence": ("score", "score_strict", "grammar", "inclusion"),
}
SCORING_MODES = ("official", "corrected")
GRAMMAR_SCORERS = ("summarization", "paraphrasing", "words_to_sentence")
ENV_BERTSCORE_MODEL = "PARALLELBENCH_BERTSCORE_MODEL"


@dataclass(frozen=True)
class ScoringSettings:
    """The user-chosen parts of scoring, read from task metadata (``--metadata``) or the environment."""

    grammar_backend: str = "languagetool"
    languagetool_url: str | None = None
    bertscore_model: str = text.DEFAULT_BERTSCORE_MODEL
    bertscore_num_layers: int | None = None
    scoring: str = "official"

    def __post_init__(self) -> None:
        if self.scoring not in SCORING_MODES:
            raise ValueError(f"scoring={self.scoring!r} is not a ParallelBench scoring mode; use 'official' "
                             "(the official validators, comparable with the paper) or 'corrected' (ours), e.g. "
                             "--metadata '{\"scoring\": \"corrected\"}'.")

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> ScoringSettings:
        metadata = metadata or {}
        backend, url = resolve_settings(metadata)
        model = metadata.get("bertscore_model") or os.environ.get(ENV_BERTSCORE_MODEL) or text.DEFAULT_BERTSCORE_MODEL
        layers = metadata.get("bertscore_num_layers")
        return cls(backend, url, str(model), None if layers in (None, "") else int(layers),
                   str(metadata.get("scoring") or "official"))


@functools.cache
def _bertscore(model: str, num_layers: int | None) -> text.BertScore:
    return text.BertScore(model, num_layers)


def official_scores(scorer: str, prediction: str, reference: Mapping[str, Any]) -> tuple[float, float]:
    """(score, score_strict) of a list or puzzle answer by the official validators."""
    if scorer == "exact":
        return official.exact(prediction, reference.get("label") or lists.format_list(reference["answer"]))
    if scorer == "sort":  # the record's label; the official labels are the items in plain string order
        return official.exact(prediction, reference.get("label") or lists.format_list(sorted(reference["items"])))
    if scorer == "shuffle":
        return official.shuffle(prediction, reference["items"])
    if scorer == "insert_random":
        return official.insert_random(prediction, reference["items"], reference["new"])
    if scorer == "remove_random":
        return official.remove_random(prediction, reference["items"])
    if scorer == "replace_random":
        return official.replace_random(prediction, reference["items"], reference["new"])
    if scorer == "latin_square":
        return official.latin_square(prediction, reference["symbols"])
    return official.sudoku(prediction, reference["solution"], len(reference["solution"].split()))


def corrected_score(scorer: str, prediction: str, reference: Mapping[str, Any]) -> float:
    """``score`` of a list or puzzle answer by our corrected validators."""
    if scorer == "exact":
        return lists.exact_match(prediction, reference["answer"])
    if scorer == "sort":
        return lists.sorted_by_last_name(prediction, reference["items"])
    if scorer == "shuffle":
        return lists.shuffled(prediction, reference["items"])
    if scorer == "insert_random":
        return lists.inserted_anywhere(prediction, reference["items"], reference["new"])
    if scorer == "remove_random":
        return lists.removed_anywhere(prediction, reference["items"])
    if scorer == "replace_random":
        return lists.replaced_anywhere(prediction, reference["items"], reference["new"])
    if scorer == "latin_square":
        return puzzles.is_latin_square(prediction, reference["symbols"])
    return puzzles.sudoku_matches(prediction, reference["solution"])


def _official_format(scorer: str, prediction: str, reference: Mapping[str, Any]) -> bool:
    """Whether the answer is written exactly in the official strict format (corrected ``score_strict``)."""
    if scorer == "latin_square":
        return True
    if scorer == "sudoku":
        return official.parse_sudoku_strict(prediction, len(reference["solution"].split())) is not None
    strict = official.parse_strict(prediction)
    return strict is not None and strict == lists.parse_list(prediction)


def score_answer(scorer: str, prediction: str, reference: Mapping[str, Any],
                 grammar: GrammarChecker | None = None, bertscore: text.BertScore | None = None,
                 scoring: str = "official") -> dict[str, float]:
    """The task metrics of one answer (``reference`` as built by :mod:`lm_eval_mdlm.tasks.records`)."""
    if scoring not in SCORING_MODES:
        raise ValueError(f"scoring={scoring!r} is unknown; use one of {', '.join(SCORING_MODES)}.")
    if scorer in VALIDITY_SCORERS:
        if scoring == "official":
            score, strict = official_scores(scorer, prediction, reference)
        else:
            score = corrected_score(scorer, prediction, reference)
            strict = float(score == 1.0 and _official_format(scorer, prediction, reference))
        return {"score": score, "score_strict": strict}
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
    both = float(included and ok)
    return {"score": both, "score_strict": both, "grammar": ok, "inclusion": included}


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
        if "score_strict" in self.metrics:
            recorded["scoring"] = self.settings.scoring
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
                              self.grammar, self.bertscore, self.settings.scoring)
        values.update(traces.metric_values(answer))
        return values

    def __repr__(self) -> str:  # what lm-eval prints for process_results in the results' config
        return f"lm_eval_mdlm.tasks.scoring.Scorer(task={self.spec.task_id!r}, scorer={self.spec.scorer!r})"
