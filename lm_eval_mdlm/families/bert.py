"""BERT-style masked LMs (BERT, RoBERTa, ModernBERT, ... : any ``AutoModelForMaskedLM`` type).

- Unshifted logits, 2-D padding mask, mask id from the tokenizer's mask token.
- BERT's learned absolute positions are wrong under left padding unless each row's positions start
  at its first real token, so position ids are passed whenever ``forward`` accepts them (measured:
  off by 0.44 without, 1e-7 with).
- ModernBERT mixes global and sliding-window layers. We pass a 2-D mask, from which transformers
  builds one mask per layer type, so sliding layers keep their ``sliding_window`` band. (A custom 4-D
  mask would be applied as-is to every layer and silently widen the window; if a 4-D layout is ever
  needed here, pass a dict ``{"full_attention": m4, "sliding_attention": m4 & band}``.)
  ``tests/test_families.py`` checks that a narrow-window ModernBERT is still windowed and that
  left-padded rows equal unpadded ones.
- Previous-token types: a checkpoint whose config says ``mdlm_token_types: "previous"`` (the default-model
  recipe with ``previous_token_types=True``) was trained with ``token_type_ids`` holding each position's
  *previous* input id (``type_vocab_size`` = vocabulary size), so every token carries "what came before me" without a
  layer having to learn it. That is the first half of an induction head (Olsson et al. 2022: a
  previous-token head, then a head matching on it), which a model needs to find a person's last name by
  the first name: with it a 4-layer BERT learnt that in ~600 steps, without it the default model's
  name-part phases 1-4 had not after 9,690 (``lm_eval_mdlm/default_model/recipe.py``).
  A checkpoint may also list ``mdlm_token_types_skip``: ids a type passes over (the recipe's
  ``types_skip_punctuation`` lists the punctuation-only tokens), so a word's type is the last *word* before
  it and a listed token has none. The first name after ``Morris", "`` then has type `` Morris``, and copying
  a list in order becomes a chain of the lookup that finds a last name by its first name.
  :func:`~lm_eval_mdlm.families.base.previous_token_types` builds the ids; the
  :class:`~lm_eval_mdlm.families.base.Denoiser` passes them on every forward, whatever the family.
"""

from __future__ import annotations

from lm_eval_mdlm.families.base import Family

MASKED_LM = Family(name="masked_lm", shift_logits=False, mask_layout="2d", positions="auto",
                   auto_class="AutoModelForMaskedLM")
"""Chosen for any config whose ``model_type`` transformers maps to ``AutoModelForMaskedLM``."""
