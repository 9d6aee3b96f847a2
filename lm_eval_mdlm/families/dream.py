"""Dream / DiffuCoder (HKUNLP): a Qwen2.5 run bidirectionally, with an AR-style (shifted) head.

Facts (public code: the hub's ``modeling_dream.py``, ``generation_utils.py`` and config, read in
public copies):

- ``DreamModel`` = ``model`` (``DreamBaseModel``: ``embed_tokens``, ``layers.N.{input_layernorm,
  self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj}``, ``norm``) +
  ``lm_head``: exactly Qwen2's parameter names, so the mapping is the identity. q/k/v have biases,
  o_proj none (as Qwen2); ``DreamAttention.is_causal = False``.
- ``forward(input_ids, attention_mask, position_ids, ...)``: the mask is ``"full"``/None or a 4-D
  bool ``(B, 1, L, L)`` given straight to SDPA (a 2-D mask is not converted). ``diffusion_generate``
  builds ``am[:, None, None, :] & am[:, None, :, None]`` and ``position_ids = cumsum(am) - 1`` with
  padding set to 1.
- Logits are shifted: the sampler does ``cat([logits[:, :1], logits[:, :-1]], 1)`` so that logit
  ``i - 1`` predicts token ``i``.
- Ids: mask 151666 (``<|mask|>``), EOS = pad 151643 (``<|endoftext|>``), ``<|im_end|>`` 151645. DiffuCoder
  (apple/ml-diffucoder ``inference_demo.py``) cuts its answers at ``<|dlm_pad|>``, a token Dream's vocabulary
  lacks: it ends an answer only where the tokenizer has it.
- Tokenizer: ``vocab.json`` + ``merges.txt`` and the remote ``DreamTokenizer`` (a Qwen2 BPE), loaded natively
  by :mod:`~lm_eval_mdlm.families.hub_tokenizers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lm_eval_mdlm.families.spec import Family
from lm_eval_mdlm.families.native import load_renamed, require

_QWEN2_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta",
                 "tie_word_embeddings", "attention_dropout")


def rename(key: str) -> str:
    """Dream's names are Qwen2's (see the module docstring)."""
    return key


def qwen2_config(config: Mapping[str, Any]) -> Any:
    """Dream's config (a Qwen2 config with ``mask_token_id``) -> ``Qwen2Config``."""
    import transformers

    require(config, "dream", "use_sliding_window", (False,))
    require(config, "dream", "rope_scaling", (None,))
    return transformers.Qwen2Config(**{k: config[k] for k in _QWEN2_FIELDS if k in config})


def load_native(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> torch.nn.Module:
    """A bidirectional ``Qwen2ForCausalLM`` holding a Dream checkpoint's weights."""
    import transformers

    return load_renamed(transformers.Qwen2ForCausalLM, qwen2_config(config), state, rename, dtype, "dream")


DREAM = Family(
    name="dream", model_types=("dream",), architectures=("DreamModel",),
    mask_token="<|mask|>", mask_id=151666,
    eos_tokens=(("<|endoftext|>", 151643), ("<|im_end|>", 151645), ("<|dlm_pad|>", None)),
    shift_logits=True, mask_layout="4d", positions="cumsum", pad_position=1, auto_class="AutoModel",
    native=load_native)
