"""Previous-token types: an input convention the default-model recipe can train with (not shipped).

A checkpoint whose config says ``mdlm_token_types: "previous"`` (the default-model
recipe with ``previous_token_types=True``) was trained with ``token_type_ids`` holding each position's
*previous* input id (``type_vocab_size`` = vocabulary size), so every token carries "what came before me" without a
layer having to learn it. That is the first half of an induction head (Olsson et al. 2022: a
previous-token head, then a head matching on it), which a model needs to find a person's last name by
the first name: with it a 4-layer BERT learnt that in ~600 steps, without it the default model's
name-part phases 1-4 had not after 9,690 (docs/default_model.md).
A checkpoint may also list ``mdlm_token_types_skip``: ids a type passes over (the recipe's
``types_skip_punctuation`` lists the punctuation-only tokens), so a word's type is the last *word* before
it and a listed token has none. The first name after ``Morris", "`` then has type `` Morris``, and copying
a list in order becomes a chain of the lookup that finds a last name by its first name.
:func:`previous_token_types` builds the ids; training passes them on every forward
(:func:`~research.default_model.train.encoder_inputs`). The shipped checkpoint does not use them, so the
engine does not feed them and refuses a checkpoint that declares them.
"""

from __future__ import annotations

from typing import Any

import torch

from lm_eval_mdlm.config import ConfigError

PREVIOUS_TOKEN_TYPES = "previous"
"""``config.mdlm_token_types`` of a checkpoint trained with :func:`previous_token_types` as its token types
(the module docstring says why)."""
TYPE_SKIP_KEY = "mdlm_token_types_skip"
"""Optional config key beside it: the token ids a type passes over (a token's type is then the last id before
it *not* in this list, e.g. the previous word past punctuation, and a listed token has none)."""


def previous_token_types(input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_id: int,
                         skip: torch.Tensor | None = None) -> torch.Tensor:
    """``token_type_ids`` whose entry ``i`` is ``input_ids[:, i - 1]``, or with ``skip`` (a (V,) bool table):
    for a token ``skip`` does not mark, the last real id before it that ``skip`` does not mark, and for a
    marked token ``pad_id``. A token with nothing before it and padding get ``pad_id``, so a left-padded
    row sees what it sees unpadded.

    With punctuation skipped, the first name after ``Morris", "`` has type `` Morris``: the person before
    it, which is what copying a list needs to chain from one name to the next (this module's docstring). The
    punctuation itself gets no type, so that the first name is the only token in the list whose type is
    `` Morris`` (as the last name is the only one typed by its first name): with ``",`` and `` "`` typed
    `` Morris`` as well, two of three matches are punctuation, and a model whose lookup matches types put
    ``"]`` or ``",`` into 60 of 72 first-name slots (docs/default_model.md, which also says that neither way made the
    first-name chain form in the steps tried).
    """
    real = attention_mask.bool()
    counted = real if skip is None else real & ~skip.to(input_ids.device)[input_ids]
    index = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
    last = torch.where(counted, index, -1).cummax(1).values  # last counted position at or before i
    before = torch.nn.functional.pad(last[:, :-1], (1, 0), value=-1)
    types = input_ids.gather(1, before.clamp_min(0))
    return torch.where((before >= 0) & counted, types, pad_id)


def token_types(config: Any, vocab_size: int) -> tuple[bool, torch.Tensor | None]:
    """A checkpoint's token-type convention, checked once for the engine and for training alike: whether it
    takes :func:`previous_token_types`, and the (V,) bool table of ``config.mdlm_token_types_skip`` (None
    without that key). Raises naming the key for a convention this engine does not know, a skip list
    without it, or ids outside the vocabulary (an index error deep in a forward would not say which)."""
    kind = getattr(config, "mdlm_token_types", None)
    if kind not in (None, PREVIOUS_TOKEN_TYPES):
        raise ConfigError(f"config.mdlm_token_types={kind!r} is not a token-type convention the recipe knows; "
                          f"valid: {PREVIOUS_TOKEN_TYPES!r} (token_type_ids = the previous input id, "
                          "this module) or no such key.")
    ids = getattr(config, TYPE_SKIP_KEY, None)
    if ids is None:
        return kind == PREVIOUS_TOKEN_TYPES, None
    if kind is None:
        raise ConfigError(f"config.{TYPE_SKIP_KEY} is set but config.mdlm_token_types=None; the skip list "
                          f"only applies to mdlm_token_types={PREVIOUS_TOKEN_TYPES!r}. Fix config.json.")
    bad = [i for i in ids if not (isinstance(i, int) and 0 <= i < vocab_size)]
    if bad:
        raise ConfigError(f"config.{TYPE_SKIP_KEY} holds {bad[:5]}, which are not token ids of this vocabulary "
                          f"(0..{vocab_size - 1}); it lists the ids a token type passes over "
                          "(research/default_model/token_types.py). Fix or remove the key in config.json.")
    table = torch.zeros(vocab_size, dtype=torch.bool)
    table[list(ids)] = True
    return True, table


def punctuation_ids(tokenizer) -> list[int]:
    """Ids of the tokens without a letter or digit (``",``, `` "``, ``\\n``, ...), special tokens excepted:
    what :attr:`Recipe.types_skip_punctuation` passes over. The mask token stays a word, so a type
    behind a masked position says "unknown" rather than naming an older word. Byte fragments of a
    non-ASCII letter decode to U+FFFD alone and count as punctuation; the task corpus is ASCII."""
    special = set(tokenizer.all_special_ids)
    return [i for i in range(len(tokenizer))
            if i not in special and not any(c.isalnum() for c in tokenizer.decode([i]))]
