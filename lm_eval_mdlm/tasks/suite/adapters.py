"""Document adapters (``process_docs``) of the MDLM suite: one prompt style per answer format.

Why our own prompts: lm-eval scores most multiple-choice tasks by log-likelihood and many generative
ones with lenient regexes. The suite asks every model for a *generated*, *marked* answer (as the
AFP/τ paper did) so that the strict extractors of :mod:`.extract` apply. Each adapter maps a dataset's
own schema to three added columns: ``mdlm_prompt`` (zero-shot instruction), ``mdlm_target`` (the
reference shown in logs) and ``mdlm_answers`` (JSON list of accepted answers, or a JSON object the
scorer needs, e.g. test code). Original columns are kept (IFEval's checker reads them).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from typing import Any

import datasets

from lm_eval_mdlm.tasks.suite.task import SuiteDataError

LETTERS = "ABCDEFGHIJKLMNOP"
MC_TAIL = ('Think step by step, then end your response with "The answer is (X)." where X is the letter of the '
           "correct option.")
NUMBER_TAIL = 'Think step by step, then end your response with "The answer is N." where N is the final number.'
BOXED_TAIL = "Think step by step, then put the final answer in \\boxed{}."
TEXT_TAIL = 'End your response with "The answer is <answer>." giving the answer as a short phrase.'
BOOL_TAIL = 'Think step by step, then end your response with "The answer is True." or "The answer is False."'
CODE_TAIL = "Write the complete solution in one ```{lang} code block."

Row = tuple[str, list[str] | dict[str, Any]]


def _adapt(fn: Callable[[dict[str, Any]], Row]) -> Callable[[datasets.Dataset], datasets.Dataset]:
    """Wrap ``doc -> (prompt, answers)`` as a ``process_docs`` adding the three ``mdlm_*`` columns.

    A row without a field the adapter reads, or without any non-empty answer, is a :class:`SuiteDataError`
    naming the benchmark's adapter and the field: a silent empty answer would score every response 0
    (an empty alias next to real ones is harmless: scorers never match an empty answer)."""
    name = fn.__name__.lstrip("_")

    def process_docs(dataset: datasets.Dataset) -> datasets.Dataset:
        def one(doc: dict[str, Any]) -> dict[str, str]:
            try:
                prompt, answers = fn(doc)
            except KeyError as exc:
                raise SuiteDataError(f"{name}: a row has no field {exc.args[0]!r} (its fields: {sorted(doc)}); "
                                     "the dataset's schema differs from the one this adapter reads.") from exc
            if isinstance(answers, list) and not any(str(a).strip() for a in answers):
                raise SuiteDataError(f"{name}: a row has no non-empty answer ({answers!r}); its fields: {sorted(doc)}.")
            target = answers[0] if isinstance(answers, list) else json.dumps(answers)[:200]
            return {"mdlm_prompt": prompt, "mdlm_target": str(target), "mdlm_answers": json.dumps(answers)}

        return dataset.map(one)

    process_docs.__name__ = fn.__name__
    process_docs.__doc__ = fn.__doc__
    return process_docs


def mc_prompt(question: str, choices: list[str], context: str = "") -> str:
    """The suite's multiple-choice prompt: options lettered A, B, ...; the answer marked as '(X)'."""
    options = "\n".join(f"{LETTERS[i]}. {str(c).strip()}" for i, c in enumerate(choices))
    head = f"{context.strip()}\n\n" if context.strip() else ""
    return f"{head}Question: {question.strip()}\n\n{options}\n\n{MC_TAIL}"


def _letter(index: int) -> list[str]:
    return [LETTERS[int(index)]]


# ---- multiple choice -------------------------------------------------------------------------------
@_adapt
def mmlu(doc: dict[str, Any]) -> Row:
    """cais/mmlu: question, choices, answer (index)."""
    return mc_prompt(doc["question"], doc["choices"]), _letter(doc["answer"])


@_adapt
def mmlu_pro(doc: dict[str, Any]) -> Row:
    """TIGER-Lab/MMLU-Pro: question, options (up to 10), answer (letter)."""
    return mc_prompt(doc["question"], doc["options"]), [str(doc["answer"]).strip()]


def gpqa(dataset: datasets.Dataset) -> datasets.Dataset:
    """Idavidrein/gpqa through lm-eval's own shuffling of the four choices, then our prompt."""
    from lm_eval.tasks.gpqa.generative import utils as gpqa_utils

    return _gpqa(gpqa_utils.process_docs(dataset))


@_adapt
def _gpqa(doc: dict[str, Any]) -> Row:
    choices = [doc[f"choice{i}"] for i in range(1, 5)]
    return mc_prompt(doc["Question"], choices), [str(doc["answer"]).strip("() ")]


@_adapt
def arc(doc: dict[str, Any]) -> Row:
    """ARC / OpenBookQA: question (or question_stem), choices {text, label}, answerKey (label)."""
    labels = [str(x).strip() for x in doc["choices"]["label"]]
    question = doc.get("question") or doc.get("question_stem")
    return mc_prompt(question, doc["choices"]["text"]), _letter(labels.index(str(doc["answerKey"]).strip()))


