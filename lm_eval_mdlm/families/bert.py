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

from lm_eval_mdlm.families.base import Family

MASKED_LM = Family(name="masked_lm", shift_logits=False, mask_layout="2d", positions="auto",
                   auto_class="AutoModelForMaskedLM")
"""Chosen for any config whose ``model_type`` transformers maps to ``AutoModelForMaskedLM``."""

_BLOCK_CAUSAL = ("it needs a 4-D block-causal attention mask aligned to absolute position 0 (a 2-D mask "
                 "turns it causal) and a block-by-block decoding loop; this adapter is not implemented yet "
                 "(issue 6)")

# Recognised so that they fail loudly: loading them through the generic path would run them with a
# 2-D mask, i.e. causally, and give silently wrong scores.
LLADA2 = Family(name="llada2", model_types=("llada2_moe",), architectures=("LLaDA2MoeModelLM",),
                mask_id=156895, eos_tokens=(("<|endoftext|>", 156892),), unsupported=_BLOCK_CAUSAL)
"""LLaDA 2.x (inclusionAI): ``LLaDA2MoeConfig.model_type = "llada2_moe"``; mask 156895, EOS 156892."""
SDAR = Family(name="sdar", model_types=("sdar",), architectures=("SDARForCausalLM",),
              unsupported=_BLOCK_CAUSAL)
"""SDAR / TraDo (JetAstra): ``SDARConfig.model_type = "sdar"``, a Qwen3 with block diffusion."""
DIFFUSION_GEMMA = Family(
    name="diffusion_gemma", model_types=("diffusion_gemma",), architectures=("DiffusionGemmaForBlockDiffusion",),
    unsupported="it starts from random tokens and re-noises instead of masking, through an encoder/decoder "
                "block-diffusion loop; this adapter is not implemented yet (issue 6)")
