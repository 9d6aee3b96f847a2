"""Token ids a family's conventions name by string: found in the tokenizer, else the released id."""

from __future__ import annotations

from typing import Any

from lm_eval_mdlm.families.bert import MASKED_LM
from lm_eval_mdlm.families.spec import Family


def token_id(tokenizer: Any, token: str | None) -> int | None:
    """The id of ``token`` if the tokenizer knows it as a whole token, else None."""
    if token is None:
        return None
    vocab = tokenizer.get_vocab()
    return vocab.get(token)


def resolve_eos_ids(tokenizer: Any, family: Family | None, vocab_size: int) -> tuple[int, ...]:
    """End-of-answer ids: the family's EOS / end-of-turn tokens (by string in the tokenizer, else by
    their released id if it is in the vocabulary), plus the tokenizer's EOS (and SEP for masked LMs)."""
    ids: list[int] = []
    for token, default in family.eos_tokens if family else ():
        found = token_id(tokenizer, token)
        if found is not None or default is not None:
            ids.append(found if found is not None else default)
    ids += [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if family is None or family is MASKED_LM:
        ids += [i for i in (getattr(tokenizer, "sep_token_id", None),) if i is not None]
    return tuple(dict.fromkeys(i for i in ids if 0 <= i < vocab_size))
