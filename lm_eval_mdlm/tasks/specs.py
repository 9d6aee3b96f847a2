"""What each ParallelBench task is: its prompt, how it is scored, where its official data lives.

Prompts are verbatim from the official October 2025 release (``task_config.yaml`` of each category,
the same text as the paper's Table 3); ``tests/test_pb_specs.py`` compares them with the reference
files. As the official loader does, ``\\n`` written as two characters in a prompt becomes a newline
after formatting (only the Sudoku prompt has them).

The synthetic list operations of §4 have no published prompt (the paper fine-tunes and infills);
ours follow the Waiting Line wording over single-token items ``[A, B, C]``.
"""

from __future__ import annotations

from dataclasses import dataclass

HUB_DATASET = "furiosa-ai/ParallelBench"

_WL = "You are managing a waiting line at a customer service desk.\n"
_W2S = "Construct a single, coherent sentence using the words {words}."


@dataclass(frozen=True)
class TaskSpec:
    """One ParallelBench task. ``scorer`` names the validator in :mod:`lm_eval_mdlm.tasks.scoring`."""

    task_id: str
    prompt: str
    scorer: str
    shots: int
    local_file: str | None = None
    """Path of the official data inside a copy of the release (``PARALLELBENCH_DATA_DIR``)."""

    @property
    def hub_config(self) -> str:
        """The hub dataset's config name: the task id with ``/`` -> ``-`` (official convention)."""
        return self.task_id.replace("/", "-", 1)

    @property
    def category(self) -> str:
        return self.task_id.split("/", 1)[0]

    @property
    def op(self) -> str:
        return self.task_id.split("/", 1)[1]

    def render(self, fields: dict) -> str:
        """The user message for one input (``str.format`` over the input fields, then ``\\n``)."""
        try:
            return self.prompt.format(**fields).replace("\\n", "\n")
        except KeyError as exc:
            raise KeyError(f"{self.task_id}: the input has no field {exc} needed by the prompt; it has "
                           f"{sorted(fields)}. Is the data in the ParallelBench schema?") from None


WAITING_LINE_SCORERS = {
    "copy": "exact", "reverse": "exact", "insert_index": "exact", "remove_index": "exact",
    "replace_index": "exact", "sort": "sort", "shuffle": "shuffle", "insert_random": "insert_random",
    "remove_random": "remove_random", "replace_random": "replace_random",
}

_WAITING_LINE_PROMPTS = {
    "copy": _WL + "You need to record the following people in the order they arrived:\n{context}\n"
            "Please copy the list exactly and provide only the final list.\n",
    "sort": _WL + "The following people should be organized alphabetically by last name for efficient "
            "processing:\n{context}\nPlease sort the list in alphabetical order and provide only the final list.\n",
    "reverse": _WL + "The previous staff member put the waiting line in the wrong order.\nPlease reverse the "
               "order of the following people in the waiting line to correct it:\n{context}\nPlease reverse "
               "the order of the list and provide only the final list.\n",
    "shuffle": _WL + "The waiting line should be randomly shuffled to ensure fair service distribution:\n"
               "{context}\nPlease randomly shuffle the list and provide only the final list.\nEnsure the "
               "sequence is different from the original.\n",
    "insert_index": _WL + 'A new person "{word}" is inserted into the line at position {index}:\n{context}\n'
                    "Please put the new person at the specified position and provide only the final list.\n",
    "insert_random": _WL + 'A new person "{word}" is inserted into the line at a random position:\n{context}\n'
                     "Please put the new person in the random position and provide only the final list.\n",
    "remove_index": _WL + "The person at position {index} has left the waiting line:\n{context}\nPlease "
                    "remove the person at the specified position and provide only the final list.\n",
    "remove_random": _WL + "One person has left the waiting line:\n{context}\nPlease remove a random person "
                     "and provide only the final list.\n",
    "replace_index": _WL + 'The person at position {index} must be replaced with "{word}":\n{context}\nPlease '
                     'replace the person at the specified position with "{word}" and provide only the final list.\n',
    # No trailing newline here in the official release.
    "replace_random": _WL + 'One person in the waiting line must be replaced with "{word}":\n{context}\nPlease '
                      'replace one random person with "{word}" and provide only the final list.',
}

