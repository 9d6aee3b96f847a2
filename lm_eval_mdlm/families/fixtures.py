"""Tiny random-weight checkpoints of each family, with its real config fields and weight names.

Why: adapters must be tested against what the released checkpoints look like on disk (``model_type``,
``architectures``, ``auto_map``, parameter names, special-token strings), not against modules we
built ourselves. Weights are written tensor by tensor under the family's own names with
``safetensors``; no model class is involved, so a naming mistake in a loader cannot hide.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

from lm_eval_mdlm.testing import CHAT_TEMPLATE, _CORPUS


def _tokenizer(specials: dict[str, str], extra: list[str], vocab_size: int = 300, template: str = CHAT_TEMPLATE) -> Any:
    """A byte-level BPE tokenizer whose special tokens carry the family's real strings."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokens = list(dict.fromkeys([*specials.values(), *extra]))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **specials)
    tokenizer.chat_template = template
    return tokenizer


def _save(path: str, config: dict[str, Any], weights: dict[str, torch.Tensor], tokenizer: Any) -> str:
    from safetensors.torch import save_file

    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
    save_file({k: v.contiguous() for k, v in weights.items()}, os.path.join(path, "model.safetensors"),
              metadata={"format": "pt"})
    if tokenizer is not None:  # None: the builder wrote the hub's own tokenizer files
        tokenizer.save_pretrained(path)
    return path


def _linear(gen: torch.Generator, out: int, inp: int, scale: float) -> torch.Tensor:
    return torch.randn(out, inp, generator=gen) * scale / inp ** 0.5


def _norm(gen: torch.Generator, size: int) -> torch.Tensor:
    return 1.0 + 0.1 * torch.randn(size, generator=gen)