@_adapt
def cmmlu_ceval(doc: dict[str, Any]) -> Row:
    """CMMLU (Question, A-D, Answer) and C-Eval (question, A-D, answer)."""
    question = doc.get("Question") or doc.get("question")
    return mc_prompt(question, [doc[x] for x in "ABCD"]), [str(doc.get("Answer") or doc.get("answer")).strip()]


def agieval(dataset: datasets.Dataset) -> datasets.Dataset:
    """AGIEval (GAOKAO, LSAT; lm-eval's hails/agieval-*): query (with options), gold (indices).

    Questions with several correct options are dropped: a single marked letter cannot answer them."""
    return _agieval(dataset.filter(lambda d: len(d["gold"]) == 1))


@_adapt
def _agieval(doc: dict[str, Any]) -> Row:
    return f"{doc['query'].strip()}\n\n{MC_TAIL}", _letter(doc["gold"][0])


@_adapt
def musr(doc: dict[str, Any]) -> Row:
    """TAUR-Lab/MuSR: narrative, question, choices (a Python list literal), answer_index."""
    choices = ast.literal_eval(doc["choices"]) if isinstance(doc["choices"], str) else doc["choices"]
    return mc_prompt(doc["question"], choices, context=doc["narrative"]), _letter(doc["answer_index"])


@_adapt
def logiqa2(doc: dict[str, Any]) -> Row:
    """baber/logiqa2: text, question, options, answer (index)."""
    return mc_prompt(doc["question"], doc["options"], context=doc["text"]), _letter(doc["answer"])


@_adapt
def commonsense_qa(doc: dict[str, Any]) -> Row:
    """tau/commonsense_qa: question, choices {label, text}, answerKey."""
    return mc_prompt(doc["question"], doc["choices"]["text"]), [str(doc["answerKey"]).strip()]


@_adapt
def zebralogic(doc: dict[str, Any]) -> Row:
    """allenai/ZebraLogicBench-private mc_mode: id, puzzle, question, choices, answer (one of the choices).

    The public allenai/ZebraLogicBench hides the answers; only the gated ``-private`` copy has them."""
    choices = list(doc["choices"])
    if doc["answer"] not in choices:
        raise SuiteDataError(f"zebralogic: field 'answer' ({doc['answer']!r}) is not one of the row's choices; the "
                             "public allenai/ZebraLogicBench hides the answers: use the gated "
                             "allenai/ZebraLogicBench-private (config mc_mode, split test).")
    return mc_prompt(doc["question"], choices, context=doc["puzzle"]), _letter(choices.index(doc["answer"]))


def hellaswag(dataset: datasets.Dataset) -> datasets.Dataset:
    """Rowan/hellaswag through lm-eval's own text clean-up (query, choices, gold)."""
    from lm_eval.tasks.hellaswag import utils as hellaswag_utils

    return _hellaswag(hellaswag_utils.process_docs(dataset))


@_adapt
def _hellaswag(doc: dict[str, Any]) -> Row:
    return mc_prompt(f"Which ending continues the text best?\n{doc['query']}", doc["choices"]), _letter(doc["gold"])


@_adapt
def piqa(doc: dict[str, Any]) -> Row:
    """baber/piqa: goal, sol1, sol2, label."""
    return mc_prompt(doc["goal"], [doc["sol1"], doc["sol2"]]), _letter(doc["label"])


@_adapt
def siqa(doc: dict[str, Any]) -> Row:
    """lighteval/siqa: context, question, answerA-C, label ('1'-'3')."""
    choices = [doc["answerA"], doc["answerB"], doc["answerC"]]
    return mc_prompt(doc["question"], choices, context=doc["context"]), _letter(int(doc["label"]) - 1)


@_adapt
def winogrande(doc: dict[str, Any]) -> Row:
    """allenai/winogrande: sentence with '_', option1, option2, answer ('1' or '2')."""
    question = f"Which option correctly fills the blank (_)?\n{doc['sentence']}"
    return mc_prompt(question, [doc["option1"], doc["option2"]]), _letter(int(doc["answer"]) - 1)


@_adapt
def race(doc: dict[str, Any]) -> Row:
    """EleutherAI/race: article, problems (list literal); the last problem, as lm-eval's race does."""
    problem = ast.literal_eval(doc["problems"])[-1]
    return mc_prompt(problem["question"], problem["options"], context=doc["article"]), [problem["answer"].strip()]


@_adapt
def anli(doc: dict[str, Any]) -> Row:
    """facebook/anli: premise, hypothesis, label (0 entailment, 1 neutral, 2 contradiction)."""
    question = f"Premise: {doc['premise']}\nHypothesis: {doc['hypothesis']}\nDoes the premise entail the hypothesis?"
    return mc_prompt(question, ["entailment", "neutral", "contradiction"]), _letter(doc["label"])


def ocnli(dataset: datasets.Dataset) -> datasets.Dataset:
    """clue/clue ocnli: sentence1, sentence2, label; options are the dataset's own label names."""
    names = list(dataset.features["label"].names)

    @_adapt
    def one(doc: dict[str, Any]) -> Row:
        question = (f"前提：{doc['sentence1']}\n假设：{doc['sentence2']}\n"
                    "What is the relation of the hypothesis to the premise?")
        return mc_prompt(question, names), _letter(doc["label"])

    return one(dataset.filter(lambda d: d["label"] >= 0))
