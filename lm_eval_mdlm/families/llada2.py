"""LLaDA 2.x (inclusionAI: LLaDA2.0-mini/flash, LLaDA2.1): a block-diffusion MoE (BailingMoeV2-style).

Facts (public code: the hub's ``modeling_llada2_moe.py`` / ``configuration_llada2_moe.py`` of
LLaDA2.0-mini, read in a public copy (sajadn/Megatron-Bridge) and in inclusionAI/dFactory; LLaDA2.1's
``generate``, read in public copies; SGLang's dLLM table):

- ``LLaDA2MoeConfig.model_type = "llada2_moe"``, ``architectures = ["LLaDA2MoeModelLM"]``.
- Attention (``LLaDA2MoeAttention``): one fused ``query_key_value`` projection viewed as
  ``(num_heads + 2 * num_key_value_heads, head_dim)`` and split into q, k, v heads in that order;
  RMS norms ``query_layernorm`` / ``key_layernorm`` over each head before RoPE; partial rotary: the
  first ``int(head_dim * partial_rotary_factor)`` dims of each head rotate (rotate-half, base
  ``rope_theta``), the rest pass; scale ``1/sqrt(head_dim)``; output projection ``dense``.
- MoE (``LLaDA2MoeGate``, ``LLaDA2MoeSparseMoeBlock``): router logits ``x @ gate.weight`` in float32,
  ``scores = sigmoid``; routing uses ``scores + gate.expert_bias``: experts in ``n_group`` groups, a
  group scored by the sum of its top-2, the best ``topk_group`` groups kept, then the top
  ``num_experts_per_tok`` experts; their weights are the plain scores, normalised to sum 1 when
  ``num_experts_per_tok > 1`` (the gate ignores ``norm_topk_prob``), times ``routed_scaling_factor``;
  plus ``shared_experts`` (an MLP of ``moe_intermediate_size * num_shared_experts``). Layers below
  ``first_k_dense_replace`` use a dense MLP of ``intermediate_size``.
- Names: ``model.word_embeddings``, ``model.layers.N.{input_layernorm, post_attention_layernorm,
  attention.{query_key_value, query_layernorm, key_layernorm, dense}, mlp.{gate.weight,
  gate.expert_bias, experts.E.{gate,up,down}_proj, shared_experts.{gate,up,down}_proj}}`` (dense
  layers: ``mlp.{gate,up,down}_proj``), ``model.norm``, ``lm_head``. Logits are float32, unshifted.
- ``generate``: block-causal 4-D mask over ``arange`` positions, blocks aligned to position 0
  (:mod:`~lm_eval_mdlm.families.block_causal`); ``block_length=32``, ``steps=32``,
  ``threshold=0.95``, ``eos_id=156892``, ``mask_id=156895``; LLaDA2.1 adds ``editing_threshold``
  and ``max_post_steps`` (docs/families.md gives the matching ``strategy=`` settings).
- Mask token ``<|mask|>`` 156895 (the tokenizer leaves ``mask_token`` unset); EOS = pad
  ``<|endoftext|>`` 156892.
- The remote module imports ``is_torch_fx_available`` and uses ``ROPE_INIT_FUNCTIONS["default"]``,
  both gone in transformers 5, so it does not load here.

transformers 5 has no BailingMoeV2 module, but ``Glm4MoeForCausalLM`` computes exactly the same
function (q/k norms before partial rotate-half RoPE, sigmoid router with a score-correction bias and
group-limited top-k, shared experts, dense first layers): we load LLaDA 2.x into it, splitting the fused
q/k/v projection and stacking the experts into its fused expert tensors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from lm_eval_mdlm.families.spec import Family
from lm_eval_mdlm.families.native import load_renamed, require

_ATTENTION = {"attention.query_layernorm": "self_attn.q_norm", "attention.key_layernorm": "self_attn.k_norm",
              "attention.dense": "self_attn.o_proj"}
_LAYER_KEY = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
_EXPERT_KEY = re.compile(r"^mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")


def _heads(config: Mapping[str, Any]) -> tuple[int, int, int]:
    """(query heads, key/value heads, head dim); ``num_key_value_heads`` 0 or absent means one per query head
    (``LLaDA2MoeConfig`` defaults it to 0) and ``head_dim`` defaults to hidden_size / heads."""
    heads = int(config["num_attention_heads"])
    return heads, int(config.get("num_key_value_heads") or heads), \
        int(config.get("head_dim") or int(config["hidden_size"]) // heads)


def glm4_moe_config(config: Mapping[str, Any]) -> Any:
    """LLaDA 2.x's config fields -> an equivalent ``Glm4MoeConfig``, refusing what it cannot express."""
    import transformers

    missing = [f for f in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                           "num_attention_heads", "moe_intermediate_size", "num_experts", "num_experts_per_tok")
               if f not in config]
    if missing:
        raise ValueError(f"llada2: config.json lacks {', '.join(sorted(missing))}, which a LLaDA 2.x config has: "
                         "this is not a LLaDA 2.x checkpoint. Drop family=llada2 to detect its family.")
    for field, allowed in (("use_bias", (False,)), ("use_qk_norm", (True,)), ("score_function", ("sigmoid",)),
                           ("router_dtype", ("fp32", None)), ("rope_scaling", (None,)),
                           ("use_sliding_window", (False,)), ("norm_head", (False,)),
                           ("using_split_qkv_in_self_attention", (False, None))):
        require(config, "llada2", field, allowed)
    if not config.get("num_shared_experts"):
        raise ValueError(f"llada2: config num_shared_experts={config.get('num_shared_experts')!r} is not supported "
                         "by native loading (supported: 1 or more shared experts). Load this checkpoint with its "
                         "own code instead: family=llada2:remote,trust_remote_code=True.")
    heads, kv_heads, head_dim = _heads(config)
    top_k = int(config["num_experts_per_tok"])
    return transformers.Glm4MoeConfig(
        vocab_size=int(config["vocab_size"]), hidden_size=int(config["hidden_size"]),
        intermediate_size=int(config["intermediate_size"]), num_hidden_layers=int(config["num_hidden_layers"]),
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim,
        hidden_act=config.get("hidden_act", "silu"),
        max_position_embeddings=int(config.get("max_position_embeddings", 16384)),
        rms_norm_eps=float(config.get("rms_norm_eps", 1e-5)),
        rope_parameters={"rope_type": "default", "rope_theta": float(config.get("rope_theta", 10000.0))},
        partial_rotary_factor=float(config.get("partial_rotary_factor", 0.5)),
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        attention_bias=bool(config.get("use_qkv_bias", False)), use_qk_norm=True,
        moe_intermediate_size=int(config["moe_intermediate_size"]), num_experts_per_tok=top_k,
        n_routed_experts=int(config["num_experts"]), n_shared_experts=int(config["num_shared_experts"]),
        routed_scaling_factor=float(config.get("routed_scaling_factor", 2.5)),
        n_group=int(config.get("n_group", 8)), topk_group=int(config.get("topk_group", 4)),
        first_k_dense_replace=int(config.get("first_k_dense_replace", 0)),
        norm_topk_prob=top_k > 1,  # LLaDA2MoeGate normalises exactly when it keeps more than one expert
        num_mtp_layers=0)


