"""A tiny random-weight DiffusionGemma checkpoint, saved the way transformers saves the real one.

Why a separate builder from ``fixtures.py``: DiffusionGemma is loaded with transformers' own class, so
the checkpoint is written by that class (``save_pretrained``: ``config.json`` with nested
``text_config``/``vision_config``, tied encoder/decoder weights, ``generation_config.json``) rather
than tensor by tensor. The tokenizer carries Gemma 4's real special-token strings (``<bos>``,
``<eos>``, ``<pad>``, ``<|turn>``/``<turn|>``, ``<|tool_response>``; see
lm_eval_mdlm/families/diffusion_gemma.py), so adapters must find ids by string, not by the released
numbers.
"""

from __future__ import annotations

import os

import torch

from lm_eval_mdlm.families.fixtures import _tokenizer

GEMMA4_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ m['content'] }}<turn|>\n{% endfor %}{% if add_generation_prompt %}<|turn>model\n{% endif %}"
)
"""Gemma 4's turn markers (transformers' serving parser anchors replies at ``<|turn>model\\n`` and closes
them at ``<turn|>``); the real template has more (system turns, tools, thinking)."""


def build_tiny_diffusion_gemma(path: str, seed: int = 0, canvas_length: int = 8, hidden: int = 32,
                               max_denoising_steps: int = 8, confidence_threshold: float = 4.0) -> str:
    """Save a tiny ``DiffusionGemmaForBlockDiffusion`` (two layers: one sliding, one full attention).

    Random weights never give a stable argmax (re-noised positions keep changing it), so
    ``generation_config.json`` sets ``stability_threshold=0`` and a ``confidence_threshold`` (mean
    entropy of the temperature-scaled logits, at most ln(300) = 5.7 here) that the falling temperature
    schedule crosses at different steps: canvases stop early at different steps, answers end at EOS in
    different canvases, so rows take different numbers of forwards (measured: 5 to 8 steps per canvas).
    """
    from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion, DiffusionGemmaGenerationConfig

    tok = _tokenizer({"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
                     ["<|turn>", "<turn|>", "<|tool_response>", "<|image>", "<image|>", "<|image|>"])
    tok.chat_template = GEMMA4_CHAT_TEMPLATE
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<bos>", "<eos>", "<pad>", "<turn|>", "<|tool_response>",
                                                    "<|image>", "<image|>", "<|image|>")}
    text = dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, head_dim=16, global_head_dim=16,
                layer_types=["sliding_attention", "full_attention"], sliding_window=16, num_experts=2,
                top_k_experts=1, moe_intermediate_size=hidden // 2, max_position_embeddings=512,
                pad_token_id=ids["<pad>"], eos_token_id=ids["<eos>"], bos_token_id=ids["<bos>"],
                initializer_range=0.2)
    vision = dict(model_type="gemma4_vision", hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                  num_attention_heads=1, num_key_value_heads=1, head_dim=16)
    config = DiffusionGemmaConfig(text_config=text, vision_config=vision, canvas_length=canvas_length,
                                  boi_token_id=ids["<|image>"], eoi_token_id=ids["<image|>"],
                                  image_token_id=ids["<|image|>"], initializer_range=0.2)
    torch.manual_seed(seed)
    model = DiffusionGemmaForBlockDiffusion(config).eval()
    model.generation_config = DiffusionGemmaGenerationConfig(
        max_denoising_steps=max_denoising_steps, stability_threshold=0,
        confidence_threshold=float(confidence_threshold), bos_token_id=ids["<bos>"], pad_token_id=ids["<pad>"],
        eos_token_id=[ids["<eos>"], ids["<turn|>"], ids["<|tool_response>"]])
    tok.model_max_length = 512
    os.makedirs(path, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