def _qwen2_bpe(vocab_size: int = 300) -> Any:
    """A byte-level BPE trained with Qwen2's pre-tokenizer (regex split, then bytes), without added tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    from lm_eval_mdlm.families.hub_tokenizers import QWEN2_PRETOKENIZE_REGEX

    core = Tokenizer(models.BPE())
    core.normalizer = normalizers.NFC()
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return core


def build_tiny_dream(path: str, seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 4,
                     kv_heads: int = 2, scale: float = 3.0, diffucoder: bool = False) -> str:
    """A Dream-v0-Instruct-7B-style checkpoint (``model_type`` "Dream", ``DreamModel``, Qwen2 names, q/k/v
    biases), tokenizer as the hub ships it: ``vocab.json`` + ``merges.txt`` + a ``tokenizer_config.json``
    naming the remote ``DreamTokenizer`` (``auto_map``), no ``tokenizer.json``. ``diffucoder=True`` adds
    DiffuCoder's ``<|dlm_pad|>`` (its answers end there) after ``<|mask|>``.

    ``scale`` > 1 gives peaked predictions, so greedy decoding has no near-ties.
    """
    from lm_eval_mdlm.families.hub_tokenizers import DREAM_ADDED, QWEN_CHAT_TEMPLATE, write_qwen2_bpe

    core = _qwen2_bpe()
    added = DREAM_ADDED + ((("<|dlm_pad|>", True),) if diffucoder else ())
    ids = {token: core.get_vocab_size() + i for i, (token, _) in enumerate(added)}
    specials = {"bos_token": "<|beginoftext|>", "eos_token": "<|endoftext|>", "mask_token": "<|mask|>",
                "pad_token": "<|dlm_pad|>" if diffucoder else "<|endoftext|>"}
    write_qwen2_bpe(path, core, added, specials, "DreamTokenizer", "tokenization_dream.DreamTokenizer",
                    QWEN_CHAT_TEMPLATE, {})
    vocab, inter, head_dim = -(-(core.get_vocab_size() + len(added)) // 16) * 16, 2 * hidden, hidden // heads
    gen = torch.Generator().manual_seed(seed)
    w: dict[str, torch.Tensor] = {"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=gen),
                                  "model.norm.weight": _norm(gen, hidden),
                                  "lm_head.weight": _linear(gen, vocab, hidden, scale)}
    for i in range(layers):
        p = f"model.layers.{i}."
        projections = (("q_proj", heads * head_dim), ("k_proj", kv_heads * head_dim), ("v_proj", kv_heads * head_dim))
        for name, out in projections:
            w[p + f"self_attn.{name}.weight"] = _linear(gen, out, hidden, scale)
            w[p + f"self_attn.{name}.bias"] = 0.1 * torch.randn(out, generator=gen)
        w[p + "self_attn.o_proj.weight"] = _linear(gen, hidden, heads * head_dim, 1.0)
        w[p + "mlp.gate_proj.weight"] = _linear(gen, inter, hidden, 1.0)
        w[p + "mlp.up_proj.weight"] = _linear(gen, inter, hidden, 1.0)
        w[p + "mlp.down_proj.weight"] = _linear(gen, hidden, inter, 1.0)
        w[p + "input_layernorm.weight"] = _norm(gen, hidden)
        w[p + "post_attention_layernorm.weight"] = _norm(gen, hidden)
    config = {  # the fields of Dream-org/Dream-v0-Instruct-7B's config.json, at tiny sizes
        "architectures": ["DreamModel"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
        "bos_token_id": ids["<|beginoftext|>"], "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids[specials["pad_token"]], "mask_token_id": ids["<|mask|>"], "hidden_act": "silu",
        "hidden_size": hidden, "initializer_range": 0.02, "intermediate_size": inter, "max_position_embeddings": 256,
        "max_window_layers": layers, "model_type": "Dream", "num_attention_heads": heads, "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads, "rms_norm_eps": 1e-6, "rope_scaling": None, "rope_theta": 10000.0,
        "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "float32",
        "use_cache": False, "use_sliding_window": False, "vocab_size": vocab}
    return _save(path, config, w, None)


def build_tiny_llada(path: str, seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 4,
                     scale: float = 3.0) -> str:
    """A LLaDA-8B-style checkpoint (``model_type`` "llada", ``LLaDAModelLM``, OLMo names).

    Its tokenizer, like LLaDA's, has no ``mask_token`` set: the adapter must find ``<|mdm_mask|>``.
    """
    from lm_eval_mdlm.families.hub_tokenizers import LLADA_CHAT_TEMPLATE

    tok = _tokenizer({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "bos_token": "<|startoftext|>"},
                     ["<|mdm_mask|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"],
                     template=LLADA_CHAT_TEMPLATE)
    vocab, inter = len(tok), 2 * hidden
    gen = torch.Generator().manual_seed(seed)
    t = "model.transformer."
    w: dict[str, torch.Tensor] = {t + "wte.weight": torch.randn(vocab, hidden, generator=gen),
                                  t + "ln_f.weight": _norm(gen, hidden),
                                  t + "ff_out.weight": _linear(gen, vocab, hidden, scale)}
    for i in range(layers):
        p = f"{t}blocks.{i}."
        for name in ("q_proj", "k_proj", "v_proj"):
            w[p + f"{name}.weight"] = _linear(gen, hidden, hidden, scale)
        w[p + "attn_out.weight"] = _linear(gen, hidden, hidden, 1.0)
        w[p + "ff_proj.weight"] = _linear(gen, inter, hidden, 1.0)
        w[p + "up_proj.weight"] = _linear(gen, inter, hidden, 1.0)
        w[p + "ff_out.weight"] = _linear(gen, hidden, inter, 1.0)
        w[p + "attn_norm.weight"] = _norm(gen, hidden)
        w[p + "ff_norm.weight"] = _norm(gen, hidden)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    config = {  # the fields of GSAI-ML/LLaDA-8B-Instruct's config.json, at tiny sizes
        "activation_type": "silu", "alibi": False, "alibi_bias_max": 8.0, "architectures": ["LLaDAModelLM"],
        "attention_dropout": 0.0, "attention_layer_norm": False, "attention_layer_norm_with_affine": True,
        "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig", "AutoModel": "modeling_llada.LLaDAModelLM",
                     "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM"},
        "bias_for_layer_norm": False, "block_group_size": 1, "block_type": "llama", "d_model": hidden,
        "embedding_dropout": 0.0, "embedding_size": vocab, "eos_token_id": eos, "flash_attention": False,
        "include_bias": False, "include_qkv_bias": False, "init_cutoff_factor": None, "init_device": "meta",
        "init_fn": "mitchell", "init_std": 0.02, "input_emb_norm": False, "layer_norm_type": "rms",
        "layer_norm_with_affine": True, "mask_token_id": tok.convert_tokens_to_ids("<|mdm_mask|>"),
        "max_sequence_length": 256, "mlp_hidden_size": inter, "mlp_ratio": 2, "model_type": "llada",
        "multi_query_attention": None, "n_heads": heads, "n_kv_heads": heads, "n_layers": layers,
        "pad_token_id": eos, "precision": "amp_bf16", "residual_dropout": 0.0, "rms_norm_eps": 1e-5,
        "rope": True, "rope_full_precision": True, "rope_theta": 500000.0, "scale_logits": False,
        "torch_dtype": "float32", "use_cache": False, "vocab_size": vocab, "weight_tying": False}
    return _save(path, config, w, tok)


def build_tiny_sdar(path: str, seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 4,
                    kv_heads: int = 2, head_dim: int = 16, scale: float = 3.0) -> str:
    """An SDAR-Chat-style checkpoint (``model_type`` "sdar", ``SDARForCausalLM``, Qwen3 names with per-head
    q/k norms, tied embeddings as SDAR-1.7B/Qwen3-1.7B). Its tokenizer names ``<|MASK|>`` as mask token,
    as SDAR's does (its ``generate.py`` reads ``tokenizer.mask_token``). Tokenizer files as SDAR-8B-Chat ships
    them: ``tokenizer.json`` and ``vocab.json`` + ``merges.txt``, a ``tokenizer_config.json`` whose ``auto_map``
    names the repo's own ``tokenization_qwen2.Qwen2Tokenizer``; ``block_size`` and ``mask_token_id`` in config."""
    from lm_eval_mdlm.families.hub_tokenizers import (
        QWEN3_CHAT_TEMPLATE,
        SDAR_ADDED,
        write_qwen2_bpe,
        write_tokenizer_json,
    )

    core = _qwen2_bpe(300 - len(SDAR_ADDED))  # 300 ids in all, as this fixture had before it had SDAR's files
    ids = {token: core.get_vocab_size() + i for i, (token, _) in enumerate(SDAR_ADDED)}
    write_qwen2_bpe(path, core, SDAR_ADDED, {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                                             "mask_token": "<|MASK|>"},
                    "Qwen2Tokenizer", "tokenization_qwen2.Qwen2Tokenizer", QWEN3_CHAT_TEMPLATE, {"bos_token": None})
    write_tokenizer_json(path)
    with open(os.path.join(path, "generation_config.json"), "w", encoding="utf-8") as handle:
        json.dump({"bos_token_id": ids["<|endoftext|>"], "do_sample": True,
                   "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]], "pad_token_id": ids["<|endoftext|>"],
                   "temperature": 0.6, "top_k": 20, "top_p": 0.95}, handle, indent=2)
    vocab, inter = core.get_vocab_size() + len(SDAR_ADDED), 2 * hidden
    gen = torch.Generator().manual_seed(seed)
    w: dict[str, torch.Tensor] = {"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=gen) * scale
                                  / hidden ** 0.5, "model.norm.weight": _norm(gen, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for name, n in (("q_proj", heads), ("k_proj", kv_heads), ("v_proj", kv_heads)):
            w[p + f"self_attn.{name}.weight"] = _linear(gen, n * head_dim, hidden, scale)
        w[p + "self_attn.o_proj.weight"] = _linear(gen, hidden, heads * head_dim, 1.0)
        w[p + "self_attn.q_norm.weight"] = _norm(gen, head_dim)
        w[p + "self_attn.k_norm.weight"] = _norm(gen, head_dim)
        w[p + "mlp.gate_proj.weight"] = _linear(gen, inter, hidden, 1.0)
        w[p + "mlp.up_proj.weight"] = _linear(gen, inter, hidden, 1.0)
        w[p + "mlp.down_proj.weight"] = _linear(gen, hidden, inter, 1.0)
        w[p + "input_layernorm.weight"] = _norm(gen, hidden)
        w[p + "post_attention_layernorm.weight"] = _norm(gen, hidden)
    config = {  # the fields of JetLM/SDAR-*-Chat's config.json (a Qwen3 config), at tiny sizes
        "architectures": ["SDARForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_sdar.SDARConfig", "AutoModel": "modeling_sdar.SDARModel",
                     "AutoModelForCausalLM": "modeling_sdar.SDARForCausalLM"}, "block_size": 4,
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|endoftext|>"], "head_dim": head_dim,
        "hidden_act": "silu", "mask_token_id": ids["<|MASK|>"],
        "hidden_size": hidden, "initializer_range": 0.02, "intermediate_size": inter,
        "max_position_embeddings": 256, "max_window_layers": layers, "model_type": "sdar",
        "num_attention_heads": heads, "num_hidden_layers": layers, "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-6, "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None,
        "tie_word_embeddings": True, "torch_dtype": "float32", "use_cache": True, "use_sliding_window": False,
        "vocab_size": vocab}
    return _save(path, config, w, None)


def build_tiny_llada2(path: str, seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 4,
                      kv_heads: int = 2, head_dim: int = 16, experts: int = 8, scale: float = 3.0) -> str:
    """A LLaDA2.0-mini-style checkpoint (``model_type`` "llada2_moe", ``LLaDA2MoeModelLM``): fused
    ``query_key_value``, q/k layernorms, partial rotary, a dense first layer, then sigmoid-routed experts
    in groups with an expert bias and one shared expert. Its tokenizer, like LLaDA 2.x's, leaves
    ``mask_token`` unset: the adapter must find ``<|mask|>``."""
    from lm_eval_mdlm.families.hub_tokenizers import LLADA2_CHAT_TEMPLATE

    tok = _tokenizer({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
                     ["<|mask|>", "<role>", "</role>", "<|role_end|>"], template=LLADA2_CHAT_TEMPLATE)
    vocab, inter, moe_inter = len(tok), 2 * hidden, hidden // 2
    gen = torch.Generator().manual_seed(seed)
    w: dict[str, torch.Tensor] = {"model.word_embeddings.weight": torch.randn(vocab, hidden, generator=gen),
                                  "model.norm.weight": _norm(gen, hidden),
                                  "lm_head.weight": _linear(gen, vocab, hidden, scale)}

    def mlp(prefix: str, size: int) -> None:
        w[prefix + "gate_proj.weight"] = _linear(gen, size, hidden, 1.0)
        w[prefix + "up_proj.weight"] = _linear(gen, size, hidden, 1.0)
        w[prefix + "down_proj.weight"] = _linear(gen, hidden, size, 1.0)

    for i in range(layers):
        p = f"model.layers.{i}."
        w[p + "attention.query_key_value.weight"] = _linear(gen, (heads + 2 * kv_heads) * head_dim, hidden, scale)
        w[p + "attention.query_layernorm.weight"] = _norm(gen, head_dim)
        w[p + "attention.key_layernorm.weight"] = _norm(gen, head_dim)
        w[p + "attention.dense.weight"] = _linear(gen, hidden, heads * head_dim, 1.0)
        w[p + "input_layernorm.weight"] = _norm(gen, hidden)
        w[p + "post_attention_layernorm.weight"] = _norm(gen, hidden)
        if i == 0:  # first_k_dense_replace = 1
            mlp(p + "mlp.", inter)
            continue
        w[p + "mlp.gate.weight"] = _linear(gen, experts, hidden, 3.0)
        w[p + "mlp.gate.expert_bias"] = 0.1 * torch.randn(experts, generator=gen)
        for e in range(experts):
            mlp(p + f"mlp.experts.{e}.", moe_inter)
        mlp(p + "mlp.shared_experts.", moe_inter)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    config = {  # the fields of inclusionAI/LLaDA2.0-mini's config.json, at tiny sizes
        "architectures": ["LLaDA2MoeModelLM"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_llada2_moe.LLaDA2MoeConfig",
                     "AutoModel": "modeling_llada2_moe.LLaDA2MoeModel",
                     "AutoModelForCausalLM": "modeling_llada2_moe.LLaDA2MoeModelLM"},
        "embedding_dropout": 0.0, "first_k_dense_replace": 1, "head_dim": head_dim, "hidden_act": "silu",
        "hidden_size": hidden, "initializer_range": 0.02, "intermediate_size": inter,
        "max_position_embeddings": 256, "max_window_layers": layers, "model_type": "llada2_moe",
        "moe_intermediate_size": moe_inter, "moe_router_enable_expert_bias": True, "n_group": 4,
        "norm_head": False, "norm_softmax": False, "norm_topk_prob": True, "num_attention_heads": heads,
        "num_experts": experts, "num_experts_per_tok": 2, "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads, "num_shared_experts": 1, "output_dropout": 0.0,
        "output_router_logits": False, "pad_token_id": eos, "partial_rotary_factor": 0.5, "rms_norm_eps": 1e-6,
        "rope_scaling": None, "rope_theta": 600000, "rotary_dim": head_dim // 2, "routed_scaling_factor": 2.5,
        "router_dtype": "fp32", "score_function": "sigmoid", "tie_word_embeddings": False, "topk_group": 2,
        "torch_dtype": "float32", "use_bias": False, "use_cache": False, "use_qk_norm": True,
        "use_qkv_bias": False, "use_rmsnorm": True, "use_sliding_window": False,
        "using_split_qkv_in_self_attention": False, "vocab_size": vocab}
    return _save(path, config, w, tok)