def convert(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """LLaDA 2.x tensors -> ``Glm4MoeForCausalLM`` tensors (unknown names pass through, and then fail the
    completeness check with the offending name)."""
    heads, kv_heads, head_dim = _heads(config)
    splits = [heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]
    out: dict[str, torch.Tensor] = {}
    experts: dict[tuple[str, str], dict[int, torch.Tensor]] = {}
    for key, value in state.items():
        match = _LAYER_KEY.match(key)
        if key == "model.word_embeddings.weight":
            out["model.embed_tokens.weight"] = value
        elif match is None:
            out[key] = value
        else:
            prefix, rest = f"model.layers.{match.group(1)}.", match.group(2)
            expert = _EXPERT_KEY.match(rest)
            name, _, kind = rest.rpartition(".")
            if rest.startswith("attention.query_key_value."):
                for part, tensor in zip("qkv", value.split(splits, dim=0)):
                    out[f"{prefix}self_attn.{part}_proj.{kind}"] = tensor
            elif name in _ATTENTION:
                out[f"{prefix}{_ATTENTION[name]}.{kind}"] = value
            elif rest == "mlp.gate.expert_bias":
                out[f"{prefix}mlp.gate.e_score_correction_bias"] = value
            elif expert is not None:
                experts.setdefault((prefix, expert.group(2)), {})[int(expert.group(1))] = value
            else:
                out[key] = value
    for (prefix, proj), by_index in experts.items():
        if proj != "down_proj":
            continue
        gates, ups = experts.get((prefix, "gate_proj"), {}), experts.get((prefix, "up_proj"), {})
        order = sorted(by_index)
        if order != list(range(len(order))) or sorted(gates) != order or sorted(ups) != order:
            raise ValueError(f"llada2: the experts of {prefix[:-1]} are incomplete (down_proj {order}, gate_proj "
                             f"{sorted(gates)}, up_proj {sorted(ups)}); the checkpoint is damaged or not LLaDA 2.x.")
        # Glm4MoeExperts computes gate, up = (x @ gate_up_proj[e].T).chunk(2): gate rows first.
        out[f"{prefix}mlp.experts.gate_up_proj"] = torch.stack([torch.cat([gates[e], ups[e]]) for e in order])
        out[f"{prefix}mlp.experts.down_proj"] = torch.stack([by_index[e] for e in order])
    return out


def load_native(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> torch.nn.Module:
    """A ``Glm4MoeForCausalLM`` holding a LLaDA 2.x checkpoint's weights (run with a block-causal mask)."""
    import transformers

    return load_renamed(transformers.Glm4MoeForCausalLM, glm4_moe_config(config), convert(state, config),
                        lambda key: key, dtype, "llada2")


LLADA2 = Family(
    name="llada2", model_types=("llada2_moe",), architectures=("LLaDA2MoeModelLM",),
    mask_token="<|mask|>", mask_id=156895, eos_tokens=(("<|endoftext|>", 156892),),
    shift_logits=False, mask_layout="4d", positions="cumsum", auto_class="AutoModelForCausalLM",
    native=load_native, block_length=32)