_LIST_OP_PROMPTS = {
    "copy": "Copy the following list exactly:\n{context}\nProvide only the final list.",
    "replace_index": "Replace the item at position {index} with {word} in the following list:\n{context}\n"
                     "Provide only the final list.",
    "replace_random": "Replace one random item with {word} in the following list:\n{context}\n"
                      "Provide only the final list.",
    "shuffle": "Randomly shuffle the following list:\n{context}\nEnsure the order is different from the "
               "original. Provide only the final list.",
}

SPECS: dict[str, TaskSpec] = {}


def _add(spec: TaskSpec) -> None:
    SPECS[spec.task_id] = spec


for _op, _prompt in _WAITING_LINE_PROMPTS.items():
    _add(TaskSpec(f"waiting_line/{_op}", _prompt, WAITING_LINE_SCORERS[_op], 1, f"waiting_line/{_op}.jsonl"))
# The paper's dLLM-vs-LLM runs: the same prompts over 15 names (release folder waiting_line_n15/).
for _op, _prompt in _WAITING_LINE_PROMPTS.items():
    _add(TaskSpec(f"waiting_line_n15/{_op}", _prompt, WAITING_LINE_SCORERS[_op], 1, f"waiting_line_n15/{_op}.jsonl"))
for _op, _prompt in _LIST_OP_PROMPTS.items():
    _add(TaskSpec(f"list_ops/{_op}", _prompt, WAITING_LINE_SCORERS[_op], 1))
_add(TaskSpec("text_writing/summarization",
              "Summarize the following conversation. Only output the final result.\n\n{text}\n\nSummary:",
              "summarization", 0, "paraphrase_summarize/samsum.jsonl"))
_add(TaskSpec("text_writing/paraphrasing",
              "Paraphrase the following sentence. Only output the final result.\n\nSentence: {text}\n\nParaphrase:",
              "paraphrasing", 0, "paraphrase_summarize/chatgpt-paraphrases.jsonl"))
for _level in ("easy", "medium", "hard"):
    _add(TaskSpec(f"text_writing/words_to_sentence_{_level}", _W2S, "words_to_sentence", 0,
                  f"words_to_sentence/{_level}.jsonl"))
_add(TaskSpec("puzzles/latin_square_n4",
              "Generate a Latin square of size {size} with the symbols {symbols}. Only output the final result as CSV.",
              "latin_square", 1, "puzzle/latin_square_n4.jsonl"))
_add(TaskSpec("puzzles/sudoku_n4",
              "Fill the positions where the values are 0 in a 4x4 grid with digits 1-4 so that each column, each "
              "row, and each of the four 2x2 subgrids that compose the grid contains all of the digits from 1 to "
              "4.\\n\\nInput:\\n{sudoku}\\nOutput:\\n",
              "sudoku", 1, "puzzle/sudoku_n4_12.jsonl"))

OFFICIAL_N15_TASKS = tuple(t for t in SPECS if t.startswith("waiting_line_n15/"))
"""The official 15-name Waiting Line tasks (the paper's dLLM-vs-LLM comparison, 128 answer tokens)."""
OFFICIAL_TASKS = tuple(t for t, s in SPECS.items() if s.local_file is not None and t not in OFFICIAL_N15_TASKS)
"""The 17 tasks of the paper's benchmark on the official data."""


def get_spec(task_id: str) -> TaskSpec:
    """The spec of ``task_id``; a clear error listing the known ids otherwise."""
    try:
        return SPECS[task_id]
    except KeyError:
        raise KeyError(f"unknown ParallelBench task {task_id!r}; known: {', '.join(sorted(SPECS))}.") from None
