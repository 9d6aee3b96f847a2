"""Does the default model bind a person's last name to the first name in the same slot?

For each Waiting Line operation, the evaluation documents' answers are shown to the model with only the
last names masked (everything else, including every first name, given); the script prints how often the
most likely token is the right last name. Copy needs only positional copying; in shuffle and the random
operations the slot's first name says which person it is, so a model that finds a person by content
gets them right, and one that copies by position guesses (about 1 in n for shuffle). This is the failure
behind the default model's shuffle/random scores (docs/default_model.md). The last two rows measure the
same on the training drill ``bind<n>`` (data.py): a bare list of 2..n people, then the same people reordered,
at its own positions and with every position id moved by ``--shift`` (default 60): the model's positions
are learned absolute embeddings, and a lookup learnt on the drill's short rows at positions 0-60 was gone
20 positions later (a drilled model, ``--shift 20``: bind6 85 % at +0, 31 % at +20; bind3 99 -> 54 %),
which is why drilling bare lists did not carry over to the task prompts, whose lists sit 80-230 positions in.

The shipped default model writes each person as one token (``Recipe.person_tokens``), so it has no last name
to bind; this measures checkpoints with name-part tokens, e.g. ``phase4`` of
``python -m research.default_model``'s output.

Run: ``OMP_NUM_THREADS=2 python benchmarks/default_model_binding.py --pretrained DIR [--limit 30] [--shift N]``.
"""

from __future__ import annotations

import argparse
import random

import torch
from transformers import AutoTokenizer, BertForMaskedLM

from research.default_model.data import LAST_NAME_TOKENS, Sampler, eval_documents, messages
from research.default_model.train import Example, batch_tensors, drill_targets, encoder_inputs
from lm_eval_mdlm.tasks import vocab

OPS = ("copy", "shuffle", "insert_random", "remove_random", "replace_random")


def last_name_accuracy(model, tokenizer, examples: list[Example], shift: int = 0) -> tuple[float, int]:
    """Share of last names predicted right with every other answer token given (position ids moved by
    ``shift``), and how many there are."""
    ids, attention, answers = batch_tensors(tokenizer, examples, 32)
    _, last = drill_targets(tokenizer, examples, answers)
    shown = torch.where(last, tokenizer.mask_token_id, answers)
    tokens = torch.cat([ids, shown], 1)
    with torch.no_grad():
        logits = model(input_ids=tokens, **encoder_inputs(model, tokens, attention, shift)).logits[:, ids.shape[1]:]
    return (logits.argmax(-1) == answers)[last].float().mean().item(), int(last.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--pretrained", required=True, help="model folder with name-part tokens (e.g. phase4 of "
                        "`python -m research.default_model --out DIR`)")
    parser.add_argument("--shift", type=int, default=60, help="position shift of the drill's second measurement")
    args = parser.parse_args()
    path = args.pretrained
    tokenizer = AutoTokenizer.from_pretrained(path)
    if vocab.PEOPLE[0] in tokenizer.get_vocab():
        parser.error(f"{path} writes a person as one token (Recipe.person_tokens): there is no last name to bind; "
                     "pass a checkpoint with name-part tokens (e.g. phase4 of `python -m research.default_model`).")
    model = BertForMaskedLM.from_pretrained(path).eval()
    sampler = Sampler(tokenizer)  # renders prompts exactly as training does
    print("| operation | last names right, all else given | last names |\n|---|---:|---:|")
    for op in OPS:
        examples = [Example(sampler.render(messages(d)), d["target"], LAST_NAME_TOKENS)
                    for d in eval_documents(f"waiting_line/{op}")[:args.limit]]
        right, count = last_name_accuracy(model, tokenizer, examples)
        print(f"| {op} | {100 * right:.0f} % | {count} |")
    for stage in ("bind3", "bind6"):  # the training drill's own format: a list, then its people reordered
        examples = sampler(stage, random.Random(99), args.limit)
        for shift in (0, args.shift):
            right, count = last_name_accuracy(model, tokenizer, examples, shift)
            print(f"| drill {stage}, positions +{shift} | {100 * right:.0f} % | {count} |")


if __name__ == "__main__":
    main()
