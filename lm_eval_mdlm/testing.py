"""Tiny random-weight masked LMs saved in Hugging Face format, for tests, benchmarks and trying out.

They are real checkpoints (``save_pretrained`` folders with a tokenizer, special tokens and a chat
template) that every code path loads with ``from_pretrained``, but they know nothing: outputs are
arbitrary yet deterministic, which is what batch-invariance and closed-form tests need.
"""

from __future__ import annotations

import os
from typing import Any

SPECIAL_TOKENS = {"pad_token": "<pad>", "mask_token": "<mask>", "eos_token": "<eos>", "bos_token": "<bos>",
                  "unk_token": "<unk>"}
CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)
_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Question: what is 12 plus 30? Answer: 42",
    "Alice Smith, Bob Jones, Carol White are waiting in line.",
    "Copy the list: [1, 2, 3] -> [1, 2, 3]",
    "<user>hello\n<assistant>hi there",
]


def build_tokenizer(vocab_size: int = 320):
    """A byte-level BPE tokenizer (covers any text) with our special tokens and a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **SPECIAL_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(path: str, arch: str = "bert", seed: int = 0, hidden: int = 32, layers: int = 2,
                     max_positions: int = 512, init_std: float = 0.02, tokenizer: Any = None) -> str:
    """Save a random-weight masked LM of ``arch`` (``bert`` or ``modernbert``) and its tokenizer.

    A large ``init_std`` (e.g. 1.0) gives peaked predictions, so confidence-based strategies commit
    several tokens per step; the default gives near-uniform ones. ``tokenizer`` replaces our tiny
    byte-level one (it needs pad, mask, eos and bos tokens).
    """
    import torch
    import transformers

    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    vocab = len(tokenizer)
    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in SPECIAL_TOKENS.items()}
    torch.manual_seed(seed)
    common = dict(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                  intermediate_size=2 * hidden, max_position_embeddings=max_positions,
                  pad_token_id=ids["pad_token"], initializer_range=init_std)
    if arch == "bert":
        model = transformers.BertForMaskedLM(transformers.BertConfig(**common))
    elif arch == "modernbert":
        model = transformers.ModernBertForMaskedLM(transformers.ModernBertConfig(
            **common, bos_token_id=ids["bos_token"], eos_token_id=ids["eos_token"],
            cls_token_id=ids["bos_token"], sep_token_id=ids["eos_token"], mask_token_id=ids["mask_token"],
            global_attn_every_n_layers=1, local_attention=max_positions))
    else:
        raise ValueError(f"arch={arch!r} is unknown; valid values: bert, modernbert.")
    tokenizer.model_max_length = max_positions
    os.makedirs(path, exist_ok=True)
    model.eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
