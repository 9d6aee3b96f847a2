"""SDAR and TraDo (JetAstra / Gen-Verse): Qwen3 models trained for block diffusion.

Facts (public code: JetAstra/SDAR ``generate.py``, ``training/model/SDAR-4B-Chat/modeling_sdar.py``
and README; vLLM's SDAR config shim; SGLang's dLLM table):

- ``SDARConfig.model_type = "sdar"``, ``architectures = ["SDARForCausalLM"]``. ``modeling_sdar.py`` is
  transformers' Qwen3 file with block-diffusion masking: ``model.embed_tokens``, ``model.layers.N.
  {input_layernorm, self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm, post_attention_layernorm,
  mlp.{gate,up,down}_proj}``, ``model.norm``, ``lm_head``: Qwen3's parameter names (vLLM serves SDAR
  checkpoints with its Qwen3 weight map), so the mapping is the identity. q/k RMS norms act per head
  before RoPE; q/k/v/o carry biases only with ``attention_bias``.
- The remote module imports ``flash_attn`` at module level and ``LossKwargs`` (gone in transformers
  5), so it does not load here; we run transformers' ``Qwen3ForCausalLM`` instead.
- Attention: the mask is used as given (``attention_mask.bool()`` into SDPA, no causal triangle);
  ``block_diffusion_generate`` builds the block-causal mask over ``arange`` positions, blocks aligned
  to position 0 (:mod:`~lm_eval_mdlm.families.block_causal`). Logits are unshifted: the block's
  logits are read at the block's own positions.
- Mask token ``<|MASK|>`` (``tokenizer.mask_token``; the reference strips ``'<|MASK|>'`` from its
  output), id 151669 (SDAR README ``mask_token_id=151669``; SGLang's table). EOS from
  ``generation_config.eos_token_id``: Qwen3's ``<|im_end|>`` 151645 and ``<|endoftext|>`` 151643.
- Block length 4 (``generate.py --block_length 4 --denoising_steps 4``; README "block_length = 4,
  denoising_steps = 4, greedy decoding" for its benchmarks; SGLang ``block_size: 4``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lm_eval_mdlm.families.spec import Family
from lm_eval_mdlm.families.native import load_renamed, require

_QWEN3_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps",
                 "rope_theta", "tie_word_embeddings", "attention_bias", "attention_dropout")


def rename(key: str) -> str:
    """SDAR's names are Qwen3's (see the module docstring)."""
    return key


def qwen3_config(config: Mapping[str, Any]) -> Any:
    """SDAR's config (a Qwen3 config) -> ``Qwen3Config``, refusing what it would run differently."""
    import transformers

    require(config, "sdar", "use_sliding_window", (False,))
    require(config, "sdar", "rope_scaling", (None,))
    return transformers.Qwen3Config(**{k: config[k] for k in _QWEN3_FIELDS if k in config})


def load_native(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> torch.nn.Module:
    """A ``Qwen3ForCausalLM`` holding an SDAR checkpoint's weights (run with a block-causal mask)."""
    import transformers

    return load_renamed(transformers.Qwen3ForCausalLM, qwen3_config(config), state, rename, dtype, "sdar")


SDAR = Family(
    name="sdar", model_types=("sdar",), architectures=("SDARForCausalLM",),
    mask_token="<|MASK|>", mask_id=151669,
    eos_tokens=(("<|im_end|>", 151645), ("<|endoftext|>", 151643)),
    shift_logits=False, mask_layout="4d", positions="cumsum", auto_class="AutoModelForCausalLM",
    native=load_native, block_length=4)
