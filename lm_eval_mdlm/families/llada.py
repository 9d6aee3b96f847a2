"""LLaDA / LLaDA 1.5 (GSAI-ML): an OLMo-style bidirectional Llama.

Facts (public code: ML-GSAI/LLaDA ``generate.py``; the hub's ``modeling_llada.py`` and
``configuration_llada.py``, read in several public copies):

- mask id 126336 (``<|mdm_mask|>``); ``<|endoftext|>`` 126081 is EOS and pad; ``<|eot_id|>`` 126348
  ends a chat turn. Logits are unshifted (``logits[:, i]`` predicts token ``i``).
- ``LLaDAModelLM.forward(input_ids, inputs_embeds, attention_mask, attention_bias, past_key_values,
  ...)`` has no ``position_ids``: RoPE runs over ``arange(L)``. It takes a 2-D padding mask (snapshots
  before 2025-10 ignored it). No KV cache (it asserts ``past_key_values is None``).
- Weights: ``model.transformer.wte``, ``model.transformer.blocks.N.{attn_norm, q_proj, k_proj, v_proj,
  attn_out, ff_norm, ff_proj, up_proj, ff_out}``, ``model.transformer.ln_f``, and
  ``model.transformer.ff_out`` (the LM head, absent when ``weight_tying``). ``LLaDALlamaBlock``
  computes ``ff_out(act(ff_proj(x)) * up_proj(x))`` after an RMS norm: Llama's MLP with
  ``gate = ff_proj``, ``down = ff_out``. ``RMSLayerNorm`` normalises in float32 with
  ``rms_norm_eps``; RoPE rotates halves (``cat(-x2, x1)``) with ``rope_theta``: both as in Llama.

Native loading maps these names onto transformers' ``LlamaForCausalLM`` run with a full mask, and
passes ``position_ids`` that restart on each row's first real token (RoPE is relative, so this
equals LLaDA's ``arange`` up to rounding, and makes a row independent of its batch's padding).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from lm_eval_mdlm.families.spec import Family
from lm_eval_mdlm.families.native import load_renamed, require

_BLOCK = {"attn_norm": "input_layernorm", "ff_norm": "post_attention_layernorm",
          "q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj",
          "attn_out": "self_attn.o_proj", "ff_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj",
          "ff_out": "mlp.down_proj"}
_TOP = {"model.transformer.wte.weight": "model.embed_tokens.weight",
        "model.transformer.ln_f.weight": "model.norm.weight",
        "model.transformer.ff_out.weight": "lm_head.weight"}
_BLOCK_KEY = re.compile(r"^model\.transformer\.blocks\.(\d+)\.(\w+)\.(weight|bias)$")


def rename(key: str) -> str:
    """LLaDA's parameter name -> transformers' Llama name (unknown names pass through, and then fail
    the completeness check with the offending name)."""
    if key in _TOP:
        return _TOP[key]
    match = _BLOCK_KEY.match(key)
    if match and match.group(2) in _BLOCK:
        return f"model.layers.{match.group(1)}.{_BLOCK[match.group(2)]}.{match.group(3)}"
    return key


def llama_config(config: Mapping[str, Any]) -> Any:
    """LLaDA's config fields -> an equivalent ``LlamaConfig``, refusing options Llama cannot express."""
    import transformers

    for field, allowed in (("block_type", ("llama",)), ("layer_norm_type", ("rms",)),
                           ("activation_type", ("silu",)), ("rope", (True,)), ("alibi", (False,)),
                           ("include_bias", (False,)), ("include_qkv_bias", (False,)),
                           ("attention_layer_norm", (False,)), ("scale_logits", (False,)),
                           ("input_emb_norm", (False, None)), ("clip_qkv", (None,)),
                           ("multi_query_attention", (None, False)), ("block_group_size", (1,)),
                           ("layer_norm_with_affine", (True,))):
        require(config, "llada", field, allowed)
    d_model, n_heads = int(config["d_model"]), int(config["n_heads"])
    hidden = config.get("mlp_hidden_size") or int(config.get("mlp_ratio", 4) * d_model)
    return transformers.LlamaConfig(
        vocab_size=int(config.get("embedding_size") or config["vocab_size"]), hidden_size=d_model,
        intermediate_size=int(hidden), num_hidden_layers=int(config["n_layers"]),
        num_attention_heads=n_heads, num_key_value_heads=int(config.get("n_kv_heads") or n_heads),
        head_dim=d_model // n_heads, hidden_act="silu",
        max_position_embeddings=int(config.get("max_sequence_length", 4096)),
        rms_norm_eps=float(config.get("rms_norm_eps", 1e-5)),
        rope_theta=float(config.get("rope_theta", 10000.0)), attention_bias=False, mlp_bias=False,
        tie_word_embeddings=bool(config.get("weight_tying", False)))


def load_native(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> torch.nn.Module:
    """A bidirectional ``LlamaForCausalLM`` holding a LLaDA checkpoint's weights."""
    import transformers

    return load_renamed(transformers.LlamaForCausalLM, llama_config(config), state, rename, dtype, "llada")


LLADA = Family(
    name="llada", model_types=("llada",), architectures=("LLaDAModelLM",),
    mask_token="<|mdm_mask|>", mask_id=126336,
    eos_tokens=(("<|endoftext|>", 126081), ("<|eot_id|>", 126348)),
    shift_logits=False, mask_layout="2d", positions="auto", auto_class="AutoModel", native=load_native)
"""LLaDA through its native loader (``positions=auto``: the Llama module takes position ids, the
remote ``LLaDAModelLM`` does not)."""
