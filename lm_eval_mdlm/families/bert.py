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
  recipe with ``previous_token_types=True``) was trained with ``token_type_ids`` holding each position's *previous* input id
  (``type_vocab_size`` = vocabulary size), so every token carries "what came before me" without a
  layer having to learn it. That is the first half of an induction head (Olsson et al. 2022: a
  previous-token head, then a head matching on it), which a model needs to find a person's last name by
  the first name: with it a 4-layer BERT learnt that in ~600 steps, without it the shipped default model
  had not after 9,690 (``lm_eval_mdlm/default_model/recipe.py``).
  :func:`previous_token_types` builds the ids; the :class:`~lm_eval_mdlm.families.base.Denoiser`
  passes them on every forward.
"""

from __future__ import annotations

import torch

from lm_eval_mdlm.families.base import Family

PREVIOUS_TOKEN_TYPES = "previous"
"""``config.mdlm_token_types`` of a checkpoint trained with :func:`previous_token_types` as token types."""

MASKED_LM = Family(name="masked_lm", shift_logits=False, mask_layout="2d", positions="auto",
                   auto_class="AutoModelForMaskedLM")
"""Chosen for any config whose ``model_type`` transformers maps to ``AutoModelForMaskedLM``."""


def previous_token_types(input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_id: int) -> torch.Tensor:
    """``token_type_ids`` whose entry ``i`` is ``input_ids[:, i - 1]``; each row's first real token
    (nothing before it) and padding get ``pad_id``, so a left-padded row sees what it sees unpadded."""
    real = attention_mask.bool()
    before = torch.nn.functional.pad(input_ids[:, :-1], (1, 0), value=pad_id)
    before_real = torch.nn.functional.pad(real[:, :-1], (1, 0), value=False)
    return torch.where(before_real & real, before, torch.full_like(input_ids, pad_id))
