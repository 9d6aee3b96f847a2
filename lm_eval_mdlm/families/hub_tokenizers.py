"""Tokenizer folders laid out as the released hub repos ship them, and loading them without remote code.

Why: Dream and DiffuCoder publish a *slow* tokenizer only: ``vocab.json`` + ``merges.txt`` and a
``tokenizer_config.json`` whose ``tokenizer_class`` is ``DreamTokenizer`` with an ``auto_map`` to their own
``tokenization_dream.py`` (no ``tokenizer.json``). transformers refuses such a folder without
``trust_remote_code``. ``DreamTokenizer`` is Qwen2's byte-level BPE (public code: ``tokenization_dream.py``,
"based on Qwen's implementations": the same pre-tokenization regex, ``bytes_to_unicode``, merges ranks, NFC
normalisation, added tokens from ``added_tokens_decoder``, decoding without spaces between special tokens), so
transformers' ``Qwen2Tokenizer`` built from the same files tokenizes and decodes identically; tests check this
against ids produced by ``DreamTokenizer`` itself.
"""

from __future__ import annotations

import json
import os
from typing import Any

QWEN2_PRETOKENIZE_REGEX = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                           r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
"""Qwen2's (and ``tokenization_dream.py``'s) pre-tokenization regex."""

QWEN2_BPE_CLASSES = ("DreamTokenizer", "Qwen2Tokenizer", "Qwen2TokenizerFast")
"""``tokenizer_class`` values whose files are a Qwen2 byte-level BPE (``vocab.json`` + ``merges.txt``)."""

DREAM_ADDED = (("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
               ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
               ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True), ("<|vision_start|>", True),
               ("<|vision_end|>", True), ("<|vision_pad|>", True), ("<|image_pad|>", True), ("<|video_pad|>", True),
               ("<tool_call>", False), ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
               ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False), ("<|file_sep|>", False),
               ("<|beginoftext|>", True), ("<|mask|>", True))
"""Dream's added tokens in id order (151643 ... 151666 in the released vocabulary) and their ``special`` flag."""

SDAR_ADDED = DREAM_ADDED[:-2] + (("<tool_response>", False), ("</tool_response>", False), ("<think>", False),
                                  ("</think>", False), ("<|MASK|>", False))
"""SDAR's (Qwen3's) added tokens in id order (151643 ... 151669), ``<|MASK|>`` last (SDAR-8B-Chat's
``tokenizer_config.json``: not ``special`` in ``added_tokens_decoder``, yet its ``mask_token``)."""

QWEN3_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
"""Qwen3's ChatML as SDAR's ``chat_template.jinja`` renders plain messages (no default system prompt); its
tool-call and thinking branches are left out."""

LLADA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
"""LLaDA's Llama-3-style chat format (``<|startoftext|><|start_header_id|>user<|end_header_id|>\n\n...<|eot_id|>``),
as dllm's ``get_tokenizer`` template renders it."""

LLADA2_CHAT_TEMPLATE = (
    "{% set names = {'system': 'SYSTEM', 'user': 'HUMAN', 'assistant': 'ASSISTANT'} %}"
    "{% for message in messages %}<role>{{ names.get(message['role'], message['role'] | upper) }}</role>"
    "{{ message['content'] }}<|role_end|>{% endfor %}{% if add_generation_prompt %}<role>ASSISTANT</role>{% endif %}")
"""LLaDA 2.x's and LLaDA-MoE's chat format (dFactory's SGLang example: ``<role>SYSTEM</role>...<|role_end|>
<role>HUMAN</role>...<|role_end|><role>ASSISTANT</role>``)."""

QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
"""The Qwen2 chat template Dream and DiffuCoder use (DiffuCoder's README writes the same prompt by hand)."""


def read_tokenizer_config(folder: str) -> dict[str, Any]:
    """``tokenizer_config.json`` as a plain dict ({} when the folder has none)."""
    path = os.path.join(folder, "tokenizer_config.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def remote_tokenizer_class(config: dict[str, Any]) -> str | None:
    """The remote tokenizer class a ``tokenizer_config.json`` names through ``auto_map``, if any."""
    entry = (config.get("auto_map") or {}).get("AutoTokenizer")
    if isinstance(entry, (list, tuple)):
        entry = next((e for e in entry if e), None)
    return entry or None


def load_without_remote_code(folder: str, config: dict[str, Any]) -> Any:
    """The tokenizer of a folder whose ``tokenizer_config.json`` names remote code, built natively:
    from ``tokenizer.json`` when present, else a Qwen2 BPE from ``vocab.json`` + ``merges.txt`` for the
    classes in :data:`QWEN2_BPE_CLASSES`. Raises naming the missing files and the fix otherwise."""
    import transformers

    if os.path.isfile(os.path.join(folder, "tokenizer.json")):
        return transformers.PreTrainedTokenizerFast.from_pretrained(folder)
    name = config.get("tokenizer_class")
    files = [f for f in ("vocab.json", "merges.txt") if not os.path.isfile(os.path.join(folder, f))]
    if name in QWEN2_BPE_CLASSES and not files:
        return transformers.Qwen2Tokenizer.from_pretrained(folder)
    have = "has no " + " and no ".join(files) if files else f"has tokenizer_class {name!r}"
    raise ValueError(
        f"{folder}: tokenizer_config.json names the remote tokenizer {remote_tokenizer_class(config)!r}, and the "
        f"folder has no tokenizer.json and {have}, so it cannot be built without its code. Add the tokenizer files "
        "the hub repo ships (tokenizer.json, or vocab.json + merges.txt for a Qwen2 BPE), or pass "
        "trust_remote_code=True to run its own tokenizer class.")


def write_qwen2_bpe(folder: str, core: Any, added: tuple[tuple[str, bool], ...], specials: dict[str, str],
                    tokenizer_class: str, auto_map: str, chat_template: str, extra: dict[str, Any]) -> None:
    """Write a trained ``tokenizers`` BPE ``core`` as a hub slow-tokenizer folder: ``vocab.json``,
    ``merges.txt``, ``tokenizer_config.json`` (``added_tokens_decoder`` after the BPE ids, ``auto_map`` to the
    remote class, the chat template) and ``special_tokens_map.json``; no ``tokenizer.json``."""
    os.makedirs(folder, exist_ok=True)
    core.model.save(folder)
    base = core.get_vocab_size(with_added_tokens=False)
    decoder = {str(base + i): {"content": token, "lstrip": False, "normalized": False, "rstrip": False,
                               "single_word": False, "special": special}
               for i, (token, special) in enumerate(added)}
    extras = [t for t, special in added if special and t not in specials.values()]
    config = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
              "additional_special_tokens": extras,
              "auto_map": {"AutoTokenizer": [auto_map, None]}, **specials, "chat_template": chat_template,
              "clean_up_tokenization_spaces": False, "errors": "replace", "model_max_length": 131072,
              "split_special_tokens": False, "tokenizer_class": tokenizer_class, "unk_token": None, **extra}
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2, ensure_ascii=False)
    special_map = {**specials, "additional_special_tokens": extras}
    with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8") as handle:
        json.dump(special_map, handle, indent=2, ensure_ascii=False)


def write_tokenizer_json(folder: str) -> None:
    """Add the ``tokenizer.json`` of a folder's Qwen2 BPE files (SDAR ships both formats)."""
    import transformers

    transformers.Qwen2Tokenizer.from_pretrained(folder).backend_tokenizer.save(os.path.join(folder, "tokenizer.json"))
