"""Sparse-MoE families loaded into transformers' ``Qwen3MoeForCausalLM``: LLaDA-MoE and SDAR-MoE.

LLaDA-MoE (inclusionAI/LLaDA-MoE-7B-A1B-*; public code: ``modeling_lladamoe.py`` /
``configuration_lladamoe.py``, read in ZHZisZZ/dllm):

- The hub's ``config.json`` says ``model_type: llada`` with ``architectures: ["LLaDAMoEModelLM"]`` (dllm's
  README asks users to edit it to ``lladamoe``): the architecture decides the family.
- Names: ``model.embed_tokens``, ``model.layers.N.{input_layernorm, post_attention_layernorm,
  self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm, mlp.gate, mlp.experts.E.{gate,up,down}_proj}`` (dense
  layers, ``moe_layer_freq[N] == 0``: ``mlp.{gate,up,down}_proj`` of ``dense_intermediate_size``),
  ``model.norm``, ``lm_head``. q/k RMS norms act per head (``reshape(-1, head_dim)``) before rotate-half RoPE;
  scale ``1/sqrt(head_dim)``; the 2-D mask becomes a *non-causal* 4-D mask.
- Router: ``softmax(gate(x))`` in float32, top ``num_experts_per_tok`` weights, not renormalised
  (``norm_topk_prob`` is forced False in ``LLaDAMoESparseMoeBlock``). This is Qwen3-MoE's block with
  ``norm_topk_prob=False``; optional parts Qwen3-MoE lacks (expert bias, shared experts, partial rotary, sigmoid
  scores) are refused by name.
- Tokenizer: LLaDA 2.x's (``<|mask|>`` 156895, ``<|endoftext|>`` 156892; dllm's ``get_tokenizer`` sets
  ``mask_token = "<|mask|>"`` and ``eot_token = "<|role_end|>"``). Its own code uses
  ``ROPE_INIT_FUNCTIONS["default"]``, gone in transformers 5.

SDAR-MoE (JetLM/SDAR-30B-A3B-*): SDAR on Qwen3-30B-A3B. No ``modeling_sdar_moe.py`` is in the public copies
we could read; SGLang's and JetEngine's ``SDARMoeSparseMoeBlock`` are "Qwen3MoE-style" (``mlp.gate``,
``mlp.experts.E.{gate,up,down}_proj`` names, softmax top-k routing), and SDAR's dense model is Qwen3 with a
block-causal mask (:mod:`~lm_eval_mdlm.families.sdar`), so the names and maths are Qwen3-MoE's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from lm_eval_mdlm.families.spec import Family
from lm_eval_mdlm.families.native import load_renamed, require

_EXPERT_KEY = re.compile(r"^(model\.layers\.\d+\.mlp\.)experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")


def stack_experts(state: Mapping[str, torch.Tensor], family: str) -> dict[str, torch.Tensor]:
    """Per-expert ``experts.E.{gate,up,down}_proj`` tensors -> transformers' fused ``experts.gate_up_proj``
    (gate rows first) and ``experts.down_proj``; other names pass through unchanged."""
    out: dict[str, torch.Tensor] = {}
    experts: dict[str, dict[str, dict[int, torch.Tensor]]] = {}
    for key, value in state.items():
        match = _EXPERT_KEY.match(key)
        if match is None:
            out[key] = value
        else:
            experts.setdefault(match.group(1), {}).setdefault(match.group(3), {})[int(match.group(2))] = value
    for prefix, parts in experts.items():
        order = sorted(parts.get("down_proj", {}))
        found = {p: sorted(parts.get(p, {})) for p in ("gate_proj", "up_proj", "down_proj")}
        if order != list(range(len(order))) or any(ids != order for ids in found.values()):
            raise ValueError(f"{family}: the experts of {prefix}experts are incomplete ({found}); the checkpoint is "
                             "damaged or not of this family.")
        out[prefix + "experts.gate_up_proj"] = torch.stack(
            [torch.cat([parts["gate_proj"][e], parts["up_proj"][e]]) for e in order])
        out[prefix + "experts.down_proj"] = torch.stack([parts["down_proj"][e] for e in order])
    return out


def _qwen3_moe(config: Mapping[str, Any], dense_size: int, expert_size: int, dense_layers: list[int],
               norm_topk: bool) -> Any:
    """A ``Qwen3MoeConfig`` from a Qwen3-MoE-shaped config: dense layers ``dense_layers`` of ``dense_size``, the
    rest sparse with experts of ``expert_size``; routing renormalised over the chosen experts iff ``norm_topk``."""
    import transformers

    heads = int(config["num_attention_heads"])
    return transformers.Qwen3MoeConfig(
        vocab_size=int(config["vocab_size"]), hidden_size=int(config["hidden_size"]), intermediate_size=dense_size,
        moe_intermediate_size=expert_size, num_hidden_layers=int(config["num_hidden_layers"]),
        num_attention_heads=heads, num_key_value_heads=int(config.get("num_key_value_heads") or heads),
        head_dim=int(config.get("head_dim") or int(config["hidden_size"]) // heads),
        hidden_act=config.get("hidden_act", "silu"), max_position_embeddings=int(config.get("max_position_embeddings",
                                                                                            4096)),
        rms_norm_eps=float(config.get("rms_norm_eps", 1e-6)),
        rope_parameters={"rope_type": "default", "rope_theta": float(config.get("rope_theta", 10000.0))},
        attention_bias=bool(config.get("attention_bias", False)),
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        num_experts=int(config["num_experts"]), num_experts_per_tok=int(config["num_experts_per_tok"]),
        norm_topk_prob=norm_topk, decoder_sparse_step=1, mlp_only_layers=dense_layers)


def lladamoe_config(config: Mapping[str, Any]) -> Any:
    """LLaDA-MoE's config fields -> an equivalent ``Qwen3MoeConfig``, refusing what it cannot express."""
    for field, allowed in (("qk_layernorm", (True,)), ("moe_router_enable_expert_bias", (False, None)),
                           ("moe_router_score_function", ("softmax", None)), ("partial_rotary_factor", (1, None)),
                           ("shared_expert_intermediate_size", (None,)), ("rope_scaling", (None,)),
                           ("clip_qkv", (None,)), ("attention_bias", (False,))):
        require(config, "llada_moe", field, allowed)
    layers = int(config["num_hidden_layers"])
    freq = list(config.get("moe_layer_freq") or [1] * layers)
    if len(freq) != layers:
        raise ValueError(f"llada_moe: config moe_layer_freq has {len(freq)} entries for num_hidden_layers={layers}; "
                         "it needs one per layer (0 = dense, 1 = MoE). Fix config.json.")
    return _qwen3_moe(config, int(config["dense_intermediate_size"]), int(config["expert_intermediate_size"]),
                      [i for i, f in enumerate(freq) if f == 0], norm_topk=False)


