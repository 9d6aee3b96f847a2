"""Does the default model bind a person's last name to the first name in the same slot?

For each Waiting Line operation, the evaluation documents' answers are shown to the model with only the
last names masked (everything else, including every first name, given); the script prints how often the
most likely token is the right last name. Copy needs only positional copying; in shuffle and the random
operations the slot's first name says which person it is, so a model that finds a person by content
gets them right, and one that copies by position guesses (about 1 in n for shuffle). This is the failure
behind the default model's shuffle/random scores (README, "The default model").

Run: ``OMP_NUM_THREADS=2 python benchmarks/default_model_binding.py [--limit 30] [--pretrained DIR]``.
"""

from __future__ import annotations

import argparse

import torch
from transformers import AutoTokenizer, BertForMaskedLM

from lm_eval_mdlm.default_model import default_checkpoint
from lm_eval_mdlm.default_model.data import eval_documents, messages
from lm_eval_mdlm.default_model.train import batch_tensors, positions

OPS = ("copy", "shuffle", "insert_random", "remove_random", "replace_random")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--pretrained", default=None, help="model folder (default: the shipped default model)")
    args = parser.parse_args()
    path = args.pretrained or default_checkpoint()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = BertForMaskedLM.from_pretrained(path).eval()
    print("| operation | last names right, all else given | last names |\n|---|---:|---:|")
    for op in OPS:
        docs = eval_documents(f"waiting_line/{op}")[:args.limit]
        examples = [(tokenizer.apply_chat_template(messages(d), tokenize=False, add_generation_prompt=True),
                     d["target"]) for d in docs]
        ids, attention, answers = batch_tensors(tokenizer, examples, 32)
        pieces = [tokenizer.convert_ids_to_tokens(row) for row in answers.tolist()]
        last = torch.tensor([[p.startswith("\u0120") and p[1:].isalpha() for p in row] for row in pieces])  # " Lee"
        shown = torch.where(last, tokenizer.mask_token_id, answers)
        with torch.no_grad():
            logits = model(input_ids=torch.cat([ids, shown], 1), attention_mask=attention,
                           position_ids=positions(attention)).logits[:, ids.shape[1]:]
        right = (logits.argmax(-1) == answers)[last].float().mean().item()
        print(f"| {op} | {100 * right:.0f} % | {int(last.sum())} |")


if __name__ == "__main__":
    main()
