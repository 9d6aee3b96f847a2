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
"""

from __future__ import annotations

from lm_eval_mdlm.families.spec import Family

MASKED_LM = Family(name="masked_lm", shift_logits=False, mask_layout="2d", positions="auto",
                   auto_class="AutoModelForMaskedLM")
"""Chosen for any config whose ``model_type`` transformers maps to ``AutoModelForMaskedLM``."""
