"""Tiny random checkpoints of the MoE families (LLaDA-MoE, SDAR-MoE), laid out as their hub repos: real
config fields with the sizes shrunk, the families' own weight names, one tensor per expert projection."""

from __future__ import annotations

import torch

from lm_eval_mdlm.families.fixtures import _linear, _norm, _save, _tokenizer
from lm_eval_mdlm.families.hub_tokenizers import LLADA2_CHAT_TEMPLATE


def _attention_and_experts(w: dict[str, torch.Tensor], gen: torch.Generator, layer: int, hidden: int, heads: int,
                           kv_heads: int, head_dim: int, experts: int, expert_size: int, scale: float) -> None:
    p = f"model.layers.{layer}."
    for name, n in (("q_proj", heads), ("k_proj", kv_heads), ("v_proj", kv_heads)):
        w[p + f"self_attn.{name}.weight"] = _linear(gen, n * head_dim, hidden, scale)
    w[p + "self_attn.o_proj.weight"] = _linear(gen, hidden, heads * head_dim, 1.0)
    w[p + "self_attn.q_norm.weight"] = _norm(gen, head_dim)
    w[p + "self_attn.k_norm.weight"] = _norm(gen, head_dim)
    w[p + "input_layernorm.weight"] = _norm(gen, hidden)
    w[p + "post_attention_layernorm.weight"] = _norm(gen, hidden)
    w[p + "mlp.gate.weight"] = _linear(gen, experts, hidden, 3.0)
    for e in range(experts):
        w[p + f"mlp.experts.{e}.gate_proj.weight"] = _linear(gen, expert_size, hidden, 1.0)
        w[p + f"mlp.experts.{e}.up_proj.weight"] = _linear(gen, expert_size, hidden, 1.0)
        w[p + f"mlp.experts.{e}.down_proj.weight"] = _linear(gen, hidden, expert_size, 1.0)


def build_tiny_llada_moe(path: str, seed: int = 0, hidden: int = 32, layers: int = 3, heads: int = 4,
                         experts: int = 8, scale: float = 3.0) -> str:
    """An inclusionAI/LLaDA-MoE-7B-A1B-Instruct-style checkpoint: ``model_type`` "llada" (as the hub config says)
    with ``LLaDAMoEModelLM``; layer 0 dense (``moe_layer_freq``), the others 8 experts, top-2, per-head q/k norms.
    Its tokenizer is LLaDA 2.x's: ``<|mask|>`` exists but is not set as ``mask_token``."""
    tok = _tokenizer({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
                     ["<|mask|>", "<role>", "</role>", "<|role_end|>"], template=LLADA2_CHAT_TEMPLATE)
    vocab, head_dim, dense, expert_size = len(tok), hidden // heads, 2 * hidden, hidden // 2
    gen = torch.Generator().manual_seed(seed)
    w: dict[str, torch.Tensor] = {"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=gen),
                                  "model.norm.weight": _norm(gen, hidden),
                                  "lm_head.weight": _linear(gen, vocab, hidden, scale)}
    for i in range(layers):
        _attention_and_experts(w, gen, i, hidden, heads, heads, head_dim, experts, expert_size, scale)
        if i == 0:  # moe_layer_freq[0] = 0: a dense MLP of dense_intermediate_size
            for key in [k for k in w if k.startswith("model.layers.0.mlp.")]:
                del w[key]
            w["model.layers.0.mlp.gate_proj.weight"] = _linear(gen, dense, hidden, 1.0)
            w["model.layers.0.mlp.up_proj.weight"] = _linear(gen, dense, hidden, 1.0)
            w["model.layers.0.mlp.down_proj.weight"] = _linear(gen, hidden, dense, 1.0)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    config = {  # the fields of LLaDAMoEConfig (configuration_lladamoe.py), at tiny sizes
        "architectures": ["LLaDAMoEModelLM"], "attention_bias": False, "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_lladamoe.LLaDAMoEConfig",
                     "AutoModel": "modeling_lladamoe.LLaDAMoEModelLM",
                     "AutoModelForCausalLM": "modeling_lladamoe.LLaDAMoEModelLM"},
        "clip_qkv": None, "dense_intermediate_size": dense, "eos_token_id": eos,
        "expert_intermediate_size": expert_size,
        "hidden_act": "silu", "hidden_size": hidden, "initializer_range": 0.02, "max_position_embeddings": 256,
        "model_type": "llada", "moe_layer_freq": [0] + [1] * (layers - 1), "moe_router_enable_expert_bias": False,
        "moe_router_score_function": "softmax", "norm_topk_prob": False, "num_attention_heads": heads,
        "num_experts": experts, "num_experts_per_tok": 2, "num_hidden_layers": layers, "num_key_value_heads": heads,
        "output_router_logits": False, "pad_token_id": eos, "partial_rotary_factor": 1, "qk_layernorm": True,
        "rms_norm_eps": 1e-5, "rope_scaling": None, "rope_theta": 50000, "router_aux_loss_coef": 0.01,
        "shared_expert_intermediate_size": None, "tie_word_embeddings": False, "torch_dtype": "float32",
        "use_cache": False, "vocab_size": vocab}
    return _save(path, config, w, tok)


def build_tiny_sdar_moe(path: str, seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 4,
                        kv_heads: int = 2, head_dim: int = 16, experts: int = 8, scale: float = 3.0) -> str:
    """A JetLM/SDAR-30B-A3B-Chat-style checkpoint (``model_type`` "sdar_moe", ``SDARMoeForCausalLM``, Qwen3-MoE
    names and fields: every layer sparse, 8 experts, top-2 renormalised, untied head)."""
    tok = _tokenizer({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "mask_token": "<|MASK|>"},
                     ["<|im_start|>", "<|endoftext|>"])
    vocab, expert_size = len(tok), hidden // 2
    gen = torch.Generator().manual_seed(seed)
    w: dict[str, torch.Tensor] = {"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=gen),
                                  "model.norm.weight": _norm(gen, hidden),
                                  "lm_head.weight": _linear(gen, vocab, hidden, scale)}
    for i in range(layers):
        _attention_and_experts(w, gen, i, hidden, heads, kv_heads, head_dim, experts, expert_size, scale)
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (("eos", "<|im_end|>"), ("pad", "<|endoftext|>"))}
    config = {  # the fields of a Qwen3-MoE config with SDAR's names, at tiny sizes
        "architectures": ["SDARMoeForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_sdar_moe.SDARMoeConfig",
                     "AutoModel": "modeling_sdar_moe.SDARMoeModel",
                     "AutoModelForCausalLM": "modeling_sdar_moe.SDARMoeForCausalLM"},
        "bos_token_id": ids["pad"], "decoder_sparse_step": 1, "eos_token_id": ids["eos"], "head_dim": head_dim,
        "hidden_act": "silu", "hidden_size": hidden, "initializer_range": 0.02, "intermediate_size": 2 * hidden,
        "max_position_embeddings": 256, "max_window_layers": layers, "mlp_only_layers": [],
        "model_type": "sdar_moe", "moe_intermediate_size": expert_size, "norm_topk_prob": True,
        "num_attention_heads": heads, "num_experts": experts, "num_experts_per_tok": 2, "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads, "output_router_logits": False, "rms_norm_eps": 1e-6, "rope_scaling": None,
        "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "float32", "use_cache": True, "use_sliding_window": False, "vocab_size": vocab}
    return _save(path, config, w, tok)