def load_lladamoe(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> torch.nn.Module:
    """A bidirectional ``Qwen3MoeForCausalLM`` holding a LLaDA-MoE checkpoint's weights."""
    import transformers

    return load_renamed(transformers.Qwen3MoeForCausalLM, lladamoe_config(config),
                        stack_experts(state, "llada_moe"), lambda key: key, dtype, "llada_moe")


def sdar_moe_config(config: Mapping[str, Any]) -> Any:
    """SDAR-MoE's config (a Qwen3-MoE config) -> ``Qwen3MoeConfig``, refusing what it would run differently."""
    for field, allowed in (("use_sliding_window", (False,)), ("rope_scaling", (None,)),
                           ("decoder_sparse_step", (1, None))):
        require(config, "sdar_moe", field, allowed)
    return _qwen3_moe(config, int(config.get("intermediate_size") or 0), int(config["moe_intermediate_size"]),
                      list(config.get("mlp_only_layers") or []), norm_topk=bool(config.get("norm_topk_prob", True)))


def load_sdar_moe(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> torch.nn.Module:
    """A ``Qwen3MoeForCausalLM`` holding an SDAR-MoE checkpoint's weights (run with a block-causal mask)."""
    import transformers

    return load_renamed(transformers.Qwen3MoeForCausalLM, sdar_moe_config(config),
                        stack_experts(state, "sdar_moe"), lambda key: key, dtype, "sdar_moe")


LLADA_MOE = Family(
    name="llada_moe", model_types=("llada_moe", "lladamoe"), architectures=("LLaDAMoEModelLM",),
    mask_token="<|mask|>", mask_id=156895, eos_tokens=(("<|endoftext|>", 156892), ("<|role_end|>", None)),
    shift_logits=False, mask_layout="2d", positions="auto", auto_class="AutoModel", native=load_lladamoe)
"""LLaDA-MoE: bidirectional, LLaDA 2.x's tokenizer, native through Qwen3-MoE (or ``llada_moe:remote``)."""

SDAR_MOE = Family(
    name="sdar_moe", model_types=("sdar_moe",), architectures=("SDARMoeForCausalLM",),
    mask_token="<|MASK|>", mask_id=151669, eos_tokens=(("<|im_end|>", 151645), ("<|endoftext|>", 151643)),
    shift_logits=False, mask_layout="4d", positions="cumsum", auto_class="AutoModelForCausalLM",
    native=load_sdar_moe, block_length=4)
"""SDAR-30B-A3B: SDAR's conventions (:mod:`~lm_eval_mdlm.families.sdar`) on Qwen3-MoE."""
